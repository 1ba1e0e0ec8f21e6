package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"gatehouse/shared/api"
)

// maxDetailField bounds a field name echoed back in error details.
const maxDetailField = 128

// DecodeJSON is the one request-body decoder (SEC-50). It reads the whole body (bounded by the
// server's body limit) and decodes it into dst, a pointer. Every fault in the client's input
// comes back as an *api.Error with a 4xx code, to be passed to WriteError:
//
//   - Content-Type not application/json (a utf-8 charset is allowed) → 415 unsupported_media_type
//   - body over the limit → 413 payload_too_large, details {"limit_bytes": n}
//   - empty body, invalid UTF-8, bad syntax or data after the value → 400 malformed_json
//     (details {"offset": n} where known)
//   - unknown field → 400 unknown_field, details {"field": name}
//   - wrong JSON type → 400 invalid_field_type, details {"field": "a.b", "expected": "string"}
//   - a top-level null, or an error from a type's own UnmarshalJSON → 400 invalid_request
//
// Only a programming error (dst not a non-nil pointer) yields a plain error, which WriteError
// answers with 500.
func DecodeJSON(c *gin.Context, dst any) error {
	if e := checkContentType(c.GetHeader("Content-Type")); e != nil {
		return e
	}
	limit := maxBodyBytes(c.Request.Context())
	body, e := readBody(c.Request.Body, limit)
	if e != nil {
		return e
	}
	return decodeBody(body, dst)
}

func checkContentType(ct string) *api.Error {
	unsupported := api.NewError(api.CodeUnsupportedMediaType, "Content-Type must be application/json")
	if ct == "" {
		return unsupported
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return unsupported
	}
	// JSON is UTF-8 (RFC 8259 §8.1); a body declared in another charset would be misread.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupported
	}
	return nil
}

// readBody reads at most limit bytes. It checks the limit itself as well as relying on the
// body-limit middleware's MaxBytesReader, so a route registered without the chain is still safe.
func readBody(r io.Reader, limit int64) ([]byte, *api.Error) {
	if r == nil {
		return nil, nil
	}
	n := limit
	if n < math.MaxInt64 {
		n++ // one byte more than allowed tells "at the limit" from "over it"
	}
	body, err := io.ReadAll(io.LimitReader(r, n))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, payloadTooLarge(tooLarge.Limit)
	case err != nil:
		// The client stopped sending (reset, read timeout): its fault, never a 500.
		return nil, api.NewError(api.CodeInvalidRequest, "request body could not be read")
	case int64(len(body)) > limit:
		return nil, payloadTooLarge(limit)
	}
	return body, nil
}

// decodeBody maps encoding/json's errors to API errors. It is separate from DecodeJSON so the
// fuzz target and benchmark exercise exactly this logic.
func decodeBody(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return api.NewError(api.CodeMalformedJSON, "request body is empty")
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD, which would let two different
	// byte strings decode to the same value; refuse them instead.
	if !utf8.Valid(body) {
		return malformed("request body is not valid UTF-8", invalidUTF8Offset(body))
	}
	if bytes.Equal(trimmed, []byte("null")) {
		return api.NewError(api.CodeInvalidRequest, "request body must not be null")
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, len(body))
	}
	rest := body[dec.InputOffset():]
	if trailing := bytes.TrimLeft(rest, " \t\r\n"); len(trailing) > 0 {
		return malformed("unexpected data after the JSON value", int64(len(body)-len(trailing)))
	}
	return nil
}

func decodeError(err error, bodyLen int) error {
	var (
		syntax     *json.SyntaxError
		typ        *json.UnmarshalTypeError
		invalid    *json.InvalidUnmarshalError
		apiErr     *api.Error
		unknownFld string
	)
	switch {
	case errors.As(err, &syntax):
		return malformed("request body is not valid JSON", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("request body ends in the middle of a JSON value", int64(bodyLen))
	case errors.As(err, &typ):
		return typeError(typ)
	case errors.As(err, &invalid):
		return fmt.Errorf("httpapi: decode JSON: %w", err) // programming error: dst is not a pointer
	case errors.As(err, &apiErr):
		return apiErr // a type's UnmarshalJSON already said what is wrong
	case parseUnknownField(err, &unknownFld):
		return &api.Error{
			Code:    api.CodeUnknownField,
			Message: fmt.Sprintf("unknown field %q", unknownFld),
			Details: map[string]any{"field": unknownFld},
		}
	default:
		// A type's own UnmarshalJSON/UnmarshalText refused the value (time.Time, say). Its text
		// may quote the input, so it is not echoed.
		return api.NewError(api.CodeInvalidRequest, "request body has an invalid value")
	}
}

// parseUnknownField recognises DisallowUnknownFields' error. encoding/json exposes no error type
// for it, only the text `json: unknown field "name"`, so this is the one place that parses text.
func parseUnknownField(err error, field *string) bool {
	const prefix = "json: unknown field "
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return false
	}
	name, uerr := strconv.Unquote(msg[len(prefix):])
	if uerr != nil {
		name = msg[len(prefix):]
	}
	*field = truncate(name, maxDetailField)
	return true
}

func typeError(e *json.UnmarshalTypeError) *api.Error {
	expected := jsonTypeName(e.Type)
	field := truncate(e.Field, maxDetailField)
	if field == "" {
		return &api.Error{
			Code:    api.CodeInvalidFieldType,
			Message: "request body must be a JSON " + expected,
			Details: map[string]any{"expected": expected},
		}
	}
	msg := fmt.Sprintf("field %q must be a JSON %s", field, expected)
	if expected == "number" && strings.HasPrefix(e.Value, "number") {
		// Right JSON type, but out of range or not an integer for the Go type.
		msg = fmt.Sprintf("field %q is out of range or not a whole number", field)
	}
	return &api.Error{
		Code:    api.CodeInvalidFieldType,
		Message: msg,
		Details: map[string]any{"field": field, "expected": expected},
	}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// jsonTypeName names the JSON type a Go type decodes from, for error messages.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "string" // uuid.UUID, netip.Addr and friends travel as strings
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // []byte travels as base64
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	default:
		return "value"
	}
}

func malformed(msg string, offset int64) *api.Error {
	return &api.Error{
		Code:    api.CodeMalformedJSON,
		Message: msg,
		Details: map[string]any{"offset": offset},
	}
}

// invalidUTF8Offset is the byte offset of the first invalid UTF-8 sequence in b.
func invalidUTF8Offset(b []byte) int64 {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return int64(i)
		}
		i += size
	}
	return int64(len(b))
}
