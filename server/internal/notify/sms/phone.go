package sms

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalidPhone reports a phone number that is not a valid, dialable
// number (in E.164 or in the national format of the default region).
var ErrInvalidPhone = errors.New("invalid phone number")

// maxPhoneInput bounds what is handed to the parser; no real number written
// with any punctuation comes near it.
const maxPhoneInput = 64

// NormalizePhone parses raw (international "+44 20 7946 0018", or national
// "020 7946 0018" read in defaultRegion, an ISO 3166-1 alpha-2 code such as
// "GB"; defaultRegion may be empty when raw starts with "+") and returns the
// number in E.164 form ("+442079460018"). Numbers that parse but are not valid
// for their region (too short, unassigned ranges) give ErrInvalidPhone.
func NormalizePhone(raw, defaultRegion string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxPhoneInput {
		return "", ErrInvalidPhone
	}
	num, err := phonenumbers.Parse(raw, strings.ToUpper(strings.TrimSpace(defaultRegion)))
	if err != nil {
		// The parser's message says why (no country code, too short); the
		// input itself is not repeated, it may be personal data.
		return "", fmt.Errorf("%w: %w", ErrInvalidPhone, err)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", ErrInvalidPhone
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}
