package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/config"
	"gatehouse/shared/api"
)

func asAPI(err error, target **api.Error) bool { return errors.As(err, target) }

func do(t *testing.T, method, url, body string, hdr http.Header, ck *http.Cookie) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(raw)))
	return resp
}

func rawPost(t *testing.T, url, body string, ck *http.Cookie) *http.Response {
	t.Helper()
	return do(t, http.MethodPost, url, body, nil, ck)
}

func rawPostH(t *testing.T, url, body string, hdr http.Header) *http.Response {
	t.Helper()
	return do(t, http.MethodPost, url, body, hdr, nil)
}

func rawGet(t *testing.T, url string, ck *http.Cookie) *http.Response {
	t.Helper()
	return do(t, http.MethodGet, url, "", nil, ck)
}

func rawGetH(t *testing.T, url string, hdr http.Header) *http.Response {
	t.Helper()
	return do(t, http.MethodGet, url, "", hdr, nil)
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode: %v", err)
	}
}

func newWithConsole(t *testing.T, cfg config.Config, console io.Writer) (*app.App, error) {
	t.Helper()
	return app.NewWithConsole(context.Background(), cfg, discard(), console)
}
