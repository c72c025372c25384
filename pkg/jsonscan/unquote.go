package jsonscan

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Unquote returns the value of the raw JSON string raw (quotes included).
// When raw has no escapes and is valid UTF-8 the result aliases raw, so the
// common case costs nothing; otherwise it is a new slice decoded exactly as
// encoding/json decodes strings (invalid UTF-8 and lone surrogates become
// U+FFFD). The result must not be modified.
func Unquote(raw []byte) ([]byte, error) {
	end, escaped, err := stringToken(raw)
	if err != nil {
		return nil, err
	}
	if end != len(raw) {
		return nil, syntaxError(end, "data after the string")
	}
	return unquote(raw, escaped)
}

// String is Unquote returning a string.
func String(raw []byte) (string, error) {
	v, err := Unquote(raw)
	if err != nil {
		return "", err
	}
	return string(v), nil
}

// Equal reports whether raw is a JSON string whose value is s. It compares
// the bytes directly and unquotes only when raw holds a backslash, so that
// "mod\u0065l" still equals "model".
func Equal(raw []byte, s string) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner) == s
	}
	v, err := Unquote(raw)
	return err == nil && string(v) == s
}

func stringToken(raw []byte) (int, bool, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return 0, false, syntaxError(0, "not a string")
	}
	return skipString(raw, 0)
}

// unquote decodes a string token already known to be valid.
func unquote(raw []byte, escaped bool) ([]byte, error) {
	s := raw[1 : len(raw)-1]
	if !escaped && utf8.Valid(s) {
		return s, nil
	}
	out := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			if r+1 >= len(s) {
				return nil, syntaxError(r, "unterminated escape")
			}
			switch e := s[r+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				r += 2
			case 'b':
				out, r = append(out, '\b'), r+2
			case 'f':
				out, r = append(out, '\f'), r+2
			case 'n':
				out, r = append(out, '\n'), r+2
			case 'r':
				out, r = append(out, '\r'), r+2
			case 't':
				out, r = append(out, '\t'), r+2
			case 'u':
				rr := hex4(s[r:])
				if rr < 0 {
					return nil, syntaxError(r, `invalid \u escape`)
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, hex4(s[r:])); dec != unicode.ReplacementChar {
						out = utf8.AppendRune(out, dec)
						r += 6
						break
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
			default:
				return nil, syntaxError(r, "invalid escape in string")
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			out = utf8.AppendRune(out, rr)
			r += size
		}
	}
	return out, nil
}

// hex4 decodes the \uXXXX escape at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case isDigit(c):
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
