// Package redact keeps credentials out of everything the proxy emits: logs,
// errors, the status document, the event stream and what it passes on from
// an upstream. An upstream may quote the key it was sent ("Incorrect API key
// provided: sk-..."), and a base_url or Redis URL may carry a password, so
// text that came from outside or names a URL goes through a Set before it
// leaves the process.
//
// A Set hides the exact secrets it holds (keys, tokens, URL passwords) and,
// whatever it holds, anything shaped like an OpenAI key or a JWT: a token
// rotated since the Set was filled has left it, but still has that shape.
package redact

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces every secret found.
const Mask = "[redacted]"

// MinSecret is the shortest secret a Set hides by value. Shorter strings
// are ignored: hiding "admin" or "test" would maim ordinary words, and a
// credential that short is no secret worth the name.
const MinSecret = 8

// Shape thresholds: long enough that ordinary text and masked forms such
// as "sk-abc***xyz" do not match.
const (
	minKeyBody    = 16 // key characters after "sk-"
	minJWTSegment = 4  // characters in each of a JWT's first two segments, "eyJ" included
)

// Set is the secrets to hide. It is safe for concurrent use; readers load
// one immutable list with an atomic pointer, so the hot path takes no lock.
// The zero Set, and a nil *Set, hide by shape only.
type Set struct {
	p  atomic.Pointer[list]
	mu sync.Mutex // serialises writers (Replace, Add); readers never take it
}

// list is one immutable generation of secrets, longest first so that of two
// overlapping secrets the longer is matched whole.
type list struct {
	order []string // as given, oldest first, for Add
	strs  []string
	min   int      // length of the shortest secret; 0 when empty
	match *matcher // finds strs in one pass; nil when empty
}

// New returns a Set holding secrets (see Replace).
func New(secrets []string) *Set {
	s := &Set{}
	s.Replace(secrets)
	return s
}

// Replace swaps in a new list of secrets. Empty strings and strings shorter
// than MinSecret are ignored, and duplicates kept once.
func (s *Set) Replace(secrets []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replace(secrets)
}

func (s *Set) replace(secrets []string) {
	l := &list{}
	seen := make(map[string]bool, len(secrets))
	for _, sec := range secrets {
		if len(sec) < MinSecret || seen[sec] {
			continue
		}
		seen[sec] = true
		l.strs = append(l.strs, sec)
	}
	l.order = append([]string(nil), l.strs...)
	// Longest first (insertion sort: lists are short).
	for i := 1; i < len(l.strs); i++ {
		for j := i; j > 0 && len(l.strs[j]) > len(l.strs[j-1]); j-- {
			l.strs[j], l.strs[j-1] = l.strs[j-1], l.strs[j]
		}
	}
	for _, sec := range l.strs {
		if l.min == 0 || len(sec) < l.min {
			l.min = len(sec)
		}
	}
	l.match = newMatcher(l.strs)
	s.p.Store(l)
}

// MaxSecrets bounds a Set that Add keeps growing (rotated tokens); past
// it the oldest go first.
const MaxSecrets = 1024

// Add hides secrets beside those already held, so a token that was just
// replaced stays hidden while an upstream may still echo it.
func (s *Set) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var old []string
	if l := s.load(); l != nil {
		old = l.order
	}
	all := append(append([]string(nil), old...), secrets...)
	if len(all) > MaxSecrets {
		all = all[len(all)-MaxSecrets:]
	}
	s.replace(all)
}

// Len is how many secrets the Set holds by value.
func (s *Set) Len() int {
	if l := s.load(); l != nil {
		return len(l.strs)
	}
	return 0
}

func (s *Set) load() *list {
	if s == nil {
		return nil
	}
	return s.p.Load()
}

// String returns str with every secret of the Set, and every key- or
// JWT-shaped token, replaced by Mask. str itself comes back, without a
// copy, when nothing matches.
func (s *Set) String(str string) string {
	return maskString(str, s.findString(str))
}

// maskString replaces the spans of str by Mask; str itself when there are
// none.
func maskString(str string, spans []span) string {
	if len(spans) == 0 {
		return str
	}
	var b strings.Builder
	b.Grow(len(str))
	last := 0
	for _, sp := range spans {
		b.WriteString(str[last:sp.start])
		b.WriteString(Mask)
		last = sp.end
	}
	b.WriteString(str[last:])
	return b.String()
}

// Bytes is String for a byte slice, such as an upstream's error body. It
// returns b itself, without allocating, when nothing matches; else a new
// slice (b is never written to).
func (s *Set) Bytes(b []byte) []byte { return maskBytes(b, s.findBytes(b)) }

// Answer is Bytes for a successful answer from an upstream: an SSE event,
// a WebSocket message, a JSON response. It hides the same secrets and
// shapes but one: a key- or JWT-shaped run inside an "encrypted_content"
// string is left as it is. That string is base64url, which spells "sk-"
// and 16 key characters now and then by chance, and the client sends the
// item back byte for byte next turn: a maimed one is refused. A held
// secret is hidden there too, as everywhere: it does not occur by chance.
func (s *Set) Answer(b []byte) []byte {
	spans := findIn(s, b)
	if len(spans) == 0 {
		return b
	}
	return maskBytes(b, merge(sealed(b, spans)))
}

// maskBytes replaces the spans of b by Mask in a copy; b itself when there
// are none.
func maskBytes(b []byte, spans []span) []byte {
	if len(spans) == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, sp := range spans {
		out = append(out, b[last:sp.start]...)
		out = append(out, Mask...)
		last = sp.end
	}
	return append(out, b[last:]...)
}

// encryptedKey opens an encrypted_content member: the key as JSON writes
// it, which an escaped quote inside another string cannot fake.
var encryptedKey = []byte(`"encrypted_content"`)

// sealed drops from spans the shapes that lie inside an encrypted_content
// string value of the JSON in b.
func sealed(b []byte, spans []span) []span {
	keep := spans[:0]
	for _, sp := range spans {
		if sp.secret != shaped || !inEncrypted(b, sp.start) {
			keep = append(keep, sp)
		}
	}
	return keep
}

// inEncrypted reports whether offset i of b lies inside the string value
// of an encrypted_content member. It looks back from i, so it costs
// nothing until a shape is found. Inside that value the last quote before
// i is its opening one: base64 holds no quote. An escaped quote there
// means some other string (output text quoting JSON, say), never base64.
func inEncrypted(b []byte, i int) bool {
	q := bytes.LastIndexByte(b[:i], '"')
	if q < 0 {
		return false
	}
	escapes := 0
	for j := q - 1; j >= 0 && b[j] == '\\'; j-- {
		escapes++
	}
	if escapes%2 == 1 {
		return false
	}
	head := bytes.TrimRight(b[:q], " \t\r\n")
	if len(head) == 0 || head[len(head)-1] != ':' {
		return false
	}
	return bytes.HasSuffix(bytes.TrimRight(head[:len(head)-1], " \t\r\n"), encryptedKey)
}

// span is a half-open byte range to mask: an occurrence of the list's
// secret at that index, or a key or JWT found by its shape (secret < 0).
type span struct{ start, end, secret int }

// shaped marks a span found by its shape.
const shaped = -1

// findString returns the ranges to mask in str, sorted and merged.
func (s *Set) findString(str string) []span { return merge(findIn(s, str)) }

// findBytes is findString for bytes.
func (s *Set) findBytes(b []byte) []span { return merge(findIn(s, b)) }

// findIn returns the ranges to mask in t, not yet merged: the held secrets'
// occurrences, then the shapes'.
func findIn[T text](s *Set, t T) []span {
	var spans []span
	if l := s.load(); l != nil {
		spans = exact(l, t, spans)
	}
	return shapes(t, spans)
}

// text is what the shape scanners read.
type text interface{ ~string | ~[]byte }

// shapes appends the ranges of OpenAI-style keys and JWTs in t.
func shapes[T text](t T, spans []span) []span {
	if len(t) < 3+minKeyBody && len(t) < 2*minJWTSegment+1 {
		return spans
	}
	for off := 0; ; {
		start := index3(t, off, "sk-")
		if start < 0 {
			break
		}
		end := start + 3 + run(t[start+3:], isKeyChar)
		if end-start-3 >= minKeyBody && !isWordBefore(t, start) {
			spans = append(spans, span{start, end, shaped})
		}
		off = max(end, start+3)
	}
	for off := 0; ; {
		start := index3(t, off, "eyJ")
		if start < 0 {
			break
		}
		end, ok := jwtEnd(t, start)
		if ok && !isKeyCharBefore(t, start) {
			spans = append(spans, span{start, end, shaped})
			off = end
			continue
		}
		off = start + 3
	}
	return spans
}

// jwtEnd reports where a JWT starting at start ends: three base64url
// segments joined by dots, the first two at least minJWTSegment long (the
// third, the signature, may be empty in an unsigned token).
func jwtEnd[T text](t T, start int) (int, bool) {
	p := start
	for seg := 0; seg < 3; seg++ {
		n := run(t[p:], isKeyChar)
		if seg < 2 && n < minJWTSegment {
			return 0, false
		}
		p += n
		if seg < 2 {
			if p >= len(t) || t[p] != '.' {
				return 0, false
			}
			p++
		}
	}
	return p, true
}

// run is how many leading bytes of t satisfy ok.
func run[T text](t T, ok func(byte) bool) int {
	n := 0
	for n < len(t) && ok(t[n]) {
		n++
	}
	return n
}

// index3 is where the 3-byte sub first occurs in t at or after off; -1
// when it does not. It looks for sub's last byte ('-' of "sk-", 'J' of
// "eyJ"), rare in prose and JSON, rather than its first, which prose is
// full of: most events are crossed by one IndexByte.
func index3[T text](t T, off int, sub string) int {
	for p := off + 2; p < len(t); p++ {
		i := indexByte(t[p:], sub[2])
		if i < 0 {
			return -1
		}
		p += i
		if t[p-2] == sub[0] && t[p-1] == sub[1] {
			return p - 2
		}
	}
	return -1
}

func indexByte[T text](t T, c byte) int {
	switch v := any(t).(type) {
	case string:
		return strings.IndexByte(v, c)
	case []byte:
		return bytes.IndexByte(v, c)
	}
	// A named string or byte type: convert (rare; the package's own
	// callers pass plain ones).
	return strings.IndexByte(string(t), c)
}

// isKeyChar reports the characters of keys and base64url.
func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// isWordBefore reports a letter or digit just before i, as in "task-...":
// "sk-" inside a word is no key.
func isWordBefore[T text](t T, i int) bool {
	if i == 0 {
		return false
	}
	c := t[i-1]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isKeyCharBefore reports a base64url character just before i: "eyJ" in
// the middle of a longer token is not where a JWT starts.
func isKeyCharBefore[T text](t T, i int) bool {
	return i > 0 && isKeyChar(t[i-1])
}

// merge sorts spans by start and joins overlapping or touching ones.
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].start < spans[j-1].start; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	out := spans[:1]
	for _, sp := range spans[1:] {
		last := &out[len(out)-1]
		if sp.start <= last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}
