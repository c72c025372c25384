// Package jsonscan walks JSON bytes without decoding them, so that the proxy
// can pick a few fields out of megabyte request bodies and SSE payloads
// without allocating a tree for everything else.
//
// The scanner validates what it walks with the grammar of encoding/json
// (including its nesting limit), so a body it accepts is one json.Valid
// accepts too.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// ErrSyntax is wrapped by every error this package returns for malformed JSON.
var ErrSyntax = errors.New("jsonscan: invalid JSON")

// maxDepth mirrors encoding/json's nesting limit, so the two agree on validity
// and a hostile body cannot exhaust the stack.
const maxDepth = 10000

func syntaxError(off int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, off)
}

// Skip skips the JSON value that starts at b[i] (after optional whitespace)
// and returns the offset just past it. The value is validated as it is skipped.
func Skip(b []byte, i int) (end int, err error) {
	if i < 0 {
		return 0, syntaxError(i, "negative offset")
	}
	return skipValue(b, skipSpace(b, i), 1)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue skips the value at b[i]; depth is the nesting level a container
// starting there would have.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, syntaxError(i, "unexpected end of input")
	}
	switch c := b[i]; c {
	case '"':
		end, _, err := skipString(b, i)
		return end, err
	case '{':
		return members(b, i, depth, nil)
	case '[':
		return elems(b, i, depth, nil)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		if c == '-' || isDigit(c) {
			return skipNumber(b, i)
		}
		return i, syntaxError(i, fmt.Sprintf("invalid character %q looking for a value", c))
	}
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, syntaxError(i, "invalid literal, expected "+lit)
	}
	return i + len(lit), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipNumber follows the JSON number grammar exactly; encoding/json rejects
// leading zeros, bare dots and empty exponents, so must we.
func skipNumber(b []byte, i int) (int, error) {
	j := i
	if b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j++; j < len(b) && isDigit(b[j]); j++ {
		}
	default:
		return j, syntaxError(j, "invalid number")
	}
	if j < len(b) && b[j] == '.' {
		j++
		if j >= len(b) || !isDigit(b[j]) {
			return j, syntaxError(j, "invalid number: no digit after decimal point")
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || !isDigit(b[j]) {
			return j, syntaxError(j, "invalid number: no digit in exponent")
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	}
	return j, nil
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special has the high bit set in (at least) the lowest byte of x that is a
// quote, a backslash or a control character. Borrows only leak into bytes
// above a true match, so the lowest flagged byte is always exact.
func special(x uint64) uint64 {
	q := x ^ (ones * '"')
	s := x ^ (ones * '\\')
	return ((q-ones)&^q | (s-ones)&^s | (x-ones*0x20)&^x) & highs
}

// skipString skips the string starting at the quote b[i]. escaped reports a
// backslash inside, the only case where the raw bytes differ from the value
// (besides invalid UTF-8). Strings are the bulk of request bodies (a
// conversation's text, tool output, base64 reasoning). Each run between
// escapes is first read a word at a time, which decides names, ids and
// text dense with escapes; a run longer than that is crossed with
// bytes.IndexByte (vectorised) to its closing quote and next backslash,
// and checked for control characters. Anything wrong is left to
// skipStringExact, which says what and where.
func skipString(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	q := -1 // the first quote at or after j, once found
	for {
		found := false
		for n := 0; n < shortRun && j+8 <= len(b); n++ {
			if m := special(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				found = true
				break
			}
			j += 8
		}
		if !found {
			// A long run: to the next backslash, or to the quote.
			if q < j {
				k := bytes.IndexByte(b[j:], '"')
				if k < 0 {
					return skipStringExact(b, i)
				}
				q = j + k
			}
			run := b[j:q]
			k := bytes.IndexByte(run, '\\')
			if k >= 0 {
				run = run[:k]
			}
			if hasControl(run) {
				return skipStringExact(b, i)
			}
			if k < 0 {
				return q + 1, escaped, nil
			}
			j += k
		}
		switch b[j] {
		case '"':
			return j + 1, escaped, nil
		case '\\':
			escaped = true
			if j+1 >= len(b) {
				return skipStringExact(b, i)
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if len(b)-j < 6 || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return skipStringExact(b, i)
				}
				j += 6
			default:
				return skipStringExact(b, i)
			}
		default: // a control character
			return skipStringExact(b, i)
		}
	}
}

// shortRun is how many words of a run skipString reads inline before it
// turns to bytes.IndexByte, whose calls cost more than a short search.
const shortRun = 4

// hasControl reports whether s holds a byte below 0x20, which a JSON
// string may not. A word's flags are only ever set at or above a true
// match (borrows start there), so any flag means one.
func hasControl(s []byte) bool {
	var acc uint64
	for len(s) >= 32 {
		w0 := binary.LittleEndian.Uint64(s)
		w1 := binary.LittleEndian.Uint64(s[8:])
		w2 := binary.LittleEndian.Uint64(s[16:])
		w3 := binary.LittleEndian.Uint64(s[24:])
		acc |= (w0-ones*0x20)&^w0 | (w1-ones*0x20)&^w1 | (w2-ones*0x20)&^w2 | (w3-ones*0x20)&^w3
		s = s[32:]
	}
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64(s)
		acc |= (w - ones*0x20) &^ w
		s = s[8:]
	}
	for _, c := range s {
		if c < 0x20 {
			return true
		}
	}
	return acc&highs != 0
}

// skipStringExact is skipString one run of eight bytes at a time, in
// the order a reader would: it finds the first fault in a string and says
// where it is. skipString hands it every string it cannot accept.
func skipStringExact(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	for {
		for j+8 <= len(b) {
			m := special(binary.LittleEndian.Uint64(b[j:]))
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			return j, escaped, syntaxError(i, "unterminated string")
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return j, escaped, syntaxError(j, "unterminated string")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if len(b)-j < 6 || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return j, escaped, syntaxError(j, `invalid \u escape`)
				}
				j += 6
			default:
				return j, escaped, syntaxError(j, "invalid escape in string")
			}
		case c < 0x20:
			return j, escaped, syntaxError(j, "control character in string")
		default:
			j++
		}
	}
}

func isHex(c byte) bool {
	return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}
