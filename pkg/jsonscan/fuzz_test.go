package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzValid checks that the scanner and encoding/json agree on validity, and
// that ObjectFields reports exactly the members encoding/json sees.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c\n"}],"d":-1.5e3}`, `[true,false,null]`, `"\ud83d\ude00"`, `{"a":1,"a":2}`, `{"k\u0065y":"v"}`, `0`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), json.Valid(b); got != want {
			t.Fatalf("valid = %v, json.Valid = %v for %q", got, want, b)
		}
		var n int
		err := ObjectFields(b, func(k, v []byte) bool { n++; return true })
		var m map[string]json.RawMessage
		if (err == nil) != (json.Unmarshal(b, &m) == nil && m != nil && bytes.TrimSpace(b)[0] == '{') {
			t.Fatalf("ObjectFields err = %v disagrees with encoding/json for %q", err, b)
		}
		if err == nil && n < len(m) {
			t.Fatalf("ObjectFields saw %d members, encoding/json %d", n, len(m))
		}
	})
}

// FuzzUnquote checks string decoding against encoding/json.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u00e9\ud800\udc00"`, `"\ud800"`, "\"\xff\"", `"\\\/"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || raw[0] != '"' || len(bytes.TrimSpace(raw)) != len(raw) {
			return // encoding/json also takes null and whitespace here; String does not
		}
		got, err := String(raw)
		var want string
		werr := json.Unmarshal(raw, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("String(%q) err = %v, encoding/json err = %v", raw, err, werr)
		}
		if err == nil && got != want {
			t.Fatalf("String(%q) = %q, encoding/json = %q", raw, got, want)
		}
	})
}
