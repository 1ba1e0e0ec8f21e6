package testserver_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"gatehouse/server/testserver"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

func TestStartServesTheRealAPI(t *testing.T) {
	s := testserver.Start(t, testserver.WithAdmin("root@example.com", "boot admin passphrase 9"), testserver.WithLoginRate(600))
	s.CreateUser(t, "carol@example.com", "tidy orchid lantern 42", api.RoleSupport)
	ctx := context.Background()
	for _, who := range []struct{ email, pass, role string }{
		{"root@example.com", "boot admin passphrase 9", api.RoleAdmin},
		{"carol@example.com", "tidy orchid lantern 42", api.RoleSupport},
	} {
		res, err := newClient(t, s.URL).Login(ctx, who.email, who.pass)
		if err != nil || res.User == nil || !slices.Contains(res.User.Roles, who.role) {
			t.Fatalf("%s: %+v %v\n%s", who.email, res, err, s.Logs())
		}
	}
	// Twelve quick sign-ins from one address stay under the raised limit (the default bursts 10).
	for range 12 {
		if _, err := newClient(t, s.URL).Login(ctx, "carol@example.com", "tidy orchid lantern 42"); err != nil {
			t.Fatalf("sign-in under WithLoginRate: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("Close twice")
	}
	if _, err := http.Get(s.URL + "/livez"); err == nil { //nolint:noctx // a closed server refuses
		t.Fatal("the server still answers after Close")
	}
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
