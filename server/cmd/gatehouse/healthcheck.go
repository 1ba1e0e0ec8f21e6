package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"gatehouse/server/internal/config"
)

// healthcheckCmd probes the local server, so a container image without a shell or curl
// (distroless) can still have a HEALTHCHECK: exit 0 when the probe answers 2xx, 1 otherwise.
//
//	gatehouse healthcheck [--config FILE] [--url URL] [--live] [--timeout D]
//
// Without --url the target is derived from the same configuration serve reads
// (GATEHOUSE_ADDR, TLS files), with a wildcard listen host replaced by loopback.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	var (
		rawURL  string
		live    bool
		timeout time.Duration
	)
	cfg, rest, err := loadConfig("healthcheck", args, stderr, environ, func(fs *flag.FlagSet) {
		fs.StringVar(&rawURL, "url", "", "URL to probe (default: /readyz on the configured listen address)")
		fs.BoolVar(&live, "live", false, "probe /livez (the process only) instead of /readyz (its dependencies too)")
		fs.DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	})
	// The probe needs only the address and TLS settings: a configuration that fails
	// validation elsewhere must not make a running server look unhealthy.
	var verr *config.ValidationError
	if err != nil && !errors.As(err, &verr) {
		return err
	}
	if len(rest) > 0 || timeout <= 0 {
		return errUsage
	}
	target := rawURL
	if target == "" {
		path := "/readyz"
		if live {
			path = "/livez"
		}
		if target, err = localURL(cfg.HTTP.Addr, cfg.TLS(), path); err != nil {
			return err
		}
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want an http:// or https:// URL", target)
	}

	client := &http.Client{
		Timeout: timeout,
		// A redirect is not a healthy answer from a probe endpoint.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if u.Scheme == "https" && cfg.TLS() && rawURL == "" {
		tr, err := pinnedTransport(cfg.HTTP.TLSCertFile)
		if err != nil {
			return err
		}
		client.Transport = tr
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", target, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", target, err)
	}
	defer func() { _ = resp.Body.Close() }()
	// /readyz names the failing dependency in its body: worth keeping in `docker inspect`.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	body = bytes.TrimSpace(body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: %s %s", target, resp.Status, body)
	}
	fmt.Fprintf(stdout, "ok %s %s\n", target, resp.Status)
	return nil
}

// localURL turns a listen address into a URL a process on the same host can reach: a wildcard
// host (empty, 0.0.0.0, ::) becomes the loopback address of the same family.
func localURL(addr string, tlsOn bool, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("listen address %q has no fixed port: pass --url", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: path}).String(), nil
}

// pinnedTransport trusts exactly the certificate the server is configured to present. The
// probe dials loopback, a name the certificate rarely carries, so ordinary verification would
// fail; comparing the presented leaf with the configured one is as strict and needs no name.
func pinnedTransport(certFile string) (*http.Transport, error) {
	raw, err := os.ReadFile(certFile) //nolint:gosec // the operator names this file
	if err != nil {
		return nil, fmt.Errorf("read TLS certificate: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("TLS certificate %s: no PEM certificate", certFile)
	}
	want, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s: %w", certFile, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is not skipped: VerifyConnection below accepts only the pinned leaf.
		InsecureSkipVerify: true, //nolint:gosec // replaced by the exact-certificate check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(want) {
				return errors.New("the server presented a certificate other than the configured one")
			}
			return nil
		},
	}
	return tr, nil
}
