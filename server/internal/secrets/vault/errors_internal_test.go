package vault

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"gatehouse/server/internal/secrets"
)

// Status codes Vault answers with map onto the contract's kinds; the real core's 403, 404 and
// 503 are exercised end to end in vault_test.go, the rest here.
func TestFailMapsStatusCodes(t *testing.T) {
	cases := []struct {
		status int
		want   error // nil: no contract kind
	}{
		{http.StatusNotFound, secrets.ErrNotFound},
		{http.StatusUnauthorized, secrets.ErrDenied},
		{http.StatusForbidden, secrets.ErrDenied},
		{http.StatusTooManyRequests, secrets.ErrUnavailable},
		{http.StatusInternalServerError, secrets.ErrUnavailable},
		{http.StatusBadGateway, secrets.ErrUnavailable},
		{http.StatusServiceUnavailable, secrets.ErrUnavailable},
		{http.StatusBadRequest, nil},
		{http.StatusConflict, nil},
	}
	kinds := []error{secrets.ErrNotFound, secrets.ErrDenied, secrets.ErrUnavailable, secrets.ErrVersionNotFound}
	for _, c := range cases {
		cause := &api.ResponseError{StatusCode: c.status, Errors: []string{"x"}}
		err := fail("get", "a/b", cause)
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != c.status {
			t.Errorf("%d: the cause is not wrapped: %v", c.status, err)
		}
		for _, k := range kinds {
			if errors.Is(err, k) != errors.Is(c.want, k) {
				t.Errorf("%d: errors.Is(%v) = %v", c.status, k, errors.Is(err, k))
			}
		}
	}
	if err := fail("get", "a", errors.New("dial tcp: connection refused")); !errors.Is(err, secrets.ErrUnavailable) {
		t.Errorf("a transport error maps to %v, want ErrUnavailable", err)
	}
}

// A request that carried a value keeps its status but loses Vault's messages, which could
// quote the input.
func TestWithholdMessagesDropsVaultText(t *testing.T) {
	cause := &api.ResponseError{StatusCode: http.StatusBadRequest, Errors: []string{`cannot parse "c2VjcmV0LXZhbHVl"`}}
	err := fail("put", "a", withholdMessages(cause))
	if strings.Contains(err.Error(), "c2VjcmV0LXZhbHVl") {
		t.Fatalf("the withheld error still carries Vault's message: %v", err)
	}
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		t.Fatalf("the status is lost: %v", err)
	}
	if cause.Errors[0] == "" || !strings.Contains(cause.Errors[0], "c2Vj") {
		t.Fatal("withholdMessages changed the original error")
	}
}
