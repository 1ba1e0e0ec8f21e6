package password

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Length limits for new passwords (SEC-02). There are no composition rules:
// length and the common-password list do the work, and any Unicode is
// allowed.
const (
	// MinLength is the minimum length in characters (Unicode code points),
	// so a 12-character CJK or emoji password is as welcome as an ASCII one.
	MinLength = 12
	// MaxBytes caps the password before hashing. It is in bytes because it
	// bounds work and request size; it is far above the 64 characters
	// ASVS asks us to allow, and passwords are never truncated to fit.
	MaxBytes = 1024
	// minLocalPart is the shortest email local part checked for: shorter
	// ones ("al", "j") occur in too many good passwords to forbid.
	minLocalPart = 3
)

// Reasons a password is refused, the stable values of PolicyError.Reason.
const (
	ReasonTooShort      = "too_short"
	ReasonTooLong       = "too_long"
	ReasonInvalidUTF8   = "invalid_utf8"
	ReasonCommon        = "common"
	ReasonContainsEmail = "contains_email"
)

// PolicyError says why a new password is refused. Reason is one of the
// Reason* constants, for clients to switch on; Message is safe to show the
// user and never contains the password.
type PolicyError struct {
	Reason  string
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

// Validate checks a new password against the policy (SEC-02, SEC-03) and
// returns a *PolicyError for the first rule it breaks, or nil. email is the
// account's address; its local part (and, for plus addresses, the part
// before '+') may not appear in the password when it is at least 3
// characters long. Checks run cheapest first and the byte cap comes first,
// so an oversized input is refused before any per-character work.
func Validate(password, email string) error {
	switch {
	case len(password) > MaxBytes:
		return &PolicyError{ReasonTooLong, fmt.Sprintf("password must be at most %d bytes long", MaxBytes)}
	case !utf8.ValidString(password):
		return &PolicyError{ReasonInvalidUTF8, "password must be valid UTF-8 text"}
	case utf8.RuneCountInString(password) < MinLength:
		return &PolicyError{ReasonTooShort, fmt.Sprintf("password must be at least %d characters long", MinLength)}
	case isCommon(password):
		return &PolicyError{ReasonCommon, "password is too common; choose another"}
	case containsLocalPart(password, email):
		return &PolicyError{ReasonContainsEmail, "password must not contain the name part of your email address"}
	}
	return nil
}

// containsLocalPart reports whether password contains, case-insensitively,
// the part of email before the last '@' or, for plus addressing
// (alice+shop@), the part before the '+': both name the user.
func containsLocalPart(password, email string) bool {
	email = strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false // not an address; the account layer validates emails
	}
	local := email[:at]
	base, _, _ := strings.Cut(local, "+")
	lower := strings.ToLower(password)
	for _, part := range []string{local, base} {
		if utf8.RuneCountInString(part) >= minLocalPart && strings.Contains(lower, part) {
			return true
		}
	}
	return false
}
