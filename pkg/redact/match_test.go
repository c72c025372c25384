package redact_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/redact"
)

// TestMatcher checks the one-pass search for held secrets where its
// sampling could miss one: at every offset from the text's start and end,
// secrets of the shortest length, sharing a prefix or a tail, overlapping
// themselves, inside one another.
func TestMatcher(t *testing.T) {
	const (
		short = "8charsPW"              // exactly MinSecret
		headA = "head-shared-by-both:A" // same head as headB, other tail
		headB = "head-shared-by-both:B"
		tailA = "first-0123456789-tail" // same tail as tailB
		tailB = "second-0123456789-tail"
		inner = "0123456789-tail"          // inside tailA and tailB
		self  = "abababab"                 // overlaps itself
		nine  = "aaaaaaaaa"                // overlaps itself, one longer
		punct = `p@ss/w"rd\1`              // not key characters
		long  = "a-very-long-secret-value" // the longest: matched whole first
	)
	set := redact.New([]string{short, headA, headB, tailA, tailB, inner, self, nine, punct, long})
	tests := []struct {
		name, in, want string
	}{
		{"shortest alone", short, "[redacted]"},
		{"shortest in text", "pw=" + short + ";", "pw=[redacted];"},
		{"shared head, each tail", headA + " " + headB, "[redacted] [redacted]"},
		{"shared head, no tail", "head-shared-by-both:C", "head-shared-by-both:C"},
		{"shared tail", tailA + "," + tailB, "[redacted],[redacted]"},
		{"inside another", "x" + inner + "x", "x[redacted]x"},
		{"self-overlapping, leftmost first", "abababababab", "[redacted]abab"},
		{"self-overlapping, twice", "abababababababab", "[redacted]"},
		{"run of one byte", strings.Repeat("a", 20), "[redacted]aa"},
		{"punctuation", "pw: " + punct + ".", "pw: [redacted]."},
		{"almost", short[:7] + "x", short[:7] + "x"},
		{"longest whole", "<" + long + ">", "<[redacted]>"},
		{"too short for any", "abc", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMasks(t, set, tt.in, tt.want)
			if slow := redact.SlowString(set, tt.in); slow != tt.want {
				t.Errorf("the slow path says %q: the case's want is wrong", slow)
			}
		})
	}
}

// TestMatcherEveryOffset places each secret at every offset of a text, so
// every phase of the sampled grams is tried.
func TestMatcherEveryOffset(t *testing.T) {
	secrets := []string{"8charsPW", "nine-char", "ten-chars!", "a-secret-of-23-bytes-xx", pass, opaque}
	set := redact.New(secrets)
	for _, sec := range secrets {
		for pre := range 12 {
			for post := range 7 {
				in := strings.Repeat(".", pre) + sec + strings.Repeat(",", post)
				want := strings.Repeat(".", pre) + redact.Mask + strings.Repeat(",", post)
				if got := set.String(in); got != want {
					t.Fatalf("String(%q) = %q, want %q", in, got, want)
				}
			}
		}
	}
}

// TestMatcherManySecrets fills a Set to MaxSecrets, with tokens that share
// their heads as rotated JWTs do, and finds each of them.
func TestMatcherManySecrets(t *testing.T) {
	var secrets []string
	for i := range redact.MaxSecrets {
		secrets = append(secrets, fmt.Sprintf("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.sig%06dxyz", i))
	}
	set := redact.New(secrets)
	for _, i := range []int{0, 1, 511, redact.MaxSecrets - 1} {
		in := `{"delta":"token ` + secrets[i] + ` end"}`
		if got := set.String(in); got != `{"delta":"token [redacted] end"}` {
			t.Errorf("secret %d: %q", i, got)
		}
	}
}

// FuzzMatcher holds the one-pass matcher to the slow path it replaced:
// each held secret searched for in turn.
func FuzzMatcher(f *testing.F) {
	f.Add("key sk-live0123456789abcdefXYZ and abababab", "abababab", "hunter2hunter2")
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaa", "aaaaaaaaaaaa")
	f.Add("x-first-0123456789-tail,second-0123456789-tail", "0123456789-tail", "second-0123456789-tail")
	f.Fuzz(func(t *testing.T, in, a, b string) {
		set := redact.New([]string{a, b, a + b, b + "-" + a})
		want := redact.SlowString(set, in)
		if got := set.String(in); got != want {
			t.Fatalf("String(%q) with %q, %q\n got %q\nwant %q", in, a, b, got, want)
		}
		if got := string(set.Bytes([]byte(in))); got != want {
			t.Fatalf("Bytes(%q) with %q, %q\n got %q\nwant %q", in, a, b, got, want)
		}
		if !strings.Contains(in, "encrypted_content") {
			if got := string(set.Answer([]byte(in))); got != want {
				t.Fatalf("Answer(%q) with %q, %q\n got %q\nwant %q", in, a, b, got, want)
			}
		}
		// Secrets planted in the text, so the fuzzer need not guess them.
		planted := in + a + in + b + a + b
		if got, want := set.String(planted), redact.SlowString(set, planted); got != want {
			t.Fatalf("String(%q) with %q, %q\n got %q\nwant %q", planted, a, b, got, want)
		}
	})
}
