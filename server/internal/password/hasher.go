// Package password hashes and verifies account passwords with argon2id
// (SEC-01), bounds how many hashes run at once (SEC-06), makes unknown users
// cost as much as known ones (SEC-04) and checks new passwords against the
// policy (SEC-02, SEC-03).
//
// Nothing in this package puts a password, or a stored hash, into an error
// message.
package password

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/alexedwards/argon2id"
)

var (
	// ErrMalformedHash is wrapped by Verify when the stored string is not an
	// argon2id PHC string this package can check, or its parameters are out
	// of the sane range (a corrupt row must not make us allocate gigabytes).
	ErrMalformedHash = errors.New("password: malformed hash")

	// ErrTooLong is returned by Hash for a password over MaxBytes. Passwords
	// are capped, never truncated (SEC-02); Validate reports the same limit
	// to users as a *PolicyError.
	ErrTooLong = errors.New("password: longer than the maximum length")

	// ErrInvalidParams is wrapped by NewHasher and Params.Validate.
	ErrInvalidParams = errors.New("password: invalid argon2id parameters")
)

// Bounds on parameters, both for new hashes and for stored ones: argon2
// panics on zero iterations or lanes, and a stored hash claiming
// m=4294967295 would try to allocate 4 TiB.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB per hash
	maxIterations = 64
	minSaltLength = 8 // RFC 9106 §3.1 minimum; 16 is what we write
	maxSaltLength = 64
	minKeyLength  = 16
	maxKeyLength  = 128
	// maxHashLength bounds the input to the parser; a PHC string with the
	// largest allowed salt and key is well under this.
	maxHashLength = 512
)

// Params are argon2id's cost parameters and output sizes.
type Params struct {
	MemoryKiB   uint32 // memory per hash, in KiB
	Iterations  uint32 // passes over memory (t)
	Parallelism uint8  // lanes (p); one lane keeps one hash on one core
	SaltLength  uint32 // random salt bytes, fresh for every hash
	KeyLength   uint32 // derived key bytes
}

// DefaultParams returns OWASP's first recommended argon2id configuration
// (m=19 MiB, t=2, p=1) with a 16-byte salt and a 32-byte key (SEC-01).
func DefaultParams() Params {
	return Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Validate reports parameters argon2 cannot run with or that are outside the
// range this package accepts. It does not judge strength: choosing at least
// DefaultParams in production is configuration's job.
func (p Params) Validate() error {
	var problems []string
	if p.Parallelism < 1 {
		problems = append(problems, "parallelism must be at least 1")
	}
	if p.Iterations < 1 || p.Iterations > maxIterations {
		problems = append(problems, fmt.Sprintf("iterations must be 1..%d", maxIterations))
	}
	if p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB {
		problems = append(problems, fmt.Sprintf("memory must be 8*parallelism..%d KiB", maxMemoryKiB))
	}
	if p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength {
		problems = append(problems, fmt.Sprintf("salt length must be %d..%d bytes", minSaltLength, maxSaltLength))
	}
	if p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength {
		problems = append(problems, fmt.Sprintf("key length must be %d..%d bytes", minKeyLength, maxKeyLength))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidParams, strings.Join(problems, "; "))
	}
	return nil
}

func (p Params) lib() *argon2id.Params {
	return &argon2id.Params{
		Memory:      p.MemoryKiB,
		Iterations:  p.Iterations,
		Parallelism: p.Parallelism,
		SaltLength:  p.SaltLength,
		KeyLength:   p.KeyLength,
	}
}

// Hasher hashes and verifies passwords with fixed parameters, running at
// most a fixed number of argon2id computations at once. Each computation
// holds Params.MemoryKiB of memory, so the bound is what keeps a login flood
// from exhausting memory (SEC-06): excess callers queue until a slot frees
// or their context ends. A Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	slots  chan struct{} // a buffered channel used as a counting semaphore
	dummy  string        // PHC string of a random password, for VerifyDummy

	inFlight atomic.Int64
	waiting  atomic.Int64

	// onCompute, when set by a test, runs while holding a slot just before
	// each argon2id computation, so tests can count computations and
	// observe concurrency.
	onCompute func()
}

// NewHasher returns a Hasher writing hashes with p and running at most
// maxConcurrent hashes at once; maxConcurrent <= 0 means
// runtime.GOMAXPROCS(0), one hash per usable core, which keeps the CPU busy
// without queuing work inside the scheduler. It computes one hash (the dummy
// for VerifyDummy), so it costs as much as a Hash call.
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("password: dummy secret: %w", err)
	}
	// The dummy's password is random and then forgotten, so nothing can
	// ever verify against it.
	dummy, err := argon2id.CreateHash(base64.RawStdEncoding.EncodeToString(secret), p.lib())
	if err != nil {
		return nil, fmt.Errorf("password: dummy hash: %w", err)
	}
	return &Hasher{params: p, slots: make(chan struct{}, maxConcurrent), dummy: dummy}, nil
}

// Params returns the parameters new hashes are written with.
func (h *Hasher) Params() Params { return h.params }

// Capacity is the number of hashes that may run at once.
func (h *Hasher) Capacity() int { return cap(h.slots) }

// InFlight is the number of argon2id computations running now.
func (h *Hasher) InFlight() int { return int(h.inFlight.Load()) }

// Waiting is the number of callers queued for a slot now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// Hash returns the argon2id PHC string of password, e.g.
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, with a fresh random salt
// (SEC-01). It waits for a slot (SEC-06) and gives up with ctx's error when
// ctx ends first. A password over MaxBytes is refused with ErrTooLong, never
// truncated (SEC-02).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxBytes {
		return "", ErrTooLong
	}
	var phc string
	var err error
	if werr := h.withSlot(ctx, func() { phc, err = argon2id.CreateHash(password, h.params.lib()) }); werr != nil {
		return "", werr
	}
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return phc, nil
}

// Verify reports whether password matches the stored PHC string. A mismatch
// is ok=false with a nil error; err is set only for a malformed stored hash
// (wrapping ErrMalformedHash) or when ctx ends while waiting for a slot.
// needsRehash is true when the password matched and the stored hash was made
// with parameters other than h's, so the caller should store a fresh Hash of
// the password it now knows to be right (SEC-01 upgrades on login).
//
// A password over MaxBytes can never have been stored, so it is answered
// false without hashing; VerifyDummy does the same, so this reveals nothing
// about the account.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok, needsRehash bool, err error) {
	stored, err := decode(phc)
	if err != nil {
		return false, false, err
	}
	if len(password) > MaxBytes {
		return false, false, nil
	}
	var cerr error
	if werr := h.withSlot(ctx, func() { ok, _, cerr = argon2id.CheckHash(password, phc) }); werr != nil {
		return false, false, werr
	}
	if cerr != nil { // decode already accepted phc, so this is not expected
		return false, false, fmt.Errorf("%w: %w", ErrMalformedHash, cerr)
	}
	return ok, ok && stored != h.params, nil
}

// VerifyDummy does the work of Verify against a hash made at construction
// with h's parameters, and never matches. Call it when the account does not
// exist (or cannot log in) so that the answer takes as long as a wrong
// password for a real account (SEC-04). It returns an error only when ctx
// ends while waiting for a slot, as Verify would, so both paths can be
// handled alike.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// withSlot runs work holding one of h's slots. It waits for the slot no
// longer than ctx allows, and does not start work for a caller whose ctx has
// already ended: argon2 cannot be interrupted once started, and a cancelled
// login should not cost 19 MiB and tens of milliseconds.
func (h *Hasher) withSlot(ctx context.Context, work func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: wait for hashing slot: %w", err)
	}
	select {
	case h.slots <- struct{}{}:
	default:
		h.waiting.Add(1)
		select {
		case h.slots <- struct{}{}:
			h.waiting.Add(-1)
		case <-ctx.Done():
			h.waiting.Add(-1)
			return fmt.Errorf("password: wait for hashing slot: %w", ctx.Err())
		}
	}
	defer func() { <-h.slots }()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: wait for hashing slot: %w", err)
	}
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	if h.onCompute != nil {
		h.onCompute()
	}
	work()
	return nil
}

// decode parses a stored argon2id PHC string strictly: the library's parser
// tolerates trailing text after numbers and ignores what precedes the first
// '$', and does not bound the parameters, so we check both here.
func decode(phc string) (Params, error) {
	if len(phc) > maxHashLength {
		return Params{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxHashLength)
	}
	lp, _, _, err := argon2id.DecodeHash(phc)
	if err != nil {
		return Params{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	p := Params{
		MemoryKiB:   lp.Memory,
		Iterations:  lp.Iterations,
		Parallelism: lp.Parallelism,
		SaltLength:  lp.SaltLength,
		KeyLength:   lp.KeyLength,
	}
	// DecodeHash has checked there are exactly six '$'-separated fields.
	fields := strings.Split(phc, "$")
	if fields[0] != "" || fields[2] != "v=19" ||
		fields[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Iterations, p.Parallelism) {
		return Params{}, fmt.Errorf("%w: not in canonical PHC form", ErrMalformedHash)
	}
	if err := p.Validate(); err != nil {
		return Params{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return p, nil
}
