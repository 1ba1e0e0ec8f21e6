// Package client is the typed Gatehouse API client used by the desktop console, the CLI, the
// end-to-end tests and the benchmarks. It speaks either of the two authentication modes:
// a bearer token (apps) or a cookie session with its CSRF token (browsers and the console).
// Error responses come back as *api.Error carrying the stable code, so callers switch on codes
// with errors.As on both sides of the wire.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// DefaultTimeout bounds every request unless WithHTTPClient or WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 1 << 20

// Client talks to one Gatehouse server. It is safe for concurrent use.
type Client struct {
	base *url.URL
	http *http.Client

	mu        sync.RWMutex
	bearer    string
	csrfToken string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc for every request (its Jar, Transport and Timeout are kept).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithTimeout sets the overall per-request timeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.http.Timeout = d }
}

// WithBearerToken authenticates every request with an access token.
func WithBearerToken(token string) Option {
	return func(c *Client) { c.bearer = token }
}

// WithCookieJar keeps the server's cookies (cookie-session mode). New creates an in-memory jar
// when none is given.
func WithCookieJar(jar http.CookieJar) Option {
	return func(c *Client) { c.http.Jar = jar }
}

// New returns a client for the server at baseURL (e.g. "http://127.0.0.1:8080").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("base URL %q: scheme must be http or https", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: DefaultTimeout}}
	for _, o := range opts {
		o(c)
	}
	if c.http.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, fmt.Errorf("cookie jar: %w", err)
		}
		c.http.Jar = jar
	}
	return c, nil
}

// BaseURL is the server's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// SetBearerToken switches to (or refreshes) bearer mode; an empty token turns it off.
func (c *Client) SetBearerToken(token string) {
	c.mu.Lock()
	c.bearer = token
	c.mu.Unlock()
}

// SetCSRFToken sets the token sent as X-CSRF-Token on unsafe requests in cookie mode.
func (c *Client) SetCSRFToken(token string) {
	c.mu.Lock()
	c.csrfToken = token
	c.mu.Unlock()
}

// Response is what Do returns besides the decoded body.
type Response struct {
	StatusCode int
	Header     http.Header
	RequestID  string
}

// Do sends a JSON request and decodes a 2xx JSON answer into out (when out is non-nil).
// A non-2xx answer is returned as *api.Error. It is exported so tests and tools can reach
// endpoints before they get a typed method; typed methods are preferred.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (*Response, error) {
	return c.do(ctx, method, path, nil, in, out)
}

func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, in, out any) (*Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	c.mu.RLock()
	bearer, csrf := c.bearer, c.csrfToken
	c.mu.RUnlock()
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else if csrf != "" && !safeMethod(method) {
		req.Header.Set(api.HeaderCSRFToken, csrf)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	r := &Response{StatusCode: resp.StatusCode, Header: resp.Header, RequestID: resp.Header.Get(api.HeaderRequestID)}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return r, decodeError(resp, r.RequestID)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return r, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return r, fmt.Errorf("decode %s %s response: %w", method, path, err)
	}
	return r, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// decodeError turns an error response into *api.Error. A body that is not the envelope (a
// proxy's HTML page, say) still yields a typed error with a code chosen from the status.
func decodeError(resp *http.Response, requestID string) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env api.ErrorBody
	if err := json.Unmarshal(raw, &env); err != nil || env.Error.Code == "" {
		env.Error = api.Error{Code: codeForStatus(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
	}
	e := env.Error
	e.RequestID = requestID
	e.HTTPStatus = resp.StatusCode
	return &e
}

func codeForStatus(status int) api.Code {
	for _, c := range api.Codes() {
		// Several codes share a status; prefer the generic one.
		if c.Status() == status && generic[c] {
			return c
		}
	}
	if status >= 500 {
		return api.CodeInternal
	}
	return api.CodeInvalidRequest
}

var generic = map[api.Code]bool{
	api.CodeInvalidRequest: true, api.CodeUnauthorized: true, api.CodeForbidden: true,
	api.CodeNotFound: true, api.CodeMethodNotAllowed: true, api.CodeConflict: true,
	api.CodePayloadTooLarge: true, api.CodeUnsupportedMediaType: true, api.CodeRateLimited: true,
	api.CodeInternal: true, api.CodeBadGateway: true, api.CodeUnavailable: true,
}

// ErrorCode returns the API error code carried by err, or "" when err is not an API error.
func ErrorCode(err error) api.Code {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
