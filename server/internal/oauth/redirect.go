package oauth

import (
	"net"
	"net/url"
	"strings"
)

// CheckRedirect checks a redirect_to against the allow-list (SEC-35) and returns the target to
// use (a path when empty: "/"), and whether it is a native app's loopback address. Accepted:
// a same-site path ("/account", never "//host" or "/\host"), a loopback http URL with a port
// (RFC 8252: http://127.0.0.1:PORT/... or http://[::1]:PORT/...), or an absolute URL whose
// scheme and host equal an allowed prefix's and whose path starts with its path.
func CheckRedirect(raw string, allowed []string) (target string, loopback bool, err error) {
	if raw == "" {
		return "/", false, nil
	}
	if len(raw) > 2048 || strings.ContainsAny(raw, "\\\r\n\t") {
		return "", false, ErrRedirectNotAllowed
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" {
		return "", false, ErrRedirectNotAllowed
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || u.Opaque != "" {
			return "", false, ErrRedirectNotAllowed
		}
		return u.String(), false, nil
	}
	if u.Scheme == "http" && isLoopbackHost(u.Hostname()) && u.Port() != "" {
		return u.String(), true, nil
	}
	for _, a := range allowed {
		p, err := url.Parse(a)
		if err != nil {
			continue
		}
		if strings.EqualFold(u.Scheme, p.Scheme) && strings.EqualFold(u.Host, p.Host) && strings.HasPrefix(u.EscapedPath(), p.EscapedPath()) {
			return u.String(), false, nil
		}
	}
	return "", false, ErrRedirectNotAllowed
}

// secureScheme reports whether u is https, or http to a loopback address.
func secureScheme(u *url.URL) bool {
	return u.Scheme == "https" || (u.Scheme == "http" && isLoopbackHost(u.Hostname()))
}

// isLoopbackHost reports whether host is a loopback IP literal (names such as localhost are
// not trusted to resolve to loopback: RFC 8252, 8.3).
func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
