package translate

import (
	"unicode/utf8"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// Small JSON helpers of the account half. Most text passes from the
// request (or from a chunk) to the output without being decoded: the inside
// of a JSON string token is itself valid escaped text, and two such insides
// side by side are the escaped text of the two strings joined. Only what the
// translation writes itself is escaped here.

const acctHex = "0123456789abcdef"

// acctEscape appends s JSON-escaped, without quotes. It escapes only what
// JSON requires (quote, backslash, control characters) and passes UTF-8 as
// is; invalid UTF-8 becomes U+FFFD, as encoding/json does.
func acctEscape(dst []byte, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', acctHex[c>>4], acctHex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// acctEscapeStr is acctEscape of a string.
func acctEscapeStr(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return acctEscape(dst, []byte(s))
		}
	}
	return append(dst, s...)
}

// acctString appends s as a JSON string.
func acctString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = acctEscapeStr(dst, s)
	return append(dst, '"')
}

// acctInner is the inside of the raw JSON string token raw (its escaped
// text without the quotes), and whether raw is a string at all.
func acctInner(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	return raw[1 : len(raw)-1], true
}

// acctStr is the value of a raw JSON string, "" for anything else.
func acctStr(raw []byte) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	s, err := jsonscan.String(raw)
	if err != nil {
		return ""
	}
	return s
}

// acctIsNull reports a missing or null value.
func acctIsNull(raw []byte) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// acctKey appends `,"key":` (no comma first when first is true).
func acctKey(dst []byte, key string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}
