package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeLookup resolves names from a table; other names do not exist.
func fakeLookup(table map[string][]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		addrs, ok := table[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var ips []netip.Addr
		for _, a := range addrs {
			ips = append(ips, netip.MustParseAddr(a))
		}
		return ips, nil
	}
}

// TestLoopbackGuardRefuses checks that a non-loopback target is refused with exit status 2
// before anything is dialled.
func TestLoopbackGuardRefuses(t *testing.T) {
	names := map[string][]string{
		"gatehouse.test": {"192.0.2.7"},
		"split.test":     {"127.0.0.1", "192.0.2.8"},
		"empty.test":     {},
	}
	tests := []struct {
		name   string
		lookup bool // use the fake resolver; false: the system resolver
		urls   []string
	}{
		{"IPv4 documentation address", true, []string{"http://192.0.2.1/livez"}},
		{"IPv6 documentation address", true, []string{"http://[2001:db8::1]:8080/"}},
		{"unresolvable name", true, []string{"http://example.invalid/"}},
		{"unresolvable name, system resolver", false, []string{"http://example.invalid/"}},
		{"name resolving elsewhere", true, []string{"http://gatehouse.test/"}},
		{"name resolving partly elsewhere", true, []string{"https://split.test/"}},
		{"name without addresses", true, []string{"http://empty.test/"}},
		{"second URL elsewhere", true, []string{"http://127.0.0.1:1/", "http://192.0.2.1/"}},
		{"unspecified address", true, []string{"http://0.0.0.0:8080/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int64
			p := &program{
				dialContext: func(context.Context, string, string) (net.Conn, error) {
					dials.Add(1)
					return nil, errors.New("test: no dialling allowed")
				},
			}
			if tt.lookup {
				p.lookupIP = fakeLookup(names)
			}
			args := append([]string{"-c", "2", "-d", "200ms", "-warmup", "0"}, tt.urls...)
			code, stdout, stderr := runLoad(t, p, args...)
			if code != exitSetupError {
				t.Errorf("exit status %d, want %d", code, exitSetupError)
			}
			if n := dials.Load(); n != 0 {
				t.Errorf("%d dials, want none", n)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, "refusing") {
				t.Errorf("stderr = %q, want a refusal", stderr)
			}
		})
	}
}

func TestLoopbackGuardAllows(t *testing.T) {
	p := &program{lookupIP: fakeLookup(map[string][]string{
		"gatehouse.test": {"127.0.0.1", "::1"},
	})}
	for _, host := range []string{"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "gatehouse.test"} {
		if err := p.checkHost(t.Context(), host); err != nil {
			t.Errorf("checkHost(%q) = %v, want nil", host, err)
		}
	}
	cfg := &config{allowNonLoopback: true, urls: []string{"http://192.0.2.1/"}}
	if err := p.checkTargets(t.Context(), cfg); err != nil {
		t.Errorf("with -allow-non-loopback: %v", err)
	}
}

// TestDialGuard checks the second line of defence: the dialer refuses non-loopback addresses
// after resolution, whatever the URL said.
func TestDialGuard(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:80":         true,
		"127.9.9.9:80":         true,
		"[::1]:443":            true,
		"[::ffff:127.0.0.1]:1": true,
		"192.0.2.1:80":         false,
		"[2001:db8::1]:80":     false,
		"0.0.0.0:80":           false,
		"not-an-address":       false,
	} {
		err := loopbackOnly("tcp", addr, nil)
		if (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v, want allowed=%v", addr, err, ok)
		}
		if !ok && addr != "not-an-address" && !errors.Is(err, errNotLoopback) {
			t.Errorf("loopbackOnly(%q) = %v, want errNotLoopback", addr, err)
		}
	}
}
