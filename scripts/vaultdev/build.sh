#!/usr/bin/env bash
# Builds scripts/vaultdev (a real in-memory Vault core, see main.go) once per content and
# prints the binary's path on stdout; progress goes to stderr. The binary is cached under
# $TOOLS_DIR (default ~/.cache/gatehouse-tools) as vaultdev-<hash of go.mod, go.sum, *.go, this script and
# the Go version>, so CI and the test helper reuse it: a cold build takes minutes, a cached one
# a moment. Its own module, outside go.work: always GOWORK=off.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
cache="${TOOLS_DIR:-$HOME/.cache/gatehouse-tools}"
sum() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi; } # macOS has shasum
hash=$( { cat "$dir/go.mod" "$dir/go.sum" "$dir"/*.go "$dir/build.sh"; go version; } | sum | cut -c1-16)
bin="$cache/vaultdev-$hash"
mkdir -p "$cache"
if [ ! -x "$bin" ]; then
  # One build at a time: test packages may ask for it concurrently (flock is util-linux;
  # without it concurrent builds still end well, each renaming its own finished binary).
  if command -v flock >/dev/null; then
    exec 9>"$cache/vaultdev.lock"
    flock 9
  fi
  if [ ! -x "$bin" ]; then
    echo "==> building vaultdev into $bin (GOWORK=off; a cold build takes several minutes)" >&2
    tmp="$bin.tmp.$$"
    (cd "$dir" && GOWORK=off CGO_ENABLED=0 go build -buildvcs=false -trimpath -o "$tmp" .)
    mv -f "$tmp" "$bin"
    # Older builds (other hashes) are 150 MB each: keep only this one.
    find "$cache" -maxdepth 1 -type f -name 'vaultdev-*' ! -name "$(basename "$bin")" ! -name '*.tmp.*' -delete
  fi
fi
echo "$bin"
