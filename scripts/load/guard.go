package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// errNotLoopback is returned for a target that is not on this machine.
var errNotLoopback = errors.New("not a loopback address (use -allow-non-loopback to allow it)")

// lookupTimeout bounds resolving one target host for the loopback check.
const lookupTimeout = 5 * time.Second

// parseTarget checks that s is an absolute http or https URL with a host.
func parseTarget(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: scheme must be http or https", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("URL %q: no host", s)
	}
	return u, nil
}

// checkTargets refuses, before anything is sent, any URL whose host does not resolve only to
// loopback addresses, unless -allow-non-loopback. The dialer checks again at connect time
// (see loopbackOnly), so a name that resolves differently later is refused too.
func (p *program) checkTargets(ctx context.Context, cfg *config) error {
	if cfg.allowNonLoopback {
		return nil
	}
	checked := map[string]bool{}
	for _, raw := range cfg.urls {
		u, err := parseTarget(raw)
		if err != nil {
			return err
		}
		host := u.Hostname()
		if checked[host] {
			continue
		}
		if err := p.checkHost(ctx, host); err != nil {
			return fmt.Errorf("refusing %s: %w", raw, err)
		}
		checked[host] = true
	}
	return nil
}

// checkHost returns nil if host is localhost, a loopback IP, or a name whose every address is
// a loopback address.
func (p *program) checkHost(ctx context.Context, host string) error {
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !isLoopback(ip) {
			return fmt.Errorf("%s is %w", host, errNotLoopback)
		}
		return nil
	}
	lookup := p.lookupIP
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	ips, err := lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("cannot check that %s is a loopback address: %w", host, err)
	}
	if len(ips) == 0 {
		return fmt.Errorf("cannot check that %s is a loopback address: it has no addresses", host)
	}
	for _, ip := range ips {
		if !isLoopback(ip) {
			return fmt.Errorf("%s resolves to %s, which is %w", host, ip, errNotLoopback)
		}
	}
	return nil
}

// isLoopback reports whether ip is in 127.0.0.0/8 or is ::1 (IPv4-mapped forms included).
func isLoopback(ip netip.Addr) bool {
	return ip.Unmap().IsLoopback()
}

// loopbackOnly is a net.Dialer Control function: it refuses to connect to an address that is
// not a loopback address. It runs after name resolution, on the address actually dialled.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	if !isLoopback(ap.Addr()) {
		return fmt.Errorf("dial %s %s: %w", network, address, errNotLoopback)
	}
	return nil
}
