// Package secretstest is the conformance suite every secrets.Backend runs (in the spirit of
// Vault's physical.ExerciseBackend): one set of behaviours, checked the same way against the
// encrypted database, the environment, a real Vault core and the cloud services' loopback
// protocol servers.
//
// Call it from the backend's own test, once per configuration worth checking:
//
//	func TestConformance(t *testing.T) {
//		b := newBackend(t)
//		secretstest.Exercise(t, b, secretstest.Options{})
//	}
//
// What runs depends on the capabilities b implements:
//
//   - always: an unknown name is ErrNotFound; a stored value reads back byte for byte (all 256
//     byte values, 64 KiB values, path-like names with slashes); names differing only by '/'
//     versus '-', '_' or '.', or only by letter case, never collide; a name may be a prefix of
//     another; a version the backend never returned is ErrVersionNotFound; Health is nil.
//   - secrets.Writer: every Put makes a new version with its own identifier; the newest and any
//     older version read back; 16 concurrent Puts lose no version.
//   - secrets.Versioner: Versions lists the puts, oldest first.
//   - secrets.Deleter: a deleted secret is ErrNotFound (newest and by version), deleting an
//     unknown one is ErrNotFound, and the name can be used again.
//   - secrets.Stager: Promote accepts a known version and refuses unknown ones.
//
// Read-only backends (no Writer) are filled through Options.Seed, which must make the value
// visible to b exactly as an operator would (for env: set the variable b reads).
//
// Every name the suite uses starts with Options.Prefix plus a random run ID, so the suite can
// run against shared or persistent backends (a long-lived Vault, say) without clashing with
// earlier runs or parallel ones. The suite never deletes what it did not create, and deletes
// what it created only through Deleter (when b has it).
//
// Failure messages name sizes and SHA-256 prefixes, never value bytes, so a real backend's
// run never prints a stored value.
package secretstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/secrets"
)

// DefaultMaxNameBytes is the service's name limit; DefaultMaxValueBytes its default value
// limit. The suite stores a name and a value of exactly these sizes unless Options lowers them.
const (
	DefaultMaxNameBytes  = 512
	DefaultMaxValueBytes = 64 << 10
	// DefaultConcurrency is how many goroutines Put at once in the concurrency check.
	DefaultConcurrency = 16
	// DefaultTimeout bounds each backend call.
	DefaultTimeout = 30 * time.Second
)

// Options tunes Exercise. The zero value suits a writable backend.
type Options struct {
	// Seed stores value under name so that b serves it. Required when b does not implement
	// secrets.Writer (and then it is the only way values get in); ignored otherwise. Seed
	// should fail t itself on error. Seeding the same name twice replaces the value.
	Seed func(t *testing.T, name string, value []byte)

	// Prefix starts every name the suite uses (default "secretstest"). A random run ID and
	// the check's own path follow it, so names are unique per run.
	Prefix string

	// MaxNameBytes is the longest name the suite stores; 0 means DefaultMaxNameBytes. A
	// backend that cannot hold names that long must set its real limit here AND report it to
	// the service through secrets.NameLimiter, so the service refuses longer names up front.
	MaxNameBytes int

	// MaxValueBytes is the largest value the suite stores; 0 means DefaultMaxValueBytes.
	MaxValueBytes int

	// Concurrency is the number of concurrent Puts; 0 means DefaultConcurrency.
	Concurrency int

	// Timeout bounds each backend call; 0 means DefaultTimeout.
	Timeout time.Duration

	// UnknownVersions are version identifiers the suite expects ErrVersionNotFound for on an
	// existing secret. Default: "999999999", a well-formed UUID and "no-such-version", which
	// covers integer (Vault, GCP, db), UUID (AWS) and opaque (Azure) schemes: a backend maps
	// every version it does not hold, malformed or not, to ErrVersionNotFound.
	UnknownVersions []string
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "secretstest"
	}
	if o.MaxNameBytes == 0 {
		o.MaxNameBytes = DefaultMaxNameBytes
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if len(o.UnknownVersions) == 0 {
		o.UnknownVersions = []string{"999999999", "00000000-0000-4000-8000-000000000000", "no-such-version"}
	}
	return o
}

// Exercise runs the conformance suite against b as subtests of t.
func Exercise(t *testing.T, b secrets.Backend, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	w, writable := b.(secrets.Writer)
	if !writable && opts.Seed == nil {
		t.Fatal("secretstest: backend has no Writer and Options.Seed is nil: the suite cannot store values")
	}
	x := &exerciser{b: b, w: w, opts: opts, root: opts.Prefix + "/" + runID(t)}
	if !knownKind(b.Kind()) {
		t.Errorf("Kind() = %q, want one of the secrets.Kind constants", b.Kind())
	}

	t.Run("Health", x.health)
	t.Run("UnknownName", x.unknownName)
	t.Run("StoreAndGet", x.storeAndGet)
	t.Run("UnknownVersion", x.unknownVersion)
	t.Run("BinarySafe", x.binarySafe)
	t.Run("LargeValue", x.largeValue)
	t.Run("PathLikeNames", x.pathLikeNames)
	t.Run("LongName", x.longName)
	t.Run("NoCollisions", x.noCollisions)
	t.Run("NamePrefixOfAnother", x.prefixOfAnother)
	if writable {
		t.Run("Writer/VersionsKept", x.versionsKept)
		t.Run("Writer/ConcurrentPuts", x.concurrentPuts)
	}
	if _, ok := b.(secrets.Versioner); ok {
		t.Run("Versioner/OldestFirst", x.versionerOldestFirst)
		t.Run("Versioner/UnknownName", x.versionerUnknown)
	}
	if _, ok := b.(secrets.Deleter); ok {
		t.Run("Deleter/Delete", x.deleteRemoves)
		t.Run("Deleter/UnknownName", x.deleteUnknown)
		if writable {
			t.Run("Deleter/ReuseName", x.deleteThenReuse)
		}
	}
	if _, ok := b.(secrets.Stager); ok {
		t.Run("Stager/Promote", x.promote)
	}
}

type exerciser struct {
	b    secrets.Backend
	w    secrets.Writer // nil for read-only backends
	opts Options
	root string
}

func knownKind(k string) bool {
	switch k {
	case secrets.KindDB, secrets.KindEnv, secrets.KindVault, secrets.KindAWS, secrets.KindAzure, secrets.KindGCP:
		return true
	}
	return false
}

// runID is random per Exercise call, so persistent backends see fresh names each run.
func runID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "run-" + hex.EncodeToString(b)
}

// name returns a unique name under the run's root for the current subtest.
func (x *exerciser) name(t *testing.T, suffix string) string {
	t.Helper()
	sub := t.Name()
	if i := strings.LastIndexByte(sub, '/'); i >= 0 {
		sub = sub[i+1:]
	}
	return x.root + "/" + sanitize(sub) + "/" + suffix
}

// sanitize keeps a subtest name inside the name alphabet.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

func (x *exerciser) ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), x.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// store puts value (Writer) or seeds it (read-only) and returns the version the backend
// reports for it ("" when seeded: read it back to learn it).
func (x *exerciser) store(t *testing.T, name string, value []byte) string {
	t.Helper()
	if x.w == nil {
		x.opts.Seed(t, name, value)
		return ""
	}
	v, err := x.w.Put(x.ctx(t), name, value)
	if err != nil {
		t.Fatalf("Put(%q, %s): %v", name, describe(value), err)
	}
	if v == "" {
		t.Fatalf("Put(%q): returned an empty version", name)
	}
	return v
}

// mustGet reads name at version and checks the value and, when known, the version.
func (x *exerciser) mustGet(t *testing.T, name, version string, want []byte) secrets.Value {
	t.Helper()
	got, err := x.b.Get(x.ctx(t), name, version)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", name, version, err)
	}
	if !bytes.Equal(got.Data, want) {
		t.Fatalf("Get(%q, %q) = %s, want %s", name, version, describe(got.Data), describe(want))
	}
	if got.Version == "" {
		t.Fatalf("Get(%q, %q): empty Version in the answer", name, version)
	}
	if version != "" && got.Version != version {
		t.Fatalf("Get(%q, %q): answered version %q", name, version, got.Version)
	}
	return got
}

// describe names a value without showing it.
func describe(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes (sha256 %s…)", len(b), hex.EncodeToString(sum[:6]))
}

func randomValue(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Fatalf("%s: err = %v, want %v", what, err, targets)
}

func (x *exerciser) health(t *testing.T) {
	if err := x.b.Health(x.ctx(t)); err != nil {
		t.Fatalf("Health: %v", err)
	}
}

func (x *exerciser) unknownName(t *testing.T) {
	name := x.name(t, "never-stored")
	_, err := x.b.Get(x.ctx(t), name, "")
	wantErr(t, "Get(unknown name, newest)", err, secrets.ErrNotFound)
	// With a version the backend may answer either: the name is unknown, so is the version.
	_, err = x.b.Get(x.ctx(t), name, "1")
	wantErr(t, "Get(unknown name, \"1\")", err, secrets.ErrNotFound, secrets.ErrVersionNotFound)
}

func (x *exerciser) storeAndGet(t *testing.T) {
	name := x.name(t, "plain")
	want := []byte("s3cr3t value with spaces, ünïcödé and a newline\n")
	v := x.store(t, name, want)
	got := x.mustGet(t, name, "", want)
	if v != "" && got.Version != v {
		t.Fatalf("Get newest answered version %q, Put returned %q", got.Version, v)
	}
	// The version the backend names reads back too.
	x.mustGet(t, name, got.Version, want)
}

func (x *exerciser) unknownVersion(t *testing.T) {
	name := x.name(t, "plain")
	x.store(t, name, []byte("only version"))
	known := x.mustGet(t, name, "", []byte("only version")).Version
	for _, v := range x.opts.UnknownVersions {
		if v == known {
			continue
		}
		_, err := x.b.Get(x.ctx(t), name, v)
		wantErr(t, fmt.Sprintf("Get(%q, unknown version %q)", name, v), err, secrets.ErrVersionNotFound)
	}
}

func (x *exerciser) binarySafe(t *testing.T) {
	name := x.name(t, "all-bytes")
	all := make([]byte, 0, 512)
	for i := range 256 {
		all = append(all, byte(i))
	}
	for i := range 256 { // and backwards, so NUL and 0xFF also sit mid-value
		all = append(all, byte(255-i))
	}
	x.store(t, name, all)
	x.mustGet(t, name, "", all)
}

func (x *exerciser) largeValue(t *testing.T) {
	name := x.name(t, "large")
	want := randomValue(t, x.opts.MaxValueBytes)
	x.store(t, name, want)
	x.mustGet(t, name, "", want)
}

func (x *exerciser) pathLikeNames(t *testing.T) {
	for i, suffix := range []string{"a/b/c", "billing/prod/db-password", "x.y/z_w/v-1", "UPPER/Mixed/lower"} {
		name := x.name(t, suffix)
		want := fmt.Appendf(nil, "path-like value %d", i)
		x.store(t, name, want)
		x.mustGet(t, name, "", want)
	}
}

func (x *exerciser) longName(t *testing.T) {
	base := x.name(t, "") // ends in '/'
	if x.opts.MaxNameBytes-len(base) < 1 {
		t.Fatalf("MaxNameBytes %d leaves no room after the prefix %q", x.opts.MaxNameBytes, base)
	}
	// Segments of at most 61 characters stay within common per-segment limits.
	var sb strings.Builder
	sb.WriteString(base)
	seg := 0
	for sb.Len() < x.opts.MaxNameBytes {
		if seg >= 60 && x.opts.MaxNameBytes-sb.Len() >= 2 {
			sb.WriteByte('/')
			seg = 0
			continue
		}
		sb.WriteByte("abcdefghijklmnopqrstuvwxyz"[sb.Len()%26])
		seg++
	}
	name := sb.String()
	want := []byte("long name value")
	x.store(t, name, want)
	x.mustGet(t, name, "", want)
}

// noCollisions stores distinct values under names that an encoding of '/' as '-', '_' or '.',
// or a case-folding one, would map onto each other, then reads every one back.
func (x *exerciser) noCollisions(t *testing.T) {
	suffixes := []string{"a/b", "a-b", "a_b", "a.b", "A/b", "a/B", "ab", "a--b", "a__b", "a/-b", "a-/b", "a/_b", "a/.b"}
	names := make([]string, len(suffixes))
	values := make([][]byte, len(suffixes))
	for i, s := range suffixes {
		names[i] = x.name(t, s)
		values[i] = fmt.Appendf(nil, "value of %s", s)
		x.store(t, names[i], values[i])
	}
	for i := range names {
		x.mustGet(t, names[i], "", values[i])
	}
}

// prefixOfAnother: "p/a" and "p/a/b" are two secrets (a path may be a secret and a folder).
func (x *exerciser) prefixOfAnother(t *testing.T) {
	parent, child := x.name(t, "a"), x.name(t, "a/b")
	x.store(t, parent, []byte("parent"))
	x.store(t, child, []byte("child"))
	x.mustGet(t, parent, "", []byte("parent"))
	x.mustGet(t, child, "", []byte("child"))
}

func (x *exerciser) versionsKept(t *testing.T) {
	name := x.name(t, "versions")
	var versions []string
	var values [][]byte
	for i := range 4 {
		val := fmt.Appendf(nil, "version %d", i)
		v := x.store(t, name, val)
		for _, seen := range versions {
			if seen == v {
				t.Fatalf("Put %d returned version %q, already returned by an earlier Put", i, v)
			}
		}
		versions, values = append(versions, v), append(values, val)
		x.mustGet(t, name, "", val) // the newest is the one just put
	}
	for i, v := range versions {
		x.mustGet(t, name, v, values[i])
	}
}

func (x *exerciser) concurrentPuts(t *testing.T) {
	name := x.name(t, "concurrent")
	n := x.opts.Concurrency
	versions := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	ctx := x.ctx(t)
	for i := range n {
		wg.Go(func() {
			<-start
			versions[i], errs[i] = x.w.Put(ctx, name, fmt.Appendf(nil, "writer %d", i))
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Put %d: %v", i, errs[i])
		}
		if j, dup := seen[versions[i]]; dup {
			t.Fatalf("concurrent Puts %d and %d both got version %q: a version was lost", j, i, versions[i])
		}
		seen[versions[i]] = i
	}
	for i := range n {
		x.mustGet(t, name, versions[i], fmt.Appendf(nil, "writer %d", i))
	}
	if vr, ok := x.b.(secrets.Versioner); ok {
		list, err := vr.Versions(x.ctx(t), name)
		if err != nil {
			t.Fatalf("Versions: %v", err)
		}
		if len(list) != n {
			t.Fatalf("Versions lists %d versions after %d concurrent Puts", len(list), n)
		}
		for _, vi := range list {
			if _, ok := seen[vi.Version]; !ok {
				t.Fatalf("Versions lists %q, which no Put returned", vi.Version)
			}
		}
	}
}

func (x *exerciser) versionerOldestFirst(t *testing.T) {
	vr := x.b.(secrets.Versioner)
	name := x.name(t, "listed")
	var want []string
	for i := range 3 {
		v := x.store(t, name, fmt.Appendf(nil, "listed %d", i))
		if v == "" { // seeded: learn the version by reading
			v = x.mustGet(t, name, "", fmt.Appendf(nil, "listed %d", i)).Version
		}
		want = append(want, v)
	}
	list, err := vr.Versions(x.ctx(t), name)
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	if x.w == nil {
		// A read-only backend may keep only what the seed left; it must list what it serves.
		if len(list) == 0 || list[len(list)-1].Version != want[len(want)-1] {
			t.Fatalf("Versions = %v, want the served version %q last", versionIDs(list), want[len(want)-1])
		}
		return
	}
	got := versionIDs(list)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Versions = %v, want %v (oldest first)", got, want)
	}
	for i := 1; i < len(list); i++ {
		if !list[i].CreatedAt.IsZero() && list[i].CreatedAt.Before(list[i-1].CreatedAt) {
			t.Fatalf("Versions not oldest first: %v", list)
		}
	}
}

func (x *exerciser) versionerUnknown(t *testing.T) {
	_, err := x.b.(secrets.Versioner).Versions(x.ctx(t), x.name(t, "never-stored"))
	wantErr(t, "Versions(unknown name)", err, secrets.ErrNotFound)
}

func versionIDs(list []secrets.VersionInfo) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = v.Version
	}
	return out
}

func (x *exerciser) deleteRemoves(t *testing.T) {
	d := x.b.(secrets.Deleter)
	name, sibling := x.name(t, "doomed"), x.name(t, "doomed-sibling")
	x.store(t, name, []byte("first"))
	x.store(t, name, []byte("second"))
	x.store(t, sibling, []byte("sibling"))
	old := x.mustGet(t, name, "", []byte("second")).Version
	if err := d.Delete(x.ctx(t), name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := x.b.Get(x.ctx(t), name, "")
	wantErr(t, "Get after Delete", err, secrets.ErrNotFound)
	_, err = x.b.Get(x.ctx(t), name, old)
	wantErr(t, "Get(version) after Delete", err, secrets.ErrNotFound, secrets.ErrVersionNotFound)
	if vr, ok := x.b.(secrets.Versioner); ok {
		_, err := vr.Versions(x.ctx(t), name)
		wantErr(t, "Versions after Delete", err, secrets.ErrNotFound)
	}
	// Only that secret went.
	x.mustGet(t, sibling, "", []byte("sibling"))
	err = d.Delete(x.ctx(t), name)
	wantErr(t, "second Delete", err, secrets.ErrNotFound)
}

func (x *exerciser) deleteUnknown(t *testing.T) {
	err := x.b.(secrets.Deleter).Delete(x.ctx(t), x.name(t, "never-stored"))
	wantErr(t, "Delete(unknown name)", err, secrets.ErrNotFound)
}

// deleteThenReuse: a purged name can be created again (a secret deleted and made anew).
func (x *exerciser) deleteThenReuse(t *testing.T) {
	name := x.name(t, "reborn")
	x.store(t, name, []byte("before"))
	if err := x.b.(secrets.Deleter).Delete(x.ctx(t), name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	v := x.store(t, name, []byte("after"))
	x.mustGet(t, name, "", []byte("after"))
	x.mustGet(t, name, v, []byte("after"))
}

func (x *exerciser) promote(t *testing.T) {
	st := x.b.(secrets.Stager)
	name := x.name(t, "staged")
	x.store(t, name, []byte("one"))
	first := x.mustGet(t, name, "", []byte("one")).Version
	x.store(t, name, []byte("two"))
	second := x.mustGet(t, name, "", []byte("two")).Version
	if err := st.Promote(x.ctx(t), name, first); err != nil {
		t.Fatalf("Promote(first): %v", err)
	}
	if err := st.Promote(x.ctx(t), name, second); err != nil {
		t.Fatalf("Promote(second): %v", err)
	}
	// Promoting moves stage labels only: every version stays readable by its identifier.
	x.mustGet(t, name, first, []byte("one"))
	x.mustGet(t, name, second, []byte("two"))
	for _, v := range x.opts.UnknownVersions {
		err := st.Promote(x.ctx(t), name, v)
		wantErr(t, fmt.Sprintf("Promote(unknown version %q)", v), err, secrets.ErrVersionNotFound)
	}
	err := st.Promote(x.ctx(t), x.name(t, "never-stored"), first)
	wantErr(t, "Promote(unknown name)", err, secrets.ErrNotFound, secrets.ErrVersionNotFound)
}
