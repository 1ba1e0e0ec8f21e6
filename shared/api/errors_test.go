package api

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestEveryCodeHasAClientOrServerStatus(t *testing.T) {
	codes := Codes()
	if len(codes) < 15 {
		t.Fatalf("codes: %v", codes)
	}
	for _, c := range codes {
		if s := c.Status(); s < 400 || s > 599 {
			t.Errorf("%s -> %d", c, s)
		}
	}
	if Code("made_up").Status() != 500 {
		t.Fatal("unknown codes map to 500")
	}
}

func TestEnvelopeWireFormat(t *testing.T) {
	b, err := json.Marshal(ErrorBody{Error: Error{Code: CodeNotFound, Message: "no such user", RequestID: "r1", HTTPStatus: 404}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"error":{"code":"not_found","message":"no such user"}}` {
		t.Fatalf("wire format: %s", got)
	}
	var e error = NewError(CodeConflict, "taken")
	var apiErr *Error
	if !errors.As(e, &apiErr) || apiErr.Code != CodeConflict || e.Error() != "conflict: taken" {
		t.Fatalf("error value: %v", e)
	}
}
