package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"gatehouse/shared/api"
)

// TestDecodeJSON_SEC50 drives the decoder through the full middleware chain: every bad input is
// a 4xx with a precise code, never a 500.
// SEC-50
func TestDecodeJSON_SEC50(t *testing.T) {
	s, _ := newTestServer(t, Options{MaxBodyBytes: 256})
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        api.Code
		details     map[string]any
	}{
		{"valid body", "application/json", `{"name":"ann","age":41,"tags":["a","b"],"profile":{"address":{"city":"Oslo"}}}`, 200, "", nil},
		{"valid with charset and whitespace", "application/json; charset=UTF-8", " \n{\"name\":\"ann\"}\n ", 200, "", nil},
		{"valid non-ASCII", "application/json", `{"name":"Åse 😀"}`, 200, "", nil},
		{"missing content type", "", `{"name":"ann"}`, 415, api.CodeUnsupportedMediaType, nil},
		{"text/plain", "text/plain", `{"name":"ann"}`, 415, api.CodeUnsupportedMediaType, nil},
		{"form", "application/x-www-form-urlencoded", `name=ann`, 415, api.CodeUnsupportedMediaType, nil},
		{"json lookalike", "application/jsonp", `{"name":"ann"}`, 415, api.CodeUnsupportedMediaType, nil},
		{"non-utf-8 charset", "application/json; charset=latin1", `{"name":"ann"}`, 415, api.CodeUnsupportedMediaType, nil},
		{"unparsable content type", "application/json; ;;=", `{"name":"ann"}`, 415, api.CodeUnsupportedMediaType, nil},
		{"empty body", "application/json", ``, 400, api.CodeMalformedJSON, nil},
		{"whitespace body", "application/json", " \n\t ", 400, api.CodeMalformedJSON, nil},
		{"syntax error", "application/json", `{"name":ann}`, 400, api.CodeMalformedJSON, map[string]any{"offset": float64(9)}},
		{"truncated", "application/json", `{"name":"ann"`, 400, api.CodeMalformedJSON, map[string]any{"offset": float64(13)}},
		{"trailing garbage", "application/json", `{"name":"ann"} xyz`, 400, api.CodeMalformedJSON, map[string]any{"offset": float64(15)}},
		{"two objects", "application/json", `{"name":"ann"}{"name":"bob"}`, 400, api.CodeMalformedJSON, map[string]any{"offset": float64(14)}},
		{"invalid UTF-8 in a string", "application/json", "{\"name\":\"a\xffb\"}", 400, api.CodeMalformedJSON, map[string]any{"offset": float64(10)}},
		{"overlong UTF-8 encoding", "application/json", "{\"name\":\"\xc0\xaf\"}", 400, api.CodeMalformedJSON, map[string]any{"offset": float64(9)}},
		{"unknown field", "application/json", `{"name":"ann","admin":true}`, 400, api.CodeUnknownField, map[string]any{"field": "admin"}},
		{"unknown nested field", "application/json", `{"profile":{"address":{"zip":"0150"}}}`, 400, api.CodeUnknownField, map[string]any{"field": "zip"}},
		{"wrong type: string", "application/json", `{"name":42}`, 400, api.CodeInvalidFieldType, map[string]any{"field": "name", "expected": "string"}},
		{"wrong type: number", "application/json", `{"age":"41"}`, 400, api.CodeInvalidFieldType, map[string]any{"field": "age", "expected": "number"}},
		{"wrong type: nested path", "application/json", `{"profile":{"address":{"city":7}}}`, 400, api.CodeInvalidFieldType, map[string]any{"field": "profile.address.city", "expected": "string"}},
		{"wrong type: slice element", "application/json", `{"tags":["a",1]}`, 400, api.CodeInvalidFieldType, map[string]any{"field": "tags", "expected": "string"}},
		{"wrong type: slice", "application/json", `{"tags":"a"}`, 400, api.CodeInvalidFieldType, map[string]any{"field": "tags", "expected": "array"}},
		{"wrong type: object", "application/json", `{"profile":[]}`, 400, api.CodeInvalidFieldType, map[string]any{"field": "profile", "expected": "object"}},
		{"not a whole number", "application/json", `{"age":4.5}`, 400, api.CodeInvalidFieldType, map[string]any{"field": "age", "expected": "number"}},
		{"top-level array", "application/json", `["ann"]`, 400, api.CodeInvalidFieldType, map[string]any{"expected": "object"}},
		{"top-level string", "application/json", `"ann"`, 400, api.CodeInvalidFieldType, map[string]any{"expected": "object"}},
		{"top-level null", "application/json", `null`, 400, api.CodeInvalidRequest, nil},
		{"oversized", "application/json", `{"name":"` + strings.Repeat("a", 300) + `"}`, 413, api.CodePayloadTooLarge, map[string]any{"limit_bytes": float64(256)}},
		{"deep nesting", "application/json", strings.Repeat("[", 200), 400, api.CodeMalformedJSON, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.contentType != "" {
				hdr["Content-Type"] = tt.contentType
			}
			rec := do(s.Handler(), http.MethodPost, "/api/v1/echo", strings.NewReader(tt.body), hdr)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == http.StatusOK {
				var got echoRequest
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				var want echoRequest
				_ = json.Unmarshal([]byte(tt.body), &want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("decoded %+v, want %+v", got, want)
				}
				return
			}
			e := decodeEnvelope(t, rec)
			if e.Code != tt.code {
				t.Fatalf("code %q, want %q (%s)", e.Code, tt.code, e.Message)
			}
			if e.Message == "" {
				t.Fatal("empty message")
			}
			for k, v := range tt.details {
				if e.Details[k] != v {
					t.Errorf("details[%s] = %#v, want %#v (all %v)", k, e.Details[k], v, e.Details)
				}
			}
		})
	}
}

// TestDecodeJSONWithoutMiddleware proves the decoder bounds the body by itself when used on a
// context that did not pass through the body-limit middleware.
func TestDecodeJSONWithoutMiddleware(t *testing.T) {
	c, _ := testContext(httptest.NewRecorder())
	body := `{"name":"` + strings.Repeat("a", int(DefaultMaxBodyBytes)) + `"}`
	c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	c.Request.Header.Set("Content-Type", "application/json")
	var dst echoRequest
	err := DecodeJSON(c, &dst)
	var e *api.Error
	if !errors.As(err, &e) || e.Code != api.CodePayloadTooLarge {
		t.Fatalf("want payload_too_large, got %v", err)
	}
}

func TestDecodeJSONProgrammingError(t *testing.T) {
	err := decodeBody([]byte(`{"name":"ann"}`), echoRequest{}) // not a pointer
	var e *api.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("want a plain (500) error for a non-pointer destination, got %v", err)
	}
}

// FuzzDecodeJSON feeds arbitrary bodies through the full handler: no input may panic or earn a
// 5xx, and every refusal is the error envelope (SEC-50).
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"ann","age":41,"tags":["a"],"profile":{"address":{"city":"Oslo"}}}`,
		``, `null`, `{`, `{"name":1}`, `{"x":1}`, `{} {}`, "{\"name\":\"\xff\"}",
		`{"age":1e400}`, `{"tags":[[[[[]]]]]}`, `{"profile":{"address":null}}`, `"\ud800"`,
	} {
		f.Add(seed)
	}
	s, _ := newTestServer(f, Options{MaxBodyBytes: 4096, Logger: slog.New(slog.DiscardHandler)})
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		rec := do(h, http.MethodPost, "/api/v1/echo", strings.NewReader(body), jsonHeader)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code != http.StatusOK {
			e := decodeEnvelope(t, rec)
			if e.Code.Status() != rec.Code {
				t.Fatalf("code %q travels with %d, answered %d", e.Code, e.Code.Status(), rec.Code)
			}
		}
	})
}

// BenchmarkDecodeJSON measures DecodeJSON itself (content-type check, bounded read, UTF-8
// check, strict decode) on a typical small body.
func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(`{"name":"ann","age":41,"password":"correct horse battery staple","tags":["a","b","c"],"profile":{"address":{"city":"Oslo"}}}`)
	c, _ := testContext(httptest.NewRecorder())
	req := httptest.NewRequest(http.MethodPost, "/api/v1/echo", nil)
	req.Header.Set("Content-Type", "application/json")
	c.Request = req
	rd := bytes.NewReader(body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		var dst echoRequest
		if err := DecodeJSON(c, &dst); err != nil {
			b.Fatal(err)
		}
	}
}
