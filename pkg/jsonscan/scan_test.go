package jsonscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSkip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		end  int // -1: error
	}{
		{"string", `"abc" tail`, 5},
		{"escaped quote", `"a\"b"`, 6},
		{"escaped backslash before quote", `"a\\"x`, 5},
		{"unicode escape", `"\u00e9\uD83D\uDE00"`, 20},
		{"long string crosses words", `"` + strings.Repeat("abcdefgh", 9) + `\n` + strings.Repeat("x", 13) + `"`, 2 + 72 + 2 + 13},
		{"leading space", "  \t\r\n1", 6},
		{"object", `{"a":[1,{"b":null}],"c":"}"}  `, 28},
		{"empty object", `{}`, 2},
		{"empty array", `[ ]`, 3},
		{"numbers", `[0,-0,1.5,-2e10,3E+2,4e-1]`, 26},
		{"literals", `[true,false,null]`, 17},
		{"utf8 in string", `"héllo"`, 8},
		{"number ends at delimiter", `12,`, 2},
		{"empty input", ``, -1},
		{"unterminated string", `"abc`, -1},
		{"control char in string", "\"a\x01b\"", -1},
		{"newline in string", "\"a\nb\"", -1},
		{"bad escape", `"\x"`, -1},
		{"short unicode escape", `"\u12"`, -1},
		{"bad hex", `"\u12g4"`, -1},
		{"trailing backslash", `"\`, -1},
		{"leading zero", `01`, 1}, // the 1 is left for the caller, as in json.Decoder
		{"bare minus", `-`, -1},
		{"dot without digits", `1.`, -1},
		{"exponent without digits", `1e+`, -1},
		{"single quotes", `'a'`, -1},
		{"bad literal", `tru`, -1},
		{"object missing colon", `{"a" 1}`, -1},
		{"object trailing comma", `{"a":1,}`, -1},
		{"object non-string key", `{1:2}`, -1},
		{"array trailing comma", `[1,]`, -1},
		{"array missing comma", `[1 2]`, -1},
		{"unterminated array", `[1,2`, -1},
		{"unterminated object", `{"a":1`, -1},
		{"too deep", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), -1},
		{"max depth", strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), 2 * maxDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, err := Skip([]byte(tt.in), 0)
			if tt.end < 0 {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("Skip(%q) = %d, %v; want ErrSyntax", tt.in, end, err)
				}
				return
			}
			if err != nil || end != tt.end {
				t.Fatalf("Skip(%q) = %d, %v; want %d", tt.in, end, err, tt.end)
			}
		})
	}
}

func TestSkipAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":1}`, `[1,2]`, `"x"`, `1e5`, `{"a":}`, `[,]`, "\"\x7f\"", `"\/"`, `{"a":1}}`,
		strings.Repeat("{\"a\":", maxDepth-1) + "1" + strings.Repeat("}", maxDepth-1),
		strings.Repeat("{\"a\":", maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
	} {
		if got, want := valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("valid(%.40q) = %v, json.Valid = %v", in, got, want)
		}
	}
}

// valid is what json.Valid means, built from this package's pieces.
func valid(b []byte) bool {
	end, err := Skip(b, 0)
	return err == nil && trailing(b, end) == nil
}

func TestObjectFields(t *testing.T) {
	type kv struct{ k, v string }
	tests := []struct {
		name    string
		in      string
		stopAt  string
		want    []kv
		wantErr bool
	}{
		{"members in order", ` {"a" : 1 , "b":"x","c":{"d":[1]}} `, "", []kv{{"a", "1"}, {"b", `"x"`}, {"c", `{"d":[1]}`}}, false},
		{"escaped key decoded", `{"mod\u0065l":"m","a\"b":2}`, "", []kv{{"model", `"m"`}, {`a"b`, "2"}}, false},
		{"duplicates all reported", `{"a":1,"a":2}`, "", []kv{{"a", "1"}, {"a", "2"}}, false},
		{"empty", `{}`, "", nil, false},
		{"stop early skips validating the rest", `{"a":1,"b":2,garbage`, "a", []kv{{"a", "1"}}, false},
		{"not an object", `[1]`, "", nil, true},
		{"empty input", ``, "", nil, true},
		{"trailing data", `{"a":1} x`, "", []kv{{"a", "1"}}, true},
		{"malformed later member", `{"a":1,"b":}`, "", []kv{{"a", "1"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []kv
			err := ObjectFields([]byte(tt.in), func(k, v []byte) bool {
				got = append(got, kv{string(k), string(v)})
				return string(k) != tt.stopAt
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want it to wrap ErrSyntax", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("member %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestArrayElems(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		stop    int
		want    []string
		wantErr bool
	}{
		{"elements", `[1, "a" ,{"b":[2]}, [] ]`, -1, []string{"1", `"a"`, `{"b":[2]}`, "[]"}, false},
		{"empty", `[]`, -1, nil, false},
		{"stop early", `[1,2,3`, 1, []string{"1", "2"}, false},
		{"not an array", `{}`, -1, nil, true},
		{"bad element", `[1,x]`, -1, []string{"1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := ArrayElems([]byte(tt.in), func(v []byte) bool {
				got = append(got, string(v))
				return len(got)-1 != tt.stop
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestObjectFieldsDoesNotAllocate(t *testing.T) {
	body := []byte(`{"model":"gpt-5","input":[{"role":"user","content":"` + strings.Repeat("hello world ", 1000) + `"}],"stream":true}`)
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		n = 0
		_ = ObjectFields(body, func(k, v []byte) bool {
			if string(k) == "model" {
				n++
			}
			return true
		})
	})
	if allocs != 0 || n != 1 {
		t.Fatalf("allocs = %v, model seen %d times; want 0 allocs, 1", allocs, n)
	}
}

// TestSkipStringAgreesWithExact checks the run-at-a-time string skipper
// against the byte-exact one on strings built from the pieces that matter
// (escapes of every kind, control characters, quotes, runs long and short,
// cut at every length), so it accepts and refuses the same strings and
// reports the same ends, escape flags and errors.
func TestSkipStringAgreesWithExact(t *testing.T) {
	pieces := []string{"a", "héllo", strings.Repeat("x", 7), strings.Repeat("y", 16), strings.Repeat("z", 33),
		`\"`, `\\`, `\/`, `\n`, `\t`, `\u00e9`, `\uD83D`, `\u12`, `\u12g4`, `\x`, `\`, "\x01", "\n", "\x1f", "\x7f", "\xff", `"`}
	check := func(s string) {
		b := []byte(s)
		end, esc, err := skipString(b, 0)
		wend, wesc, werr := skipStringExact(b, 0)
		if end != wend || esc != wesc || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("skipString(%q) = %d, %v, %v; skipStringExact = %d, %v, %v", s, end, esc, err, wend, wesc, werr)
		}
	}
	for _, a := range pieces {
		for _, b := range pieces {
			for _, c := range pieces {
				s := `"` + a + b + c + `"` + "tail"
				for n := 1; n <= len(s); n++ {
					check(s[:n])
				}
			}
		}
	}
}

// FuzzSkipString checks the run-at-a-time string skipper against the
// byte-exact one.
func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b\\"`, "\"" + strings.Repeat("x", 40) + "\x01\"", `"\u00e9\u12"`, `"` + strings.Repeat(`\n`, 20) + `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' {
			return
		}
		end, esc, err := skipString(b, 0)
		wend, wesc, werr := skipStringExact(b, 0)
		if end != wend || esc != wesc || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("skipString(%q) = %d, %v, %v; skipStringExact = %d, %v, %v", b, end, esc, err, wend, wesc, werr)
		}
	})
}
