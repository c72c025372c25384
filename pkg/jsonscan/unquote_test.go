package jsonscan

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestUnquote(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    string
		aliases bool
		wantErr bool
	}{
		{"plain", `"abc"`, "abc", true, false},
		{"empty", `""`, "", true, false},
		{"utf8", `"héllo"`, "héllo", true, false},
		{"simple escapes", `"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t", false, false},
		{"unicode escape", `"\u00e9"`, "é", false, false},
		{"surrogate pair", `"\ud83d\ude00"`, "😀", false, false},
		{"lone surrogate", `"\ud83dx"`, "\ufffdx", false, false},
		{"invalid utf8 replaced", "\"a\xffb\"", "a\ufffdb", false, false},
		{"not a string", `abc`, "", false, true},
		{"trailing data", `"a"b`, "", false, true},
		{"unterminated", `"a`, "", false, true},
		{"bad escape", `"\q"`, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			got, err := Unquote(raw)
			if tt.wantErr {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("Unquote(%q) = %q, %v; want ErrSyntax", tt.raw, got, err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Unquote(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
			if aliases := len(got) > 0 && &got[0] == &raw[1]; aliases != (tt.aliases && len(got) > 0) {
				t.Errorf("aliases = %v, want %v", aliases, tt.aliases)
			}
			var std string
			if err := json.Unmarshal(raw, &std); err != nil || std != tt.want {
				t.Errorf("encoding/json gives %q, %v", std, err)
			}
			if s, err := String(raw); err != nil || s != tt.want {
				t.Errorf("String = %q, %v", s, err)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		s    string
		want bool
	}{
		{"same", `"user"`, "user", true},
		{"different", `"users"`, "user", false},
		{"escaped", `"us\u0065r"`, "user", true},
		{"not a string", `user`, "user", false},
		{"number", `1`, "1", false},
		{"invalid utf8 is not the raw bytes", "\"\xff\"", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Equal([]byte(tt.raw), tt.s); got != tt.want {
				t.Fatalf("Equal(%q, %q) = %v, want %v", tt.raw, tt.s, got, tt.want)
			}
		})
	}
}
