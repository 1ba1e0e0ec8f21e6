package azuretest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"gatehouse/server/internal/secrets/azure/azuretest"
)

func do(t *testing.T, srv *azuretest.Server, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(srv.VaultURL, "/")+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("body %q: %v", raw, err)
		}
	}
	return resp, out
}

func errorCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestChallengeAndToken(t *testing.T) {
	srv := azuretest.Start(t)
	resp, out := do(t, srv, http.MethodGet, "/secrets/x?api-version=2026-04-01", "", "")
	want := `Bearer authorization="https://login.microsoftonline.com/` + azuretest.TenantID + `", resource="https://vault.azure.net"`
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want || errorCode(out) != "Unauthorized" {
		t.Fatalf("unauthenticated: %d %q %v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), out)
	}
	if resp, _ := do(t, srv, http.MethodGet, "/secrets/x?api-version=2026-04-01", "wrong", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	if len(srv.Calls()) != 0 {
		t.Fatalf("unauthenticated requests reached operations: %v", srv.Calls())
	}
	if resp, out := do(t, srv, http.MethodGet, "/secrets/x", azuretest.Token, ""); resp.StatusCode != http.StatusBadRequest || errorCode(out) != "BadParameter" {
		t.Fatalf("no api-version: %d %v", resp.StatusCode, out)
	}
	if resp, out := do(t, srv, http.MethodGet, "/secrets/x?api-version=2026-04-01", azuretest.Token, ""); resp.StatusCode != http.StatusNotFound || errorCode(out) != "SecretNotFound" {
		t.Fatalf("unknown secret: %d %v", resp.StatusCode, out)
	}
}

func TestNamesAreCaseInsensitiveAndValidated(t *testing.T) {
	srv := azuretest.Start(t)
	if resp, out := do(t, srv, http.MethodPut, "/secrets/Db-Pass?api-version=7.6", azuretest.Token, `{"value":"one"}`); resp.StatusCode != 200 {
		t.Fatalf("set: %d %v", resp.StatusCode, out)
	}
	resp, out := do(t, srv, http.MethodGet, "/secrets/db-pass/?api-version=7.6", azuretest.Token, "")
	if resp.StatusCode != 200 || out["value"] != "one" || !strings.Contains(out["id"].(string), "/secrets/Db-Pass/") {
		t.Fatalf("case-insensitive get: %d %v", resp.StatusCode, out)
	}
	if resp, out := do(t, srv, http.MethodPut, "/secrets/a_b?api-version=7.6", azuretest.Token, `{"value":"x"}`); resp.StatusCode != 400 || errorCode(out) != "BadParameter" {
		t.Fatalf("invalid name: %d %v", resp.StatusCode, out)
	}
	// Soft-deleted names cannot be reused until purged.
	do(t, srv, http.MethodDelete, "/secrets/db-pass?api-version=7.6", azuretest.Token, "")
	if resp, out := do(t, srv, http.MethodPut, "/secrets/db-pass?api-version=7.6", azuretest.Token, `{"value":"two"}`); resp.StatusCode != http.StatusConflict {
		t.Fatalf("reuse of a deleted name: %d %v", resp.StatusCode, out)
	}
	if resp, _ := do(t, srv, http.MethodDelete, "/deletedsecrets/db-pass?api-version=7.6", azuretest.Token, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("purge: %d", resp.StatusCode)
	}
	if resp, _ := do(t, srv, http.MethodPut, "/secrets/db-pass?api-version=7.6", azuretest.Token, `{"value":"two"}`); resp.StatusCode != 200 {
		t.Fatalf("reuse after purge: %d", resp.StatusCode)
	}
}
