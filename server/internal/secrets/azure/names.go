package azure

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Key Vault secret names are 1-127 characters of [0-9a-zA-Z-] and case-insensitive; Gatehouse
// names are up to 512 bytes of [A-Za-z0-9._-] and "/", case-sensitive. The encoding:
//
//   - a-z and 0-9 stand for themselves;
//   - '-' is the escape character: an upper-case letter X becomes "-x"; '-' becomes "-0",
//     '/' "-1", '_' "-2", '.' "-3"; any other byte b (none pass the service's validation)
//     becomes "-9" and two lower-case hex digits.
//
// So "billing/prod/db-password" is stored as "billing-1prod-1db-0password" and
// "Billing/DB" as "-billing-1-d-b". The output holds no upper-case letters, so Key Vault's
// case-insensitivity cannot merge two names; every escape is '-' followed by a letter or digit,
// so the encoding is a prefix code: decodable, and distinct names never collide.
//
// An encoding longer than 127 characters is replaced by "h--" and the base32 SHA-256 of the
// name (55 characters). "--" never occurs in an escaped name, so the two forms cannot collide;
// hashed names are not decodable from the Key Vault name alone, so every version also carries
// the original name in its tags (tagName, tagName2: tag values hold at most 256 characters).
const (
	maxKVName    = 127
	hashedPrefix = "h--"
)

var punctuation = map[byte]byte{'-': '0', '/': '1', '_': '2', '.': '3'}

// EncodeName returns the Key Vault secret name for a Gatehouse name.
func EncodeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte('-')
			b.WriteByte(c - 'A' + 'a')
		case punctuation[c] != 0:
			b.WriteByte('-')
			b.WriteByte(punctuation[c])
		default:
			const hexDigits = "0123456789abcdef"
			b.WriteString("-9")
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	if b.Len() == 0 || b.Len() > maxKVName {
		sum := sha256.Sum256([]byte(name))
		return hashedPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
	}
	return b.String()
}

// DecodeName reverses EncodeName. ok is false for a hashed name (read the original from the
// secret's tags) and for names Gatehouse did not encode.
func DecodeName(kvName string) (name string, ok bool) {
	if strings.Contains(kvName, "--") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(kvName); i++ {
		c := kvName[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		case c != '-' || i+1 >= len(kvName):
			return "", false
		default:
			i++
			e := kvName[i]
			switch {
			case e >= 'a' && e <= 'z':
				b.WriteByte(e - 'a' + 'A')
			case e == '9' && i+2 < len(kvName):
				v, ok := unhex(kvName[i+1], kvName[i+2])
				if !ok {
					return "", false
				}
				b.WriteByte(v)
				i += 2
			default:
				found := false
				for p, code := range punctuation {
					if code == e {
						b.WriteByte(p)
						found = true
					}
				}
				if !found {
					return "", false
				}
			}
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return b.String(), true
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexVal(hi)
	l, ok2 := hexVal(lo)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
