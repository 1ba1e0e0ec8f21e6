#!/usr/bin/env bash
# Usage: scripts/screenshots.sh [out-dir]      (make screenshots; default out-dir docs/screenshots)
# Starts the real gatehouse binary on a fresh SQLite directory with a bootstrap admin, seeds it
# (scripts/demoseed), runs the desktop console under Xvfb with its hidden --screenshot-tour,
# which signs in and visits every screen, and writes one PNG per screen. It installs nothing:
# when a tool or library is missing it says which Debian package provides it and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/screenshots}

missing=()
command -v Xvfb >/dev/null || missing+=("Xvfb (Debian package xvfb)")
command -v curl >/dev/null || missing+=("curl (Debian package curl)")
command -v import >/dev/null || missing+=("ImageMagick's import, which captures the window (Debian package imagemagick)")
command -v gcc >/dev/null || missing+=("a C compiler for cgo (Debian packages gcc libc6-dev)")
[ -e /usr/include/GL/gl.h ] || missing+=("OpenGL headers (Debian package libgl1-mesa-dev)")
for h in X11/Xlib.h X11/Xcursor/Xcursor.h X11/extensions/Xrandr.h X11/extensions/Xinerama.h X11/extensions/XInput2.h X11/extensions/xf86vmode.h; do
  [ -e "/usr/include/$h" ] || missing+=("X11 header $h (Debian packages libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev)")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "screenshots: missing, install them first:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> building the server, the load tool, the seeder and the console"
make -s build >/dev/null
go build -o "$work/demoseed" ./scripts/demoseed
go build -o "$work/console" ./desktop/cmd/console

port=$(bin/load -free-port)
url="http://127.0.0.1:$port"
export GATEHOUSE_ADMIN_EMAIL="officer@example.com"
GATEHOUSE_ADMIN_PASSWORD="screenshot-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
export GATEHOUSE_ADMIN_PASSWORD
people_password="demo-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"

echo "==> gatehouse serve on $url (SQLite in $work/data)"
# The seeder signs in some forty times from one address: lift the per-IP login limit (SEC-05).
(cd "$work" && GATEHOUSE_ADDR=127.0.0.1:$port GATEHOUSE_LOG_LEVEL=warn GATEHOUSE_LOGIN_RATE_PER_IP=1000 exec "$OLDPWD/bin/gatehouse" serve >"$work/server.log" 2>&1) &
pids+=("$!")
for _ in $(seq 1 100); do curl -fsS "$url/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$url/readyz" >/dev/null || { echo "screenshots: the server did not become ready"; tail -n 30 "$work/server.log"; exit 1; }

echo "==> seeding people, factors, devices, sessions and events"
"$work/demoseed" -server "$url" -people-password "$people_password"

echo "==> light load on /readyz for the pool chart (loopback, bounded to 90 s)"
bin/load -c 6 -d 90s -warmup 0s "$url/readyz" >/dev/null 2>&1 &
pids+=("$!")

display=":$(( 90 + RANDOM % 100 ))"
echo "==> Xvfb $display, console --screenshot-tour $out"
# The screen is the window's size (the console's default 1280×800), so the root is the window.
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
pids+=("$!")
sleep 1
mkdir -p "$out"
# A throwaway home keeps the console's preferences (window size, theme, profiles) out of yours.
# The tour prints "shot <file>" when a screen is ready and waits for a line back.
coproc TOUR {
  HOME="$work/home" DISPLAY="$display" LANG=en_US.UTF-8 \
    GATEHOUSE_CONSOLE_SERVER="$url" GATEHOUSE_CONSOLE_EMAIL="$GATEHOUSE_ADMIN_EMAIL" GATEHOUSE_CONSOLE_PASSWORD="$GATEHOUSE_ADMIN_PASSWORD" \
    GATEHOUSE_TOUR_USER="alice.liddell@example.com" GATEHOUSE_TOUR_SECRET="billing/prod/db-password" GATEHOUSE_TOUR_PROVIDER="google" \
    GATEHOUSE_TOUR_MFA_EMAIL="grace.hopper@example.com" GATEHOUSE_TOUR_MFA_PASSWORD="$people_password" \
    exec "$work/console" --screenshot-tour "$out" 2>"$work/console.log"
}
tour_pid=$TOUR_PID
while IFS= read -r line <&"${TOUR[0]}"; do
  case "$line" in
    "shot "*)
      file=${line#shot }
      import -display "$display" -window root "$file"
      echo "wrote $file"
      echo ok >&"${TOUR[1]}"
      ;;
    *) echo "$line" ;;
  esac
done
rc=0
wait "$tour_pid" || rc=$?
if [ "$rc" != 0 ]; then
  echo "screenshots: the console's tour failed (exit $rc):"; cat "$work/console.log"; exit 1
fi
echo "==> done: $(ls "$out"/*.png | wc -l) screenshots in $out"
