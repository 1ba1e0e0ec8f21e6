package state_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

func TestDescribeNeverShowsGoErrors(t *testing.T) {
	cases := []struct {
		err  error
		code string
		msg  string
	}{
		{fmt.Errorf("lock: %w", &api.Error{Code: api.CodeForbidden, Message: "only admins may manage admins", RequestID: "r1"}), "forbidden", "only admins may manage admins"},
		{&api.Error{Code: api.CodeInternal}, "internal", "The server refused the request."},
		{&state.InputError{Field: "email", Message: "Enter your email address."}, state.CodeInvalidInput, "Enter your email address."},
		{fmt.Errorf("devices: %w", state.ErrNotSupported), state.CodeNotSupported, "This server does not offer that yet."},
		{&url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, state.CodeUnreachable, "Cannot reach the server. Check the address and that it is running."},
		{context.DeadlineExceeded, state.CodeTimeout, "The server did not answer in time. Try again."},
		{errors.New("runtime: index out of range [3] with length 2"), state.CodeConsoleFailed, "The console could not complete this request."},
	}
	for _, c := range cases {
		p := state.Describe(c.err)
		if p.Code != c.code || p.Message != c.msg {
			t.Errorf("%v: %+v", c.err, p)
		}
	}
	if p := state.Describe(nil); p != (state.Problem{}) {
		t.Fatal(p)
	}
	if p := state.Describe(&api.Error{Code: api.CodeForbidden, Message: "m", RequestID: "r1"}); p.RequestID != "r1" {
		t.Fatal(p)
	}
}

func TestSettings(t *testing.T) {
	prefs := state.NewMemPrefs()
	s := state.NewSettings(prefs)
	if w, h := s.WindowSize(); w != 1280 || h != 800 {
		t.Fatal("default size")
	}
	s.SetWindowSize(1400, 900)
	if w, h := s.WindowSize(); w != 1400 || h != 900 {
		t.Fatal("remembered size")
	}
	s.SetWindowSize(10, 10)
	if w, _ := s.WindowSize(); w != 1280 {
		t.Fatal("a silly size is ignored")
	}
	if _, ok := s.Dark(); ok {
		t.Fatal("follow the system until chosen")
	}
	s.SetDark(true)
	if d, ok := s.Dark(); !d || !ok {
		t.Fatal("dark")
	}
	for i := range 10 {
		s.Remember(fmt.Sprintf("https://g%d.example.com", i), fmt.Sprintf("me%d@example.com", i))
	}
	s.Remember("https://g3.example.com", "again@example.com")
	servers := s.Servers()
	if len(servers) != 8 || servers[0] != "https://g3.example.com" || servers[1] != "https://g9.example.com" {
		t.Fatalf("servers %v", servers)
	}
	if s.Last().Email != "again@example.com" || s.EmailFor("https://G9.example.com") != "me9@example.com" || s.EmailFor("nope") != "" {
		t.Fatal("emails")
	}
	prefs.SetString("profiles", "{broken")
	if len(s.Profiles()) != 0 {
		t.Fatal("a damaged preference is forgotten")
	}
}

func TestActivity(t *testing.T) {
	var a state.Activity
	if busy, _ := a.Busy(); busy {
		t.Fatal("idle")
	}
	end1 := a.Begin("Loading users")
	end2 := a.Begin("Loading events")
	if busy, label := a.Busy(); !busy || label != "Loading users" {
		t.Fatal(label)
	}
	end1()
	end1() // ending twice is harmless
	if _, label := a.Busy(); label != "Loading events" {
		t.Fatal(label)
	}
	end2()
	if busy, _ := a.Busy(); busy {
		t.Fatal("idle again")
	}
}
