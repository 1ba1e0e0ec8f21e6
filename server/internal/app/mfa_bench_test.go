package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/config"
	secevents "gatehouse/server/internal/events"
	"gatehouse/server/internal/httpapi"
	"gatehouse/server/internal/mfa/totp"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/testenv"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// Second-factor benchmarks (docs/benchmarks.md, "Second factors"). Each op goes over loopback
// HTTP through shared/client to the real server (testenv, in this process), sent by exactly c
// closed-loop clients: each sends its next op as soon as the last one is answered. Figures of
// the final run of each sub-benchmark: req/s, p50-ms and p99-ms (nearest rank over every op),
// errors. They are printed, never asserted; a failed op fails the benchmark after the figures
// are printed, since a verification that did not succeed measured nothing.
//
//	go test -run '^$' -bench 'MFA|TOTP' -benchtime 10s -count 2 -v ./internal/app/
//
// PostgreSQL variants run when GATEHOUSE_TEST_POSTGRES_URL is set. With -v each database also
// prints a table of the reported runs and their ratios to the baselines.

// mfaBenchPassword is every benchmark account's password (>= 12 characters, not common, not
// containing the email's local part).
const mfaBenchPassword = "copper-meadow-lantern-81"

var (
	mfaVerifyClients = []int{8, 32, 64}
	mfaLoginClients  = []int{1, 8}
)

// BenchmarkTOTPVerifyNoDB is the TOTP factor's own work per verification, without the
// database: decrypt the seed with the keyring, compute the codes of the three accepted steps,
// compare. It is what a verification costs beyond its reads and writes.
func BenchmarkTOTPVerifyNoDB(b *testing.B) {
	env := testenv.New(b, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.Log.Level = "warn" }))
	secret := newTOTPSecret(b)
	enc, err := env.App.Keyring.EncryptString(secret)
	if err != nil {
		b.Fatal(err)
	}
	confirmed := time.Now()
	f := totp.New(&memTOTPStore{s: totp.Secret{SecretEnc: enc, ConfirmedAt: &confirmed}}, env.App.Keyring, totp.Options{})
	// The code of the latest accepted step, so every verification computes all three codes
	// (two after a window boundary).
	code, err := totp.CodeAt(secret, totp.Step(time.Now())+1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := f.Verify(ctx, "user", code); err != nil {
			b.Fatal(err)
		}
	}
}

// memTOTPStore holds one secret and accepts every step: Verify's work minus the database.
type memTOTPStore struct{ s totp.Secret }

func (m *memTOTPStore) PutPending(context.Context, string, string, time.Time) error { return nil }
func (m *memTOTPStore) Get(context.Context, string) (totp.Secret, error)            { return m.s, nil }
func (m *memTOTPStore) Confirm(context.Context, string, string, time.Time, int64) (bool, error) {
	return true, nil
}
func (m *memTOTPStore) UseStep(context.Context, string, int64) (bool, error) { return true, nil }
func (m *memTOTPStore) Delete(context.Context, string) (bool, error)         { return true, nil }

// BenchmarkMFAVerify measures TOTP verifications through the API beside the JWT-only baseline
// in the same server and run. The verification is POST /api/v1/auth/step-up {totp, code} on
// a cookie session: the cookie and CSRF check, the factor (seed read, decrypt, three codes,
// the conditional last_step update that makes a code single-use), the second-factor throttle,
// the session rotation to aal2 and two security events. Each simulated user has its own
// session and a forwarded address, and spends at most three codes (steps now-1, now, now+1)
// per 30 s window, in increasing order; the pool holds enough users for every run.
func BenchmarkMFAVerify(b *testing.B) {
	for _, dialect := range testenv.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			f := newMFABenchFixture(b, dialect)
			baseline := f.baselineClient(b)
			pool := &mfaUserPool{}
			var table mfaBenchTable
			stepUps := 0 // successful step-ups so far, to compare with the security events
			// The store-only runs' users: one per client, never sent over HTTP.
			direct := f.makeUsers(b, slices.Max(mfaVerifyClients), true, true)
			for _, c := range mfaVerifyClients {
				jwtLabel := fmt.Sprintf("%s GET /bench/jwt c=%d", dialect, c)
				b.Run(fmt.Sprintf("c=%d/jwt-baseline", c), func(b *testing.B) {
					res := closedLoop(b, jwtLabel, c, func(int) error {
						var out struct {
							Sub string `json:"sub"`
							AAL string `json:"aal"`
						}
						if _, err := baseline.Do(context.Background(), http.MethodGet, "/api/v1/bench/jwt", nil, &out); err != nil {
							return err
						}
						if out.Sub == "" || out.AAL != api.AAL1 {
							return fmt.Errorf("bench/jwt answered %+v", out)
						}
						return nil
					})
					table.put(res)
				})
				storeLabel := fmt.Sprintf("%s step-up statements only c=%d", dialect, c)
				b.Run(fmt.Sprintf("c=%d/store-only", c), func(b *testing.B) {
					res := closedLoop(b, storeLabel, c, func(w int) error { return f.stepUpStatements(direct[w]) })
					stepUps += res.n - res.errors
					table.put(res)
				})
				stepLabel := fmt.Sprintf("%s POST /auth/step-up totp c=%d", dialect, c)
				b.Run(fmt.Sprintf("c=%d/totp-step-up", c), func(b *testing.B) {
					f.refill(b, pool, b.N+3*c, true)
					res := closedLoop(b, stepLabel, c, func(int) error {
						u := pool.take()
						if u == nil {
							return errPoolExhausted
						}
						step, ok := nextStep(u.last, time.Now())
						if !ok {
							pool.put(u)
							return errPoolExhausted
						}
						code, err := totp.CodeAt(u.secret, step)
						if err != nil {
							return err
						}
						res, err := u.c.StepUp(context.Background(), api.FactorTOTP, code)
						if err != nil {
							u.retired = true // the session may or may not have rotated
							return err
						}
						u.last = step
						pool.put(u)
						if res.Status != api.LoginOK || res.AAL != api.AAL2 || res.CSRFToken == "" {
							return fmt.Errorf("step-up answered status %q aal %q", res.Status, res.AAL)
						}
						return nil
					})
					stepUps += res.n - res.errors
					f.checkStepUps(b, pool, stepUps)
					table.put(res)
				})
				table.ratio(stepLabel, jwtLabel)
				table.ratio(stepLabel, storeLabel)
			}
			b.Logf("%s: %d users with TOTP made for the step-up runs\n%s", dialect, len(pool.all), table.String())
		})
	}
}

// BenchmarkMFALogin measures a full browser sign-in with TOTP (POST /api/v1/auth/login →
// mfa_required and the pending cookie → POST /api/v1/auth/mfa/verify {totp, code} → an aal2
// session) beside a plain password sign-in of an account without a factor, in the same
// server and run. Every op is a new browser (a fresh cookie jar). argon2id dominates both.
func BenchmarkMFALogin(b *testing.B) {
	for _, dialect := range testenv.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			f := newMFABenchFixture(b, dialect)
			plain := f.makeUsers(b, slices.Max(mfaLoginClients), false, false)
			pool := &mfaUserPool{}
			var table mfaBenchTable
			for _, c := range mfaLoginClients {
				pwLabel := fmt.Sprintf("%s login password c=%d", dialect, c)
				b.Run(fmt.Sprintf("c=%d/password", c), func(b *testing.B) {
					res := closedLoop(b, pwLabel, c, func(w int) error {
						u := plain[w]
						cl, err := f.newClient(u.ip, nil)
						if err != nil {
							return err
						}
						res, err := cl.Login(context.Background(), u.email, mfaBenchPassword)
						if err != nil {
							return err
						}
						if res.Status != api.LoginOK || res.User == nil || res.User.ID != u.id {
							return fmt.Errorf("password login answered status %q", res.Status)
						}
						return nil
					})
					table.put(res)
				})
				totpLabel := fmt.Sprintf("%s login password+totp c=%d", dialect, c)
				b.Run(fmt.Sprintf("c=%d/password+totp", c), func(b *testing.B) {
					f.refill(b, pool, b.N+3*c, false)
					verify := make([][]time.Duration, c) // the second request alone, per worker
					res := closedLoop(b, totpLabel, c, func(w int) error {
						u := pool.take()
						if u == nil {
							return errPoolExhausted
						}
						step, ok := nextStep(u.last, time.Now())
						if !ok {
							pool.put(u)
							return errPoolExhausted
						}
						cl, err := f.newClient(u.ip, nil)
						if err != nil {
							return err
						}
						ctx := context.Background()
						res, err := cl.Login(ctx, u.email, mfaBenchPassword)
						if err != nil {
							pool.put(u) // no code spent
							return err
						}
						if res.Status != api.LoginMFARequired || !slices.Contains(res.Factors, api.FactorTOTP) {
							return fmt.Errorf("login answered status %q factors %v", res.Status, res.Factors)
						}
						code, err := totp.CodeAt(u.secret, step)
						if err != nil {
							return err
						}
						began := time.Now()
						done, err := cl.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: code})
						verify[w] = append(verify[w], time.Since(began))
						if err != nil {
							u.retired = true // the code may or may not have been spent
							return err
						}
						u.last, u.c = step, cl
						pool.put(u)
						if done.Status != api.LoginOK || done.User == nil || done.User.ID != u.id {
							return fmt.Errorf("mfa verify answered status %q", done.Status)
						}
						return nil
					})
					all := slices.Concat(verify...)
					slices.Sort(all)
					p50, p99 := nearestRank(all, 50), nearestRank(all, 99)
					b.ReportMetric(float64(p50.Microseconds())/1000, "verify-p50-ms")
					b.ReportMetric(float64(p99.Microseconds())/1000, "verify-p99-ms")
					res.note = fmt.Sprintf("POST /auth/mfa/verify alone: p50 %s, p99 %s", ms(p50), ms(p99))
					f.checkLogins(b, pool)
					table.put(res)
				})
				table.ratio(totpLabel, pwLabel)
			}
			b.Logf("%s: %d users with TOTP made for the login runs\n%s", dialect, len(pool.all), table.String())
		})
	}
}

// stepUpStatements makes the database reads and writes of one TOTP step-up, in its order,
// through the same stores and managers, and nothing else: no HTTP, JSON, middleware,
// throttle or TOTP crypto. Its rate is the ceiling the database sets for step-ups. Steps
// only have to increase here (the store does not know the time), so one user per client
// suffices.
func (f *mfaBenchFixture) stepUpStatements(u *mfaBenchUser) error {
	ctx := context.Background()
	a := f.env.App
	sess, err := a.Sessions.Authenticate(ctx, u.tok) // the cookie
	if err != nil {
		return err
	}
	if _, err := a.DB.Users().Get(ctx, u.id); err != nil { // the principal
		return err
	}
	for range 2 { // is the factor enrolled; the seed and last step for Verify
		if _, err := a.DB.TOTP().Get(ctx, u.id); err != nil {
			return err
		}
	}
	u.last++
	ok, err := a.DB.TOTP().UseStep(ctx, u.id, u.last)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("step %d not taken", u.last)
	}
	ev := secevents.Event{Type: api.EventMFAVerified, Outcome: api.OutcomeSuccess, ActorID: u.id, SubjectUserID: u.id, IP: u.ip,
		UserAgent: "gatehouse-mfa-bench", Details: map[string]any{"factor": api.FactorTOTP, "purpose": "step_up"}}
	if err := a.Events.Record(ctx, ev); err != nil {
		return err
	}
	rotated, tok, err := a.Sessions.Rotate(ctx, sess.ID, session.AAL2)
	if err != nil {
		return err
	}
	u.tok = tok
	ev.Type, ev.Details = api.EventMFAStepUp, map[string]any{"session_id": rotated.ID, "factor": api.FactorTOTP}
	return a.Events.Record(ctx, ev)
}

var errPoolExhausted = fmt.Errorf("benchmark user pool exhausted (a harness bug: the pool is refilled before every run)")

// --- fixture: the server and its users -------------------------------------------------------

type mfaBenchFixture struct {
	env  *testenv.Env
	base *url.URL
	tr   *http.Transport // shared by every simulated browser: connections are reused
	hash string          // one argon2id hash of mfaBenchPassword, shared by every account
	made int             // accounts made so far: unique emails and addresses
}

func newMFABenchFixture(b *testing.B, dialect string) *mfaBenchFixture {
	b.Helper()
	env := testenv.New(b, dialect, testenv.WithConfig(func(c *config.Config) {
		c.Log.Level = "warn"
		c.HTTP.BenchEndpoints = true
		// Every simulated user sends its own X-Forwarded-For, as a reverse proxy would: the
		// second-factor limit (30 attempts a minute per IP, SEC-27) and the login limit then
		// apply per user instead of capping the whole benchmark, which comes from 127.0.0.1.
		c.HTTP.TrustedProxies = []string{"127.0.0.1"}
		c.Auth.LoginPerIPPerMin = 60_000
	}))
	base, err := url.Parse(env.URL)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	b.Cleanup(tr.CloseIdleConnections)
	// One real account (one argon2id hash); the others reuse its hash, so making thousands
	// of accounts costs no argon2id time.
	first := env.CreateUser(b, "mfa-bench-first@example.com", mfaBenchPassword)
	u, err := env.App.DB.Users().Get(context.Background(), first.ID)
	if err != nil {
		b.Fatal(err)
	}
	return &mfaBenchFixture{env: env, base: base, tr: tr, hash: u.PasswordHash}
}

// forwardedFor sends every request with X-Forwarded-For set to one client address.
type forwardedFor struct {
	base http.RoundTripper
	ip   string
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.base.RoundTrip(r)
}

// newClient is a browser at ip with its own cookie jar (a fresh one when jar is nil).
func (f *mfaBenchFixture) newClient(ip string, jar http.CookieJar) (*client.Client, error) {
	hc := &http.Client{Transport: forwardedFor{f.tr, ip}, Timeout: time.Minute, Jar: jar}
	return client.New(f.env.URL, client.WithHTTPClient(hc))
}

// baselineClient holds an access token for the JWT-only baseline route.
func (f *mfaBenchFixture) baselineClient(b *testing.B) *client.Client {
	b.Helper()
	c, err := f.newClient("10.255.255.254", nil)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.TokenWithPassword(context.Background(), "mfa-bench-first@example.com", mfaBenchPassword)
	if err != nil {
		b.Fatal(err)
	}
	c.SetBearerToken(tok.AccessToken)
	return c
}

// mfaBenchUser is one simulated user. Only the worker holding it (see mfaUserPool) touches
// last and c.
type mfaBenchUser struct {
	id, email, ip, secret string
	c                     *client.Client // its browser: session cookie and CSRF token
	last                  int64          // the last TOTP time step it sent
	retired               bool           // a failed op left its state unknown: not used again
	sid, tok              string         // its session and token, for the store-only runs
}

// makeUsers makes n accounts through the store, without argon2id: with a confirmed TOTP
// secret (sealed by the server's keyring) when withTOTP, with an aal1 cookie session in
// their browser when withSession.
func (f *mfaBenchFixture) makeUsers(b *testing.B, n int, withTOTP, withSession bool) []*mfaBenchUser {
	b.Helper()
	out := make([]*mfaBenchUser, n)
	first := f.made
	f.made += n
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		mu   sync.Mutex
		errs []error
	)
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				u, err := f.makeUser(ctx, first+i, withTOTP, withSession)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				out[i] = u
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		b.Fatalf("make benchmark users: %v", errs[0])
	}
	return out
}

func (f *mfaBenchFixture) makeUser(ctx context.Context, i int, withTOTP, withSession bool) (*mfaBenchUser, error) {
	db := f.env.App.DB
	now := time.Now().UTC()
	u := &mfaBenchUser{id: uuid.NewString(), email: fmt.Sprintf("mfa-bench-%d@example.com", i),
		ip: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}
	if err := db.Users().Create(ctx, users.User{ID: u.id, Email: u.email, PasswordHash: f.hash, Roles: []string{api.RoleUser},
		Status: api.UserActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		return nil, err
	}
	if withTOTP {
		raw := make([]byte, 20)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		u.secret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
		enc, err := f.env.App.Keyring.EncryptString(u.secret)
		if err != nil {
			return nil, err
		}
		if err := db.TOTP().PutPending(ctx, u.id, enc, now); err != nil {
			return nil, err
		}
		// Step 1 (1970) as the last used one: every current step is later.
		if ok, err := db.TOTP().Confirm(ctx, u.id, enc, now, 1); err != nil || !ok {
			return nil, fmt.Errorf("confirm totp for %s: %v %w", u.email, ok, err)
		}
		u.last = 1
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	if u.c, err = f.newClient(u.ip, jar); err != nil {
		return nil, err
	}
	if withSession {
		s, tok, err := f.env.App.Sessions.Create(ctx, session.NewSession{UserID: u.id, Kind: session.KindCookie, AAL: session.AAL1,
			IP: u.ip, UserAgent: "gatehouse-mfa-bench"})
		if err != nil {
			return nil, err
		}
		jar.SetCookies(f.base, []*http.Cookie{{Name: httpapi.CookieNamePlain, Value: tok, Path: "/"}})
		u.c.SetCSRFToken(s.CSRFToken)
		u.sid, u.tok = s.ID, tok
	}
	return u, nil
}

// refill makes sure the pool can serve need ops: users whose codes came back with time are
// ready again, and new users (two guaranteed codes each) make up the rest. It runs between
// runs, outside the timer.
func (f *mfaBenchFixture) refill(b *testing.B, p *mfaUserPool, need int, withSession bool) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	now := time.Now()
	var ready []*mfaBenchUser
	have := 0
	for _, u := range p.all {
		if g := guaranteedSteps(u.last, now); g > 0 && !u.retired {
			ready = append(ready, u)
			have += g
		}
	}
	if have < need {
		fresh := f.makeUsers(b, (need-have+1)/2, true, withSession)
		p.all = append(p.all, fresh...)
		ready = append(ready, fresh...)
	}
	p.ready = make(chan *mfaBenchUser, len(ready))
	for _, u := range ready {
		p.ready <- u
	}
}

// nextStep is the earliest time step after last that the server accepts at now (its window
// is now-1, now, now+1). now-1 is sent only more than 3 s before the window ends, so a request
// in flight across the boundary still lands inside the server's window; now and now+1 stay
// valid across one boundary.
func nextStep(last int64, now time.Time) (int64, bool) {
	cur := totp.Step(now)
	lo := cur
	if now.Unix()%int64(totp.Period/time.Second) < 27 {
		lo = cur - 1
	}
	s := max(last+1, lo)
	return s, s <= cur+1
}

// guaranteedSteps is how many codes a user whose last step is last can still send from now
// on, whatever the time: steps now and now+1 if unused. It never decreases as time passes.
func guaranteedSteps(last int64, now time.Time) int {
	cur := totp.Step(now)
	return int(min(2, max(0, cur+1-max(last, cur-1))))
}

// mfaUserPool hands each user to one worker at a time: a user's codes must be sent in
// increasing step order, and a step-up rotates its session cookie.
type mfaUserPool struct {
	all   []*mfaBenchUser
	ready chan *mfaBenchUser
}

// take returns a user with a usable code, or nil when none is ready (refill sizes the pool so
// that this does not happen: see closedLoop's callers).
func (p *mfaUserPool) take() *mfaBenchUser {
	for {
		select {
		case u := <-p.ready:
			if _, ok := nextStep(u.last, time.Now()); ok {
				return u
			}
			// Spent for now; refill brings it back once its codes return.
		default:
			return nil
		}
	}
}

// put returns a user to the pool if it has codes left now.
func (p *mfaUserPool) put(u *mfaBenchUser) {
	if _, ok := nextStep(u.last, time.Now()); ok {
		p.ready <- u
	}
}

// --- sample checks ---------------------------------------------------------------------------

// checkStepUps confirms on a sample of users, through the API and in the database, that the
// step-ups really happened: the browser's current session is aal2 and the server recorded
// the last step the user sent; and that there is one mfa.step_up event per successful
// step-up.
func (f *mfaBenchFixture) checkStepUps(b *testing.B, p *mfaUserPool, want int) {
	b.Helper()
	ctx := context.Background()
	checked := 0
	for _, u := range p.all {
		if u.last <= 1 || u.retired || checked == 8 {
			continue
		}
		checked++
		f.checkAAL2(b, u)
		s, err := f.env.App.DB.TOTP().Get(ctx, u.id)
		if err != nil {
			b.Fatal(err)
		}
		if s.LastStep != u.last {
			b.Errorf("%s: server's last step %d, benchmark sent %d last", u.email, s.LastStep, u.last)
		}
	}
	_, n, err := f.env.App.DB.Events().List(ctx, secevents.Filter{Type: api.EventMFAStepUp, Page: 1, PerPage: 1})
	if err != nil {
		b.Fatal(err)
	}
	if n != want {
		b.Errorf("%d %s events, %d successful step-ups", n, api.EventMFAStepUp, want)
	}
}

// checkLogins confirms through the API, on a sample of users, that the browser of their last
// TOTP sign-in holds an aal2 session.
func (f *mfaBenchFixture) checkLogins(b *testing.B, p *mfaUserPool) {
	b.Helper()
	checked := 0
	for _, u := range p.all {
		if u.last <= 1 || checked == 8 {
			continue
		}
		checked++
		f.checkAAL2(b, u)
	}
}

func (f *mfaBenchFixture) checkAAL2(b *testing.B, u *mfaBenchUser) {
	b.Helper()
	sessions, err := u.c.MySessions(context.Background())
	if err != nil {
		b.Fatalf("%s: list sessions: %v", u.email, err)
	}
	for _, s := range sessions {
		if s.Current {
			if s.AAL != api.AAL2 {
				b.Errorf("%s: current session is %s, want aal2", u.email, s.AAL)
			}
			return
		}
	}
	b.Errorf("%s: no current session", u.email)
}

// --- the closed loop and the figures ---------------------------------------------------------

type mfaBenchResult struct {
	label    string
	clients  int
	n        int
	errors   int
	rate     float64 // ops per second
	p50, p99 time.Duration
	kinds    map[string]int
	note     string // extra figures, printed under the table
}

// closedLoop runs b.N ops on exactly c goroutines, each starting its next op when the last one
// is answered, and reports the figures. op returns nil on a verified success.
func closedLoop(b *testing.B, label string, c int, op func(worker int) error) mfaBenchResult {
	b.Helper()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		lats  = make([][]time.Duration, c)
		kinds = make([]map[string]int, c)
	)
	b.ResetTimer()
	start := time.Now()
	for w := range c {
		kinds[w] = map[string]int{}
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				began := time.Now()
				err := op(w)
				lats[w] = append(lats[w], time.Since(began))
				if err != nil {
					kinds[w][errorKind(err)]++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	res := mfaBenchResult{label: label, clients: c, n: b.N, rate: float64(b.N) / elapsed.Seconds(), kinds: map[string]int{}}
	var all []time.Duration
	for w := range c {
		all = append(all, lats[w]...)
		for k, v := range kinds[w] {
			res.kinds[k] += v
			res.errors += v
		}
	}
	slices.Sort(all)
	res.p50, res.p99 = nearestRank(all, 50), nearestRank(all, 99)
	b.ReportMetric(res.rate, "req/s")
	b.ReportMetric(float64(res.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(res.errors), "errors")
	if res.errors > 0 {
		b.Errorf("%s: %d of %d ops failed: %v", label, res.errors, b.N, res.kinds)
	}
	return res
}

// errorKind names an error for counting: the API error code, or the message.
func errorKind(err error) string {
	if code := client.ErrorCode(err); code != "" {
		return string(code)
	}
	return err.Error()
}

// nearestRank is the p-th percentile of sorted (the smallest value with at least p% of the
// values at or below it), as scripts/load computes it.
func nearestRank(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// mfaBenchTable collects the runs the framework reports, for printing: it calls a
// sub-benchmark with growing b.N until the run is long enough and reports that last run, and
// does so again for each -count. A run is reported when the next call for its label does not
// grow b.N, or when there is no next call.
type mfaBenchTable struct {
	labels []string
	calls  map[string][]mfaBenchResult
	ratios [][2]string // label, baseline
}

func (t *mfaBenchTable) put(r mfaBenchResult) {
	if t.calls == nil {
		t.calls = map[string][]mfaBenchResult{}
	}
	if _, ok := t.calls[r.label]; !ok {
		t.labels = append(t.labels, r.label)
	}
	t.calls[r.label] = append(t.calls[r.label], r)
}

// reported returns the reported runs of label, in order (run 1, run 2, ... for -count).
func (t *mfaBenchTable) reported(label string) []mfaBenchResult {
	calls := t.calls[label]
	var out []mfaBenchResult
	for i, r := range calls {
		if i == len(calls)-1 || calls[i+1].n <= r.n {
			out = append(out, r)
		}
	}
	return out
}

// ratio asks for label's req/s and p99 over baseline's, run by run.
func (t *mfaBenchTable) ratio(label, baseline string) {
	t.ratios = append(t.ratios, [2]string{label, baseline})
}

func (t *mfaBenchTable) String() string {
	var sb strings.Builder
	w := len("label")
	for _, l := range t.labels {
		w = max(w, len(l))
	}
	fmt.Fprintf(&sb, "%-*s  %3s  %9s  %8s  %8s  %7s  %6s\n", w, "label", "run", "req/s", "p50", "p99", "ops", "errors")
	for _, l := range t.labels {
		for i, r := range t.reported(l) {
			fmt.Fprintf(&sb, "%-*s  %3d  %9.1f  %8s  %8s  %7d  %6d\n", w, l, i+1, r.rate, ms(r.p50), ms(r.p99), r.n, r.errors)
		}
	}
	for _, l := range t.labels {
		for i, r := range t.reported(l) {
			if r.note != "" {
				fmt.Fprintf(&sb, "%s run %d: %s\n", l, i+1, r.note)
			}
		}
	}
	for _, pair := range t.ratios {
		runs, base := t.reported(pair[0]), t.reported(pair[1])
		var parts []string
		for i := range min(len(runs), len(base)) {
			if base[i].rate > 0 && base[i].p99 > 0 {
				parts = append(parts, fmt.Sprintf("run %d: req/s %.0f%%, p99 %.2fx", i+1,
					100*runs[i].rate/base[i].rate, float64(runs[i].p99)/float64(base[i].p99)))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&sb, "%s / %s: %s\n", pair[0], pair[1], strings.Join(parts, "; "))
		}
	}
	return sb.String()
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func newTOTPSecret(b *testing.B) string {
	b.Helper()
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		b.Fatal(err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
}
