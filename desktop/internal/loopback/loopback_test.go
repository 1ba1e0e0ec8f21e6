package loopback_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/desktop/internal/loopback"
	"gatehouse/shared/api"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec,noctx // the test's own loopback address
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func listen(t *testing.T) *loopback.Listener {
	t.Helper()
	l, err := loopback.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestCallbackDeliversTheCodeOnce(t *testing.T) {
	l := listen(t)
	redirect := l.RedirectURL()
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") || !strings.HasSuffix(redirect, "/callback") || strings.HasSuffix(redirect, ":0/callback") {
		t.Fatalf("redirect %q", redirect)
	}
	status, body := get(t, redirect+"?code=one-time-code")
	if status != http.StatusOK || !strings.Contains(body, "You can close this window") {
		t.Fatalf("%d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := l.Wait(ctx)
	if err != nil || code != "one-time-code" {
		t.Fatalf("code %q %v", code, err)
	}
	// A reload changes nothing.
	if status, body := get(t, redirect+"?code=another"); status != http.StatusOK || !strings.Contains(body, "already handled") {
		t.Fatalf("second visit %d %s", status, body)
	}
	short, stop := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer stop()
	if _, err := l.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nothing more to wait for: %v", err)
	}
	if status, _ := get(t, strings.TrimSuffix(redirect, "/callback")+"/other"); status != http.StatusNotFound {
		t.Fatalf("other paths: %d", status)
	}
}

func TestCallbackWithErrorCode(t *testing.T) {
	l := listen(t)
	status, body := get(t, l.RedirectURL()+"?error="+string(api.CodeForbidden))
	if status != http.StatusBadRequest || !strings.Contains(body, "Sign-in failed") || strings.Contains(body, "<script") {
		t.Fatalf("%d %s", status, body)
	}
	_, err := l.Wait(context.Background())
	var e *api.Error
	if !errors.As(err, &e) || e.Code != api.CodeForbidden {
		t.Fatalf("error %v", err)
	}
}

func TestCallbackWithoutCode(t *testing.T) {
	l := listen(t)
	get(t, l.RedirectURL())
	if _, err := l.Wait(context.Background()); !errors.Is(err, loopback.ErrNoCode) {
		t.Fatalf("error %v", err)
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	l := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(l.RedirectURL() + "?code=x"); err == nil { //nolint:noctx // checking the port is closed
		t.Fatal("still listening after Close")
	}
}
