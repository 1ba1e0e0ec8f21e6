package gcp

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Secret Manager ids are 1-255 characters of [A-Za-z0-9_-]; Gatehouse names are up to 512
// bytes of [A-Za-z0-9._-] and "/". The encoding:
//
//   - letters, digits and '-' stand for themselves;
//   - '_' is the escape character: '/' becomes "_s", '.' "_d", '_' "_u"; any other byte b
//     (none pass the service's validation) becomes "_x" and two lower-case hex digits.
//
// So "billing/prod/db-password" is stored as "billing_sprod_sdb-password". Every escape is '_'
// followed by one of s, d, u, x: a prefix code, so the encoding decodes and distinct names
// never collide (case is kept: Secret Manager ids are case-sensitive).
//
// An encoding longer than 255 characters is replaced by "_h" and the base32 SHA-256 of the
// name (54 characters). "_h" never occurs in an escaped name, so the two forms cannot collide;
// hashed ids are not decodable, so every secret also carries the original name in its
// annotations (annotationName).
const (
	maxSecretID  = 255
	hashedPrefix = "_h"
)

// EncodeName returns the Secret Manager secret id for a Gatehouse name.
func EncodeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case plain(c):
			b.WriteByte(c)
		case c == '/':
			b.WriteString("_s")
		case c == '.':
			b.WriteString("_d")
		case c == '_':
			b.WriteString("_u")
		default:
			const hexDigits = "0123456789abcdef"
			b.WriteString("_x")
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	if b.Len() == 0 || b.Len() > maxSecretID {
		sum := sha256.Sum256([]byte(name))
		return hashedPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
	}
	return b.String()
}

// DecodeName reverses EncodeName. ok is false for a hashed id (read the original from the
// secret's annotations) and for ids Gatehouse did not encode.
func DecodeName(id string) (name string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c != '_' {
			if !plain(c) {
				return "", false
			}
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(id) {
			return "", false
		}
		i++
		switch id[i] {
		case 's':
			b.WriteByte('/')
		case 'd':
			b.WriteByte('.')
		case 'u':
			b.WriteByte('_')
		case 'x':
			if i+2 >= len(id) {
				return "", false
			}
			v, ok := unhex(id[i+1], id[i+2])
			if !ok {
				return "", false
			}
			b.WriteByte(v)
			i += 2
		default: // "_h" (hashed) and anything foreign
			return "", false
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return b.String(), true
}

// plain bytes stand for themselves.
func plain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
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
