package redact_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/proxy-dev/proxy/pkg/redact"
)

// Test secrets, built from parts so no scanner mistakes this file for a
// leak.
var (
	apiKey  = "sk-" + "live0123456789abcdefXYZ"
	projKey = "sk-proj-" + "Ab3_dE-fGhIjKlMnOpQrStUv"
	jwt     = "eyJhbGciOiJSUzI1NiJ9" + ".eyJzdWIiOiJ1c2VyLTEyMyJ9" + ".c2lnbmF0dXJlLWJ5dGVz_-"
	opaque  = "rt_opaque-refresh-value-42"
	pass    = "hunter2hunter2"
)

func TestString(t *testing.T) {
	set := redact.New([]string{opaque, pass, "", "short", apiKey})
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"nothing to hide", "account a: 200 OK in 12ms", "account a: 200 OK in 12ms"},
		{"empty", "", ""},
		{"held secret", "refresh with " + opaque + " failed", "refresh with [redacted] failed"},
		{"held secret twice", pass + "/" + pass, "[redacted]/[redacted]"},
		{"url password", "http://user:" + pass + "@host/v1", "http://user:[redacted]@host/v1"},
		{"short strings are not held", "a short word", "a short word"},
		{"key echoed by an upstream", "Incorrect API key provided: " + apiKey + ".", "Incorrect API key provided: [redacted]."},
		{"project key by shape", `{"message":"bad key ` + projKey + `"}`, `{"message":"bad key [redacted]"}`},
		{"unknown key by shape", "key sk-" + "zzzzzzzzzzzzzzzzzzzz end", "key [redacted] end"},
		{"key at the start", apiKey, "[redacted]"},
		{"masked key left alone", "Incorrect API key provided: sk-abc***xyz.", "Incorrect API key provided: sk-abc***xyz."},
		{"openai's own mask left alone", "sk-proj-********************wxyz", "sk-proj-********************wxyz"},
		{"too short for a key", "sk-0123456789", "sk-0123456789"},
		{"sk- inside a word", "task-0123456789abcdefghij", "task-0123456789abcdefghij"},
		{"jwt by shape", "token " + jwt + " expired", "token [redacted] expired"},
		{"unsigned jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "[redacted]"},
		{"jwt in a header", "Bearer " + jwt, "Bearer [redacted]"},
		{"eyJ without dots", "eyJustAWord here", "eyJustAWord here"},
		{"eyJ inside a token", "xeyJhbGciOi.eyJzdWIi.sig", "xeyJhbGciOi.eyJzdWIi.sig"},
		{"overlapping secrets", "x" + apiKey + "x", "x[redacted]x"},
		{"two kinds", opaque + " and " + jwt, "[redacted] and [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMasks(t, set, tt.in, tt.want)
		})
	}
}

// checkMasks checks String and Bytes both turn in into want.
func checkMasks(t *testing.T, set *redact.Set, in, want string) {
	t.Helper()
	if got := set.String(in); got != want {
		t.Errorf("String(%q)\n got %q\nwant %q", in, got, want)
	}
	if got := string(set.Bytes([]byte(in))); got != want {
		t.Errorf("Bytes(%q)\n got %q\nwant %q", in, got, want)
	}
}

// TestShapesWithoutSet checks that an empty Set, a zero Set and a nil Set
// still hide keys and JWTs: a token rotated out of the set keeps its shape.
func TestShapesWithoutSet(t *testing.T) {
	var zero redact.Set
	var nilSet *redact.Set
	in := "a " + apiKey + " b " + jwt + " c " + opaque
	want := "a [redacted] b [redacted] c " + opaque
	for name, s := range map[string]*redact.Set{"empty": redact.New(nil), "zero": &zero, "nil": nilSet} {
		t.Run(name, func(t *testing.T) {
			if got := s.String(in); got != want {
				t.Errorf("String = %q, want %q", got, want)
			}
			if got := s.Len(); got != 0 {
				t.Errorf("Len = %d, want 0", got)
			}
		})
	}
}

func TestReplace(t *testing.T) {
	set := redact.New([]string{opaque})
	set.Replace([]string{pass})
	if got := set.String(opaque + " " + pass); got != opaque+" [redacted]" {
		t.Errorf("after Replace: %q", got)
	}
	if set.Len() != 1 {
		t.Errorf("Len = %d, want 1", set.Len())
	}
	set.Replace([]string{pass, pass, "tiny"})
	if set.Len() != 1 {
		t.Errorf("Len = %d after duplicates and a short one, want 1", set.Len())
	}
}

// TestBytesNoMatchDoesNotAllocate holds Bytes to its promise: the input
// back, without a copy, when there is nothing to hide (the relay runs
// every upstream event through it), even where a sampled 4-byte piece of
// the text is one of a secret's tail.
func TestBytesNoMatchDoesNotAllocate(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		body    string
	}{
		{"error body", []string{opaque, pass, apiKey},
			`{"error":{"message":"The server had an error while processing your request. sk-abc***xyz","type":"server_error"}}`},
		{"pieces of secrets' tails", []string{"secret-tail-ABCD", "other-secret-WXYZ"},
			`{"type":"response.output_text.delta","delta":"tail-ABCD and -WXYZ and t-ABCD almost"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := redact.New(tt.secrets)
			body := []byte(tt.body)
			got := set.Bytes(body)
			if &got[0] != &body[0] || len(got) != len(body) {
				t.Fatal("Bytes copied an input with nothing to hide")
			}
			if n := testing.AllocsPerRun(100, func() { set.Bytes(body) }); n != 0 {
				t.Errorf("Bytes allocates %v times per call with nothing to hide, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() { set.Answer(body) }); n != 0 {
				t.Errorf("Answer allocates %v times per call with nothing to hide, want 0", n)
			}
			s := string(body)
			if n := testing.AllocsPerRun(100, func() { set.String(s) }); n != 0 {
				t.Errorf("String allocates %v times per call with nothing to hide, want 0", n)
			}
		})
	}
}

func TestBytesLeavesInputAlone(t *testing.T) {
	set := redact.New([]string{pass})
	in := []byte("password " + pass)
	orig := string(in)
	out := set.Bytes(in)
	if string(in) != orig {
		t.Errorf("Bytes wrote to its input: %q", in)
	}
	if string(out) != "password [redacted]" {
		t.Errorf("Bytes = %q", out)
	}
}

// TestConcurrentReplace runs readers against Replace (under -race).
func TestConcurrentReplace(t *testing.T) {
	set := redact.New([]string{opaque})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if got := set.String("x " + pass); strings.Contains(got, opaque) {
					t.Error("impossible")
				}
			}
		})
	}
	for i := range 200 {
		if i%2 == 0 {
			set.Replace([]string{pass})
		} else {
			set.Replace([]string{opaque})
		}
	}
	wg.Wait()
}

func TestURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "https://api.example.com/v1", "https://api.example.com/v1"},
		{"user and password", "http://user:" + pass + "@host:8080/v1", "http://host:8080/v1"},
		{"user only", "redis://" + pass + "@host:6379/0", "redis://host:6379/0"},
		{"empty user", "redis://:" + pass + "@host:6379", "redis://host:6379"},
		{"escaped password", "http://u:p%40ss%2Fword@host", "http://host"},
		{"password query", "redis://host?master_name=m&password=" + pass, "redis://host?master_name=m&password=[redacted]"},
		{"api key query", "https://host/v1?api-key=" + pass + "&x=1", "https://host/v1?api-key=[redacted]&x=1"},
		{"user info in a query value", "redis://host?addr=u:" + pass + "@h2:6379&x=1", "redis://host?addr=[redacted]@h2:6379&x=1"},
		{"escaped user info in a query value", "redis://host?addr=u:" + pass + "%40h2:6379", "redis://host?addr=[redacted]%40h2:6379"},
		{"unparsable", "http://user:" + pass + "@[::1", redact.Unparsable},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact.URL(tt.in)
			if got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, pass) {
				t.Errorf("URL shows the password")
			}
		})
	}
}

func TestURLSecrets(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"none", "https://api.example.com/v1", nil},
		{"password", "http://user:" + pass + "@host", []string{pass}},
		{"escaped password", "http://user:p%40ss%2Fword1@host", []string{"p@ss/word1", "p%40ss%2Fword1"}},
		{"user only", "redis://" + pass + "@host", []string{pass}},
		{"query password", "redis://host?master_name=m&sentinel_password=" + pass, []string{pass}},
		{"userinfo in addr", "redis://host?addr=u:" + pass + "@h2:6379", []string{pass, "u:" + pass}},
		{"unparsable", "http://u:" + pass + "@[::1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact.URLSecrets(tt.in)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("URLSecrets(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSetAdd(t *testing.T) {
	s := redact.New([]string{"first-secret-value"})
	s.Add("rotated-secret-value")
	for _, sec := range []string{"first-secret-value", "rotated-secret-value"} {
		if got := s.String("x " + sec + " y"); got != "x "+redact.Mask+" y" {
			t.Errorf("String(%q) = %q", sec, got)
		}
	}
	for i := range redact.MaxSecrets + 10 {
		s.Add(fmt.Sprintf("generated-secret-%06d", i))
	}
	if s.Len() != redact.MaxSecrets {
		t.Fatalf("Len %d after many Adds, want the cap %d", s.Len(), redact.MaxSecrets)
	}
	if got := s.String("generated-secret-000000"); got != "generated-secret-000000" {
		t.Errorf("the oldest secret should have made room, got %q", got)
	}
}

// TestAnswerKeepsEncryptedContent checks that a successful answer's
// encrypted items reach the client byte for byte although base64url can
// spell a key's shape, while keys elsewhere in the answer are hidden.
func TestAnswerKeepsEncryptedContent(t *testing.T) {
	// A base64url blob that spells "sk-" and 16 key characters after a
	// '_', as one in some thousands of minted items does.
	blob := "gAAAAABpQ7xK3m_sk-Q9vRt2LwYbN8cZ0aHf4JeU1iXoP6dGsTn5Ey_" + strings.Repeat("Ab9-", 8)
	item := `{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"` + blob + `"}`
	set := redact.New([]string{pass})
	tests := []struct {
		name, in, want string
	}{
		{"inside an item", item, item},
		{"at the value's start", `{"encrypted_content":"sk-` + blob + `"}`, `{"encrypted_content":"sk-` + blob + `"}`},
		{"spaced JSON", `{"encrypted_content" : "` + blob + `"}`, `{"encrypted_content" : "` + blob + `"}`},
		{"in an SSE event", "event: response.output_item.done\ndata: {\"item\":" + item + "}\n\n", "event: response.output_item.done\ndata: {\"item\":" + item + "}\n\n"},
		{"a key in the text beside it", `{"output":[` + item + `,{"text":"key ` + apiKey + `"}]}`, `{"output":[` + item + `,{"text":"key [redacted]"}]}`},
		{"a key in another member", `{"summary":"` + apiKey + `","encrypted_content":"x"}`, `{"summary":"[redacted]","encrypted_content":"x"}`},
		{"text that quotes the member", `{"text":"\"encrypted_content\":\"` + apiKey + `\""}`, `{"text":"\"encrypted_content\":\"[redacted]\""}`},
		{"a held secret inside it", `{"encrypted_content":"AAAA` + pass + `AAAA"}`, `{"encrypted_content":"AAAA[redacted]AAAA"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(set.Answer([]byte(tt.in))); got != tt.want {
				t.Errorf("Answer(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
	// What Bytes, the error bodies' redaction, would do to the item.
	if got := string(set.Bytes([]byte(item))); got == item {
		t.Error("the blob does not look like a key to Bytes: the test proves nothing")
	}
	in := []byte(item)
	if got := set.Answer(in); &got[0] != &in[0] {
		t.Error("Answer copied an answer with nothing to hide")
	}
}
