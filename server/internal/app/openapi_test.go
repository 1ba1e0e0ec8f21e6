package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	apispec "gatehouse/server/api"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// loadSpec parses server/api/openapi.yaml and checks it is a valid OpenAPI document.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apispec.YAML)
	if err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// specEnum returns the enum of a named component schema, as strings.
func specEnum(t *testing.T, doc *openapi3.T, name string) []string {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("components.schemas.%s is missing", name)
	}
	out := make([]string, 0, len(ref.Value.Enum))
	for _, v := range ref.Value.Enum {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s: enum value %v is not a string", name, v)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func sorted[S ~[]E, E ~string](s S) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	sort.Strings(out)
	return out
}

// The enums in the document are the ones in shared/api: a new error code, event type, role or
// status fails here until the document lists it.
func TestOpenAPIEnumsMatchSharedAPI(t *testing.T) {
	doc := loadSpec(t)
	for name, want := range map[string][]string{
		"ErrorCode":    sorted(api.Codes()),
		"EventType":    sorted(api.EventTypes()),
		"EventOutcome": sorted(api.Outcomes()),
		"Role":         sorted([]string{api.RoleAdmin, api.RoleSupport, api.RoleUser}),
		"UserStatus":   sorted([]string{api.UserActive, api.UserLocked, api.UserDisabled}),
		"AAL":          sorted([]string{api.AAL1, api.AAL2}),
	} {
		if got := specEnum(t, doc, name); !slices.Equal(got, want) {
			t.Errorf("components.schemas.%s enum = %v, shared/api has %v", name, got, want)
		}
	}
}

// Every route the server registers is in the document, and the document describes no route
// the server lacks. (Routes behind non-default settings, such as the benchmark baseline
// /api/v1/bench/jwt, are not registered here and not described.)
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadSpec(t)
	env := testenv.New(t, testenv.SQLite)

	registered := map[string]bool{}
	for _, r := range env.App.HTTP.Routes() {
		registered[r.Method+" "+r.OpenAPIPath()] = true
	}
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	if len(registered) < 25 {
		t.Fatalf("suspiciously few registered routes: %v", registered)
	}
	for _, r := range sortedKeys(registered) {
		if !described[r] {
			t.Errorf("route %s is registered but missing from server/api/openapi.yaml", r)
		}
	}
	for _, r := range sortedKeys(described) {
		if !registered[r] {
			t.Errorf("openapi.yaml describes %s, which the server does not register", r)
		}
	}

	// The document is served as embedded.
	resp, err := http.Get(env.URL + "/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(body, apispec.YAML) {
		t.Fatalf("GET /api/openapi.yaml: %d %q, %d bytes (want %d)", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(apispec.YAML))
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// offSpecKey marks a request that breaks the document on purpose (to provoke a 4xx): its
// response is still checked, the request is not.
type offSpecKey struct{}

func offSpec(ctx context.Context) context.Context { return context.WithValue(ctx, offSpecKey{}, true) }

// specChecker is an http.RoundTripper that checks every request the client sends and every
// response the server answers against the OpenAPI document, reporting mismatches with
// t.Errorf. It also records which statuses each operation answered.
type specChecker struct {
	t      *testing.T
	router routers.Router
	next   http.RoundTripper
	opts   openapi3filter.Options

	mu   sync.Mutex
	seen map[string]map[int]bool // "METHOD /template" → statuses
}

// formatValidators checks the formats that kin-openapi leaves unchecked by default.
var formatValidators = map[string]openapi3.StringFormatValidator{
	"uuid": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
}

func newSpecChecker(t *testing.T, doc *openapi3.T) *specChecker {
	t.Helper()
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &specChecker{
		t:      t,
		router: r,
		next:   http.DefaultTransport,
		opts: openapi3filter.Options{
			// The server enforces authentication; the scenario exercises it.
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			IncludeResponseStatus: true,
			MultiError:            true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.WithStringFormatValidators(formatValidators),
				openapi3.DisableSchemaErrorDetails(), // the path and reason are enough; the body is printed
			},
		},
		seen: map[string]map[int]bool{},
	}
}

// client returns a fresh API client (own cookie jar) whose traffic is checked.
func (sc *specChecker) client(t *testing.T, base string) *client.Client {
	t.Helper()
	c, err := client.New(base, client.WithHTTPClient(sc.httpClient()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (sc *specChecker) httpClient() *http.Client {
	return &http.Client{Transport: sc, Timeout: 30 * time.Second}
}

func (sc *specChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	t := sc.t
	ctx := req.Context()
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
	}
	withBody := func() *http.Request {
		r := req.Clone(ctx)
		if req.Body != nil {
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
		}
		return r
	}
	what := req.Method + " " + req.URL.RequestURI()

	route, params, err := sc.router.FindRoute(withBody())
	if err != nil {
		t.Errorf("%s: no operation in openapi.yaml: %v", what, err)
		return sc.next.RoundTrip(withBody())
	}
	opts := sc.opts
	in := &openapi3filter.RequestValidationInput{Request: withBody(), PathParams: params, Route: route, Options: &opts}
	if ctx.Value(offSpecKey{}) == nil {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("request %s does not match openapi.yaml: %v", what, err)
		}
	}

	resp, err := sc.next.RoundTrip(withBody())
	if err != nil {
		return nil, err
	}
	sc.record(route.Method+" "+route.Path, resp.StatusCode)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: &opts}

	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A stream never ends: check status and headers now; the scenario checks the events.
		streamOpts := opts
		streamOpts.ExcludeResponseBody = true
		out.Options = &streamOpts
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("response to %s (%d) does not match openapi.yaml: %v", what, resp.StatusCode, err)
		}
		if rr := route.Operation.Responses.Status(resp.StatusCode); rr == nil || rr.Value.Content.Get("text/event-stream") == nil {
			t.Errorf("response to %s (%d): text/event-stream is not declared", what, resp.StatusCode)
		}
		return resp, nil
	}

	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("response to %s (%d) does not match openapi.yaml: %v\nbody: %.500s", what, resp.StatusCode, err, body)
	}
	if rr := route.Operation.Responses.Status(resp.StatusCode); rr != nil && len(rr.Value.Content) == 0 && len(body) != 0 {
		t.Errorf("response to %s (%d) has a body the document does not declare: %.200s", what, resp.StatusCode, body)
	}
	return resp, nil
}

func (sc *specChecker) record(op string, status int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.seen[op] == nil {
		sc.seen[op] = map[int]bool{}
	}
	sc.seen[op][status] = true
}

// checkCoverage fails for every operation of the document that never answered a 2xx (or a
// 3xx, for browser navigations), and
// for every status in wantSomewhere that no operation answered.
func (sc *specChecker) checkCoverage(t *testing.T, doc *openapi3.T, wantSomewhere []int) {
	t.Helper()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	all := map[int]bool{}
	var summary []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			ok := false
			var statuses []int
			for s := range sc.seen[op] {
				all[s] = true
				ok = ok || (s >= 200 && s < 400) // a browser flow's success is a redirect
				statuses = append(statuses, s)
			}
			sort.Ints(statuses)
			if !ok {
				t.Errorf("the scenario never got a success from %s (statuses: %v)", op, statuses)
			}
			summary = append(summary, fmt.Sprintf("%s %v", op, statuses))
		}
	}
	for _, s := range wantSomewhere {
		if !all[s] {
			t.Errorf("the scenario never provoked a %d", s)
		}
	}
	sort.Strings(summary)
	t.Logf("statuses checked against openapi.yaml:\n  %s", strings.Join(summary, "\n  "))
}

// Every route answers, on success and on its main failures, exactly what openapi.yaml says,
// and the typed client sends exactly what it says.
func TestOpenAPIResponsesMatchSpec(t *testing.T) {
	doc := loadSpec(t)
	testenv.Each(t, func(t *testing.T, dialect string) {
		// Every request comes from 127.0.0.1: lift the per-IP rate so only the lockout (per
		// account and IP) throttles, where the scenario asks for it.
		m := newMFAEnv(t, dialect, testenv.WithConfig(func(c *config.Config) {
			c.Auth.LoginPerIPPerMin = 60_000
			c.OAuth.RatePerIP = 60_000
		}))
		env := m.Env
		sc := newSpecChecker(t, doc)
		ctx := context.Background()
		bad := offSpec(ctx)

		admin := env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		env.CreateUser(t, "help@example.com", "support-person-passphrase", api.RoleSupport)
		alice := env.CreateUser(t, userEmail, userPass)
		env.CreateUser(t, "bob@example.com", "builder-of-long-phrases")
		login := func(email, pw string) *client.Client {
			t.Helper()
			c := sc.client(t, env.URL)
			if _, err := c.Login(ctx, email, pw); err != nil {
				t.Fatalf("login %s: %v", email, err)
			}
			return c
		}
		bearer := func(email, pw string) (*client.Client, *api.TokenResponse) {
			t.Helper()
			c := sc.client(t, env.URL)
			tok, err := c.TokenWithPassword(ctx, email, pw)
			if err != nil {
				t.Fatalf("token %s: %v", email, err)
			}
			return c, tok
		}
		want := func(err error, code api.Code) {
			t.Helper()
			if got := client.ErrorCode(err); got != code {
				t.Errorf("want %s, got %v", code, err)
			}
		}
		ok := func(err error) {
			t.Helper()
			if err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		}
		anon := sc.client(t, env.URL)

		// Operations.
		_, err := anon.Livez(ctx)
		ok(err)
		_, err = anon.Readyz(ctx)
		ok(err)
		_, err = anon.Version(ctx)
		ok(err)
		_, err = anon.JWKS(ctx)
		ok(err)
		for _, path := range []string{"/metrics", "/api/openapi.yaml", "/docs", "/docs/redoc.standalone.js", "/docs/redoc.standalone.js.LICENSE.txt"} {
			resp, err := sc.httpClient().Get(env.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", path, resp.StatusCode)
			}
		}

		// Registration.
		reg := sc.client(t, env.URL)
		_, err = reg.Register(ctx, api.RegisterRequest{Email: "new@example.com", Password: "a-fine-long-passphrase", DisplayName: "New"})
		ok(err)
		_, err = anon.Register(ctx, api.RegisterRequest{Email: "new@example.com", Password: "a-fine-long-passphrase"})
		want(err, api.CodeConflict)
		_, err = anon.Register(ctx, api.RegisterRequest{Email: "not-an-email", Password: "a-fine-long-passphrase"})
		want(err, api.CodeInvalidRequest)
		_, err = anon.Register(ctx, api.RegisterRequest{Email: "weak@example.com", Password: "short"})
		want(err, api.CodeInvalidRequest)

		// Cookie sessions, CSRF and the bad-input answers of the decoder.
		ac := login(userEmail, userPass)
		_, err = anon.Login(ctx, userEmail, "not-the-password-at-all")
		want(err, api.CodeInvalidCredentials)
		_, err = anon.Do(bad, http.MethodPost, "/api/v1/auth/login", map[string]any{"email": userEmail, "password": userPass, "admin": true}, nil)
		want(err, api.CodeUnknownField)
		_, err = anon.Do(bad, http.MethodPost, "/api/v1/auth/login", map[string]any{"email": 1, "password": userPass}, nil)
		want(err, api.CodeInvalidFieldType)
		_, err = anon.Do(bad, http.MethodPost, "/api/v1/auth/login", map[string]any{"email": userEmail}, nil)
		want(err, api.CodeInvalidRequest)
		for _, r := range []struct {
			body, contentType string
			code              api.Code
		}{
			{`{"email":`, "application/json", api.CodeMalformedJSON},
			{`{"email":"a@example.com","password":"x"}`, "text/plain", api.CodeUnsupportedMediaType},
			{`{"email":"` + strings.Repeat("a", 1<<20) + `"}`, "application/json", api.CodePayloadTooLarge},
		} {
			req, err := http.NewRequestWithContext(bad, http.MethodPost, env.URL+"/api/v1/auth/login", strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", r.contentType)
			resp, err := sc.httpClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e api.ErrorBody
			_ = json.NewDecoder(resp.Body).Decode(&e)
			_ = resp.Body.Close()
			if e.Error.Code != r.code {
				t.Errorf("%.30q as %s: %d %+v, want %s", r.body, r.contentType, resp.StatusCode, e.Error, r.code)
			}
		}
		// SEC-05: the lockout answers 429 with Retry-After (checked by the document's header).
		env.CreateUser(t, "victim@example.com", "target-long-passphrase")
		throttled := false
		for range 8 {
			_, err := anon.Login(ctx, "victim@example.com", "guessing-the-passphrase")
			if client.ErrorCode(err) == api.CodeRateLimited {
				throttled = true
				break
			}
		}
		if !throttled {
			t.Error("repeated failures were never throttled")
		}
		_, err = anon.TokenWithPassword(ctx, "victim@example.com", "guessing-the-passphrase")
		want(err, api.CodeRateLimited)

		_, err = ac.CSRF(ctx)
		ok(err)
		_, err = ac.Me(ctx)
		ok(err)
		name := "Alice Liddell"
		_, err = ac.UpdateMe(ctx, api.UpdateMeRequest{DisplayName: &name})
		ok(err)
		ctrl := "bell\a"
		_, err = ac.UpdateMe(ctx, api.UpdateMeRequest{DisplayName: &ctrl})
		want(err, api.CodeInvalidRequest)
		ac.SetCSRFToken("wrong-token")
		_, err = ac.UpdateMe(ctx, api.UpdateMeRequest{DisplayName: &name})
		want(err, api.CodeCSRFFailed)
		_, err = ac.CSRF(ctx) // fetches the right one again
		ok(err)
		_, err = anon.Me(ctx)
		want(err, api.CodeUnauthorized)
		forged := sc.client(t, env.URL)
		forged.SetBearerToken("not.a.jwt")
		_, err = forged.Me(ctx)
		want(err, api.CodeUnauthorized)

		// Own sessions.
		other := login(userEmail, userPass)
		mine, err := ac.MySessions(ctx)
		ok(err)
		for _, s := range mine {
			if !s.Current {
				ok(ac.RevokeMySession(ctx, s.ID))
				break
			}
		}
		_, err = other.Me(ctx)
		want(err, api.CodeUnauthorized)
		want(ac.RevokeMySession(ctx, "00000000-0000-4000-8000-000000000000"), api.CodeNotFound)

		// Password change.
		want(ac.ChangePassword(ctx, "not the current one", "a-brand-new-passphrase"), api.CodeInvalidRequest)
		ok(ac.ChangePassword(ctx, userPass, "a-brand-new-passphrase"))
		ok(ac.ChangePassword(ctx, "a-brand-new-passphrase", userPass))

		// Bearer tokens.
		bc, tok := bearer(userEmail, userPass)
		_, err = bc.Me(ctx)
		ok(err)
		r2, err := anon.Refresh(ctx, tok.RefreshToken)
		ok(err)
		_, err = sc.client(t, env.URL).Refresh(ctx, tok.RefreshToken) // a replay
		want(err, api.CodeInvalidGrant)
		_, err = anon.Do(bad, http.MethodPost, "/api/v1/auth/token", api.TokenRequest{GrantType: "client_credentials"}, nil)
		want(err, api.CodeInvalidRequest)
		_, err = sc.client(t, env.URL).TokenWithPassword(ctx, userEmail, "not-the-password-at-all")
		want(err, api.CodeInvalidCredentials)
		if r2 != nil {
			ok(anon.RevokeToken(ctx, r2.RefreshToken))
		}
		ok(anon.RevokeToken(ctx, "never-issued"))
		_, err = anon.Do(bad, http.MethodPost, "/api/v1/auth/revoke", api.TokenBody{}, nil)
		want(err, api.CodeInvalidRequest)

		// Introspection: admins only.
		adm, admTok := bearer(adminEmail, adminPass)
		_, tok2 := bearer(userEmail, userPass)
		in, err := adm.Introspect(ctx, tok2.AccessToken)
		if err != nil || !in.Active {
			t.Errorf("introspect: %+v %v", in, err)
		}
		in, err = adm.Introspect(ctx, "junk")
		if err != nil || in.Active {
			t.Errorf("introspect junk: %+v %v", in, err)
		}
		_, err = ac.Introspect(ctx, tok2.AccessToken)
		want(err, api.CodeForbidden)

		// Administration, cookie mode for the admin (so CSRF is exercised) and bearer for support.
		adc := login(adminEmail, adminPass)
		sup, _ := bearer("help@example.com", "support-person-passphrase")
		_, err = adc.ListUsers(ctx, api.UserQuery{Query: "example", Status: api.UserActive, Role: api.RoleUser, Page: 1, PerPage: 2})
		ok(err)
		_, err = sup.ListUsers(ctx, api.UserQuery{})
		ok(err)
		_, err = adc.Do(bad, http.MethodGet, "/api/v1/admin/users?per_page=1000", nil, nil)
		want(err, api.CodeInvalidRequest)
		_, err = ac.ListUsers(ctx, api.UserQuery{})
		want(err, api.CodeForbidden)

		carol, err := adc.CreateUser(ctx, api.CreateUserRequest{Email: "carol@example.com", Password: "tea-party-passphrase-77"})
		ok(err)
		_, err = adc.CreateUser(ctx, api.CreateUserRequest{Email: "carol@example.com", Password: "tea-party-passphrase-77", Roles: []string{api.RoleSupport}})
		want(err, api.CodeConflict)
		_, err = adc.Do(bad, http.MethodPost, "/api/v1/admin/users", api.CreateUserRequest{Email: "dave@example.com", Password: "quite-long-passphrase-9", Roles: []string{"root"}}, nil)
		want(err, api.CodeInvalidRequest)
		_, err = sup.CreateUser(ctx, api.CreateUserRequest{Email: "erin@example.com", Password: "quite-long-passphrase-9"})
		want(err, api.CodeForbidden)
		if carol == nil {
			t.Fatal("no account to administer")
		}

		_, err = adc.GetUser(ctx, carol.ID)
		ok(err)
		_, err = adc.GetUser(ctx, "00000000-0000-4000-8000-000000000000")
		want(err, api.CodeNotFound)

		cname := "Carol"
		_, err = adc.UpdateUser(ctx, carol.ID, api.UpdateUserRequest{DisplayName: &cname})
		ok(err)
		roles := []string{api.RoleAdmin}
		_, err = sup.UpdateUser(ctx, carol.ID, api.UpdateUserRequest{Roles: &roles})
		want(err, api.CodeForbidden)
		demote := []string{api.RoleUser}
		_, err = adc.UpdateUser(ctx, admin.ID, api.UpdateUserRequest{Roles: &demote})
		want(err, api.CodeConflict)
		_, err = adc.UpdateUser(ctx, "00000000-0000-4000-8000-000000000000", api.UpdateUserRequest{DisplayName: &cname})
		want(err, api.CodeNotFound)

		_, err = sup.LockUser(ctx, carol.ID)
		ok(err)
		_, err = sup.UnlockUser(ctx, carol.ID)
		ok(err)
		_, err = sup.LockUser(ctx, admin.ID)
		want(err, api.CodeForbidden)
		_, err = adc.LockUser(ctx, admin.ID)
		want(err, api.CodeConflict)
		_, err = adc.UnlockUser(ctx, "00000000-0000-4000-8000-000000000000")
		want(err, api.CodeNotFound)

		aliceSessions, err := sup.UserSessions(ctx, alice.ID)
		ok(err)
		_, err = sup.UserSessions(ctx, "00000000-0000-4000-8000-000000000000")
		want(err, api.CodeNotFound)
		if len(aliceSessions) > 0 {
			ok(sup.RevokeUserSession(ctx, alice.ID, aliceSessions[0].ID))
		}
		bobc := login("bob@example.com", "builder-of-long-phrases")
		bobSessions, err := bobc.MySessions(ctx)
		ok(err)
		if len(bobSessions) > 0 {
			want(adc.RevokeUserSession(ctx, alice.ID, bobSessions[0].ID), api.CodeNotFound)
		}
		ok(adc.RevokeUserSessions(ctx, alice.ID))
		want(sup.RevokeUserSessions(ctx, admin.ID), api.CodeForbidden)
		want(adc.RevokeUserSessions(ctx, "00000000-0000-4000-8000-000000000000"), api.CodeNotFound)

		_, err = adc.ListEvents(ctx, client.EventQuery{Type: api.EventLoginFailed, UserID: alice.ID, Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour), Page: 1, PerPage: 5})
		ok(err)
		if evs, err := adc.ListEvents(ctx, client.EventQuery{PerPage: 200}); err != nil || len(evs.Events) < 10 {
			t.Errorf("events: %v", err)
		}
		_, err = adc.Do(bad, http.MethodGet, "/api/v1/admin/events?since=yesterday", nil, nil)
		want(err, api.CodeInvalidRequest)
		_, err = sup.ListEvents(ctx, client.EventQuery{})
		want(err, api.CodeForbidden)

		_, err = adc.PoolStats(ctx)
		ok(err)
		_, err = sup.PoolStats(ctx)
		want(err, api.CodeForbidden)
		_, err = adc.KeyStatus(ctx)
		ok(err)
		_, err = sup.KeyStatus(ctx)
		want(err, api.CodeForbidden)
		_, err = sup.Do(ctx, http.MethodGet, "/api/v1/admin/pool/stream", nil, nil)
		want(err, api.CodeForbidden)
		checkPoolStream(t, doc, sc, env.URL, admTok.AccessToken)

		mfaScenario(t, m, sc, adc)

		exerciseSecretsSpec(t, env, sc) // secrets_openapi_test.go
		exerciseOAuthSpec(t, m, sc)     // oauth_openapi_test.go

		// Signing out.
		ok(adc.Logout(ctx))
		ok(adm.Logout(ctx))
		want(adc.Logout(ctx), api.CodeUnauthorized)

		// Last, since it breaks the server: readiness with the database gone.
		if err := env.App.DB.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = anon.Readyz(ctx)
		want(err, api.CodeUnavailable)

		sc.checkCoverage(t, doc, []int{200, 201, 204, 400, 401, 403, 404, 409, 413, 415, 429, 503})
	})
}

// checkPoolStream reads the first event of the pool stream and checks its data against the
// PoolStats schema (the checker saw the status and headers).
func checkPoolStream(t *testing.T, doc *openapi3.T, sc *specChecker, base, accessToken string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Raw, not client.PoolStream: decoding into api.PoolStats would hide extra or missing fields.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/admin/pool/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+accessToken)
	hc := sc.httpClient()
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pool stream: %d", resp.StatusCode)
	}
	schema := doc.Components.Schemas["PoolStats"].Value
	lines := bufio.NewScanner(resp.Body)
	event := ""
	for lines.Scan() {
		line := lines.Text()
		if v, found := strings.CutPrefix(line, "event:"); found {
			event = strings.TrimSpace(v)
			continue
		}
		data, found := strings.CutPrefix(line, "data:")
		if !found {
			continue
		}
		if event != "pool" {
			t.Errorf("pool stream: event %q, want pool", event)
		}
		var v any
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &v); err != nil {
			t.Fatalf("pool stream: data is not JSON: %v", err)
		}
		if err := schema.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
			t.Errorf("pool stream event does not match PoolStats: %v", err)
		}
		return
	}
	t.Fatalf("pool stream ended without an event: %v", lines.Err())
}

// mfaScenario drives every second-factor route to a success (and some refusals) through the
// spec checker.
func mfaScenario(t *testing.T, m *mfaEnv, sc *specChecker, adc *client.Client) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("mfa scenario: %v", err)
		}
	}
	const email, pw, phone = "mfa-user@example.com", "second-factor-fan-2026", "+14155550142"
	u := m.CreateUser(t, email, pw)
	mu := sc.client(t, m.URL)
	_, err := mu.Login(ctx, email, pw)
	must(err)
	_, err = mu.MyMFA(ctx)
	must(err)
	before := len(m.mail.Messages())
	_, err = mu.SendEmailVerification(ctx)
	must(err)
	_, err = mu.VerifyEmail(ctx, m.mailCode(t, before))
	must(err)
	if _, err := mu.VerifyEmail(ctx, "123456"); client.ErrorCode(err) != api.CodeConflict {
		t.Errorf("verify twice: %v", err)
	}
	en, err := mu.EnrollTOTP(ctx)
	must(err)
	a := &authenticator{secret: en.Secret}
	if err := mu.ConfirmTOTP(ctx, "12"); client.ErrorCode(err) != api.CodeMFAInvalidCode {
		t.Errorf("bad confirmation: %v", err)
	}
	must(mu.ConfirmTOTP(ctx, a.code(t)))
	if _, err := mu.EnrollSMS(ctx, phone); client.ErrorCode(err) != api.CodeStepUpRequired {
		t.Errorf("second factor at aal1: %v", err)
	}
	_, err = mu.StepUp(ctx, api.FactorTOTP, a.code(t))
	must(err)
	_, err = mu.EnrollSMS(ctx, phone)
	must(err)
	must(mu.ConfirmFactor(ctx, api.FactorSMS, m.smsCode(t, phone)))
	mails := len(m.mail.Messages())
	_, err = mu.EnrollEmail(ctx, "")
	must(err)
	must(mu.ConfirmFactor(ctx, api.FactorEmail, m.mailCode(t, mails)))
	_, err = mu.StepUpChallenge(ctx, api.FactorSMS)
	must(err)
	_, err = mu.RegenerateRecoveryCodes(ctx)
	must(err)

	// Logins with the second step, remembering the browser twice.
	remember := func() *client.Client {
		c := sc.client(t, m.URL)
		res, err := c.Login(ctx, email, pw)
		must(err)
		if res.Status != api.LoginMFARequired {
			t.Fatalf("login status %q", res.Status)
		}
		n := len(m.mail.Messages())
		_, err = c.MFAChallenge(ctx, api.FactorEmail, "")
		must(err)
		if _, err := c.MFAChallenge(ctx, api.FactorEmail, ""); client.ErrorCode(err) != api.CodeRateLimited {
			t.Errorf("resend inside the cooldown: %v", err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: "000000"}); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Errorf("wrong code: %v", err)
		}
		_, err = c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorEmail, Code: m.mailCode(t, n), RememberDevice: true})
		must(err)
		return c
	}
	c1 := remember()
	devices, err := c1.MyDevices(ctx)
	must(err)
	if len(devices) != 1 {
		t.Fatalf("devices %+v", devices)
	}
	must(c1.RevokeMyDevice(ctx, devices[0].ID))
	if err := c1.RevokeMyDevice(ctx, devices[0].ID); client.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("revoke twice: %v", err)
	}
	remember()
	list, err := adc.UserDevices(ctx, u.ID)
	must(err)
	if len(list) != 1 {
		t.Fatalf("admin sees devices %+v", list)
	}
	must(adc.RevokeUserDevice(ctx, u.ID, list[0].ID))
	must(adc.RevokeUserDevices(ctx, u.ID))

	// Token grant with the second factor.
	tc := sc.client(t, m.URL)
	_, err = tc.TokenWithPassword(ctx, email, pw)
	req, isMFA := client.AsMFARequired(err)
	if !isMFA {
		t.Fatalf("password grant: %v", err)
	}
	_, err = tc.TokenWithMFA(ctx, req.MFAToken, api.FactorTOTP, a.code(t))
	must(err)
	if _, err := tc.TokenWithMFA(ctx, req.MFAToken, api.FactorTOTP, "123456"); client.ErrorCode(err) != api.CodeMFALoginExpired {
		t.Errorf("spent mfa_token: %v", err)
	}

	for _, f := range []string{api.FactorSMS, api.FactorEmail, api.FactorTOTP} {
		must(mu.RemoveFactor(ctx, f))
	}
	if err := mu.RemoveFactor(ctx, api.FactorTOTP); client.ErrorCode(err) != api.CodeMFAUnavailable {
		t.Errorf("remove twice: %v", err)
	}

	// Support resets a user at aal2.
	const helpEmail, helpPass = "help2@example.com", "support-desk-passphrase-2"
	m.CreateUser(t, helpEmail, helpPass, api.RoleSupport)
	hc := sc.client(t, m.URL)
	_, err = hc.Login(ctx, helpEmail, helpPass)
	must(err)
	hen, err := hc.EnrollTOTP(ctx)
	must(err)
	ha := &authenticator{secret: hen.Secret}
	must(hc.ConfirmTOTP(ctx, ha.code(t)))
	if err := hc.ResetMFA(ctx, u.ID, "lost phone"); client.ErrorCode(err) != api.CodeStepUpRequired {
		t.Errorf("reset at aal1: %v", err)
	}
	_, err = hc.StepUp(ctx, api.FactorTOTP, ha.code(t))
	must(err)
	if err := hc.ResetMFA(ctx, u.ID, ""); client.ErrorCode(err) != api.CodeInvalidRequest {
		t.Errorf("reset without a reason: %v", err)
	}
	must(hc.ResetMFA(ctx, u.ID, "lost phone, checked by call-back"))
}
