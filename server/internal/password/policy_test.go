package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// SEC-02, SEC-03: the policy table. The "common" rows are real entries of
// the bundled list (lines of common-passwords.txt), in other cases too.
// SEC-02, SEC-03
func TestValidate_SEC02_SEC03(t *testing.T) {
	cases := []struct {
		name, password, email, want string // want "" means accepted
	}{
		// SEC-02: length in characters, capped in bytes, any Unicode.
		{"empty", "", "", ReasonTooShort},
		{"11 ASCII", "abcdefghijk", "", ReasonTooShort},
		{"12 ASCII", "zq7-vortex-l", "", ""},
		{"11 emoji (44 bytes)", strings.Repeat("🦄", 11), "", ReasonTooShort},
		{"12 emoji", strings.Repeat("🦄", 12), "", ""},
		{"CJK", "正確な馬のバッテリーの定番", "", ""},
		{"11 CJK (33 bytes)", "正確な馬のバッテリーの", "", ReasonTooShort},
		{"spaces", "correct horse battery staple", "", ""},
		{"combining marks count as characters", "cafe\u0301 cafe\u0301 x", "", ""},
		{"no composition rules", "aaaaaaaaaaab", "", ""},
		{"1024 bytes", strings.Repeat("ab", MaxBytes/2), "", ""},
		{"1024 bytes of emoji", strings.Repeat("🦄", MaxBytes/4), "", ""},
		{"1025 bytes", strings.Repeat("a", MaxBytes+1), "", ReasonTooLong},
		{"1025 invalid bytes", strings.Repeat("\xff", MaxBytes+1), "", ReasonTooLong},
		{"invalid UTF-8", "valid prefix \xff\xfe then more", "", ReasonInvalidUTF8},
		{"truncated rune", "twelve chars\xe6\xad", "", ReasonInvalidUTF8},

		// SEC-03: the common-password list, case-insensitively.
		{"common password1234", "password1234", "", ReasonCommon},
		{"common Password1234", "Password1234", "", ReasonCommon},
		{"common QWERTY123456", "QWERTY123456", "", ReasonCommon},
		{"common 1qaz2wsx3edc", "1qaz2wsx3edc", "", ReasonCommon},
		{"common IseeDeadPeople", "IseeDeadPeople", "", ReasonCommon},
		{"common whosyourdaddy", "whosyourdaddy", "", ReasonCommon},
		{"not in list", "password1234!", "", ""},

		// SEC-03: the email's local part, case-insensitively, when >= 3 chars.
		{"contains local part", "alice-is-great-2024", "alice@example.com", ReasonContainsEmail},
		{"contains local part, other case", "ALICE-is-great-2024", "Alice@Example.com", ReasonContainsEmail},
		{"local part inside a word", "my-bobcat-is-fluffy", "bob@example.com", ReasonContainsEmail},
		{"plus address base", "alice-is-great-2024", "alice+shop@example.com", ReasonContainsEmail},
		{"whole plus local part", "alice+shop-forever-99", "alice+shop@example.com", ReasonContainsEmail},
		{"Unicode local part", "ZOË-rules-forever", "zoë@example.com", ReasonContainsEmail},
		{"2-char local part ignored", "al-is-great-2024", "al@example.com", ""},
		{"domain is not checked", "example-dot-com-rocks", "alice@example.com", ""},
		{"other user's name", "alice-is-great-2024", "carol@example.com", ""},
		{"no email", "alice-is-great-2024", "", ""},
		{"not an address", "alice-is-great-2024", "alice", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.password, c.email)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want accepted", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Validate = %v, want *PolicyError %s", err, c.want)
			}
			if pe.Reason != c.want {
				t.Fatalf("Reason = %q, want %q", pe.Reason, c.want)
			}
			if pe.Message == "" || pe.Error() != pe.Message {
				t.Fatalf("Message %q, Error() %q", pe.Message, pe.Error())
			}
			if c.password != "" && strings.Contains(pe.Message, c.password) {
				t.Fatalf("message contains the password: %q", pe.Message)
			}
		})
	}
}

// SEC-03: the bundled list is real data of the promised size, and reaches
// the passwords that survive the length rule.
// SEC-03
func TestCommonPasswordList_SEC03(t *testing.T) {
	set := commonPasswords()
	long := 0
	for p := range set {
		if utf8.RuneCountInString(p) >= MinLength {
			long++
		}
	}
	t.Logf("common-password list: %d entries, %d of them at least %d characters", len(set), long, MinLength)
	if len(set) < 10000 {
		t.Fatalf("common-password list has %d entries, want at least 10,000", len(set))
	}
	// The head of the source's rank order, and an entry with a quote,
	// which the generator had to unescape.
	for _, p := range []string{"123456", "password", "12345678", "qwerty", "pic's"} {
		if _, ok := set[p]; !ok {
			t.Errorf("%q missing from the list", p)
		}
	}
	for p := range set {
		if p == "" || strings.HasPrefix(p, "#") || p != strings.ToLower(p) {
			t.Fatalf("bad entry %q: comments or case leaked into the set", p)
		}
	}
}
