package session

import (
	"errors"
	"net/http"
	"testing"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

func TestParseSources(t *testing.T) {
	const user = `{"type":"message","role":"user","content":[{"type":"input_text","text":"fix the bug"}]}`
	tests := []struct {
		name       string
		header     http.Header
		body       string
		wantSource Source
		wantHeader string
		wantHash   string
	}{
		{"header session_id", http.Header{"Session_id": {"s1"}}, `{"prompt_cache_key":"p"}`, SourceHeader, "session_id", sha("s1")},
		{"header session-id", http.Header{"Session-Id": {"s2"}}, `{"prompt_cache_key":"p"}`, SourceHeader, "session-id", sha("s2")},
		{"header conversation_id", http.Header{"Conversation_id": {"c"}}, `{}`, SourceHeader, "conversation_id", sha("c")},
		{"header x-session-id", http.Header{"X-Session-Id": {"x"}}, `{}`, SourceHeader, "x-session-id", sha("x")},
		{"header thread-id", http.Header{"Thread-Id": {"t"}}, `{}`, SourceHeader, "thread-id", sha("t")},
		{"session_id beats session-id", http.Header{"Session-Id": {"b"}, "Session_id": {"a"}}, `{}`, SourceHeader, "session_id", sha("a")},
		{"session-id beats conversation_id", http.Header{"Conversation_id": {"c"}, "Session-Id": {"s"}}, `{}`, SourceHeader, "session-id", sha("s")},
		{"conversation_id beats x-session-id", http.Header{"X-Session-Id": {"x"}, "Conversation_id": {"c"}}, `{}`, SourceHeader, "conversation_id", sha("c")},
		{"x-session-id beats thread-id", http.Header{"Thread-Id": {"t"}, "X-Session-Id": {"x"}}, `{}`, SourceHeader, "x-session-id", sha("x")},
		{"empty header falls through", http.Header{"Session_id": {"  "}, "Thread-Id": {"t"}}, `{}`, SourceHeader, "thread-id", sha("t")},
		{"lower-case literal header", http.Header{"session_id": {"low"}}, `{}`, SourceHeader, "session_id", sha("low")},
		{"upper-case literal header", http.Header{"SESSION-ID": {"up"}}, `{}`, SourceHeader, "session-id", sha("up")},
		{"prompt_cache_key", nil, `{"instructions":"i","input":"hi","prompt_cache_key":"pck"}`, SourcePromptCacheKey, "", sha("pck")},
		{"prompt_cache_key after input", nil, `{"input":[` + user + `],"prompt_cache_key":"pck"}`, SourcePromptCacheKey, "", sha("pck")},
		{"empty prompt_cache_key falls through", nil, `{"prompt_cache_key":"","instructions":"sys","input":[` + user + `]}`, SourceInstructions, "", mixed("sys", "fix the bug")},
		{"non-string prompt_cache_key falls through", nil, `{"prompt_cache_key":42,"instructions":"sys"}`, SourceInstructions, "", mixed("sys", "")},
		{"instructions", nil, `{"instructions":"sys","input":[` + user + `]}`, SourceInstructions, "", mixed("sys", "fix the bug")},
		{"instructions after input", nil, `{"input":"hello","instructions":"sys"}`, SourceInstructions, "", mixed("sys", "hello")},
		{"empty instructions falls through", nil, `{"instructions":"","input":"hello"}`, SourceFirstInput, "", mixed("hello", "hello")},
		{"input as string", nil, `{"input":"hello"}`, SourceFirstInput, "", mixed("hello", "hello")},
		{"first message is the user message", nil, `{"input":[` + user + `]}`, SourceFirstInput, "", mixed("fix the bug", "fix the bug")},
		{"developer message then user", nil, `{"input":[{"role":"developer","content":"be terse"},` + user + `]}`, SourceFirstInput, "", mixed("be terse", "fix the bug")},
		{"content parts concatenated", nil, `{"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"x"},{"type":"text","text":"b"},{"type":"output_text","text":"c"}]}]}`, SourceFirstInput, "", mixed("abc", "abc")},
		{"items without text skipped", nil, `{"input":[{"type":"additional_tools","role":"developer","tools":[]},{"type":"reasoning","content":[{"type":"text","text":"r"}]},{"type":"message","role":"developer","content":[{"type":"input_image"}]},{"type":"message","role":"developer","content":"dev"},{"type":"function_call_output","output":"o"},` + user + `]}`, SourceFirstInput, "", mixed("dev", "fix the bug")},
		{"no user message", nil, `{"input":[{"role":"assistant","content":[{"type":"output_text","text":"done"}]}]}`, SourceFirstInput, "", mixed("done", "")},
		{"first user message wins over later", nil, `{"input":[` + user + `,{"role":"user","content":"second"}]}`, SourceFirstInput, "", mixed("fix the bug", "fix the bug")},
		{"nothing to key on", nil, `{"model":"m","input":[]}`, SourceNone, "", ""},
		{"input of wrong type", nil, `{"input":{"role":"user","content":"x"}}`, SourceNone, "", ""},
		{"empty body object", nil, `{}`, SourceNone, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(tt.header, []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := Key{Hash: tt.wantHash, Source: tt.wantSource, Header: tt.wantHeader}
			if req.Key != want {
				t.Fatalf("Key = %+v\nwant  %+v", req.Key, want)
			}
		})
	}
}

func TestParseModelAndStream(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantModel  string
		wantStream bool
	}{
		{"both", `{"model":"gpt-5","stream":true}`, "gpt-5", true},
		{"any order, after a big input", `{"input":[{"role":"user","content":"x"}],"stream":true,"model":"gpt-5"}`, "gpt-5", true},
		{"stream false", `{"model":"m","stream":false}`, "m", false},
		{"stream not a bool", `{"stream":"true"}`, "", false},
		{"model not a string", `{"model":5}`, "", false},
		{"escaped key and value", `{"mod\u0065l":"gpt\u002d5","str\u0065am":true}`, "gpt-5", true},
		{"last duplicate wins", `{"model":"a","model":"b","stream":true,"stream":false}`, "b", false},
		{"absent", `{}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(nil, []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if req.Model != tt.wantModel || req.Stream != tt.wantStream {
				t.Fatalf("Model, Stream = %q, %v; want %q, %v", req.Model, req.Stream, tt.wantModel, tt.wantStream)
			}
		})
	}
}

func TestParseEscapes(t *testing.T) {
	tests := []struct {
		name, body, plain string
	}{
		{"escaped prompt_cache_key name and value", `{"prompt_cache_k\u0065y":"a\u0062c"}`, `{"prompt_cache_key":"abc"}`},
		{"escaped instructions", `{"instructions":"line1\nline2 \u00e9","input":"u"}`, "{\"instructions\":\"line1\\nline2 é\",\"input\":\"u\"}"},
		{"escaped role and part type", `{"input":[{"r\u006fle":"us\u0065r","content":[{"type":"input_t\u0065xt","text":"hi \"there\""}]}]}`, `{"input":[{"role":"user","content":[{"type":"input_text","text":"hi \"there\""}]}]}`},
		{"escaped item type", `{"input":[{"type":"m\u0065ssage","role":"user","content":"x"}]}`, `{"input":[{"type":"message","role":"user","content":"x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(nil, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			want, err := Parse(nil, []byte(tt.plain))
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != want.Key || got.Key.Source == SourceNone {
				t.Fatalf("escaped key %+v, plain key %+v", got.Key, want.Key)
			}
		})
	}
}

func TestParseMixesFirstUserMessage(t *testing.T) {
	body := func(lead, user string) string {
		return `{"` + lead + `","input":[{"role":"developer","content":"You are Codex."},{"role":"user","content":[{"type":"input_text","text":"` + user + `"}]}]}`
	}
	tests := []struct {
		name string
		lead string // the first member of the body, naming the fallback source
		src  Source
	}{
		{"instructions", `instructions":"You are a coding agent.`, SourceInstructions},
		{"first input message", `model":"m`, SourceFirstInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, errA := Parse(nil, []byte(body(tt.lead, "fix the parser")))
			b, errB := Parse(nil, []byte(body(tt.lead, "write the docs")))
			a2, errA2 := Parse(nil, []byte(body(tt.lead, "fix the parser")))
			if err := errors.Join(errA, errB, errA2); err != nil {
				t.Fatal(err)
			}
			if a.Key.Source != tt.src || b.Key.Source != tt.src {
				t.Fatalf("sources %q, %q; want %q", a.Key.Source, b.Key.Source, tt.src)
			}
			if a.Key.Hash == b.Key.Hash {
				t.Error("different user messages under one system prompt got the same key")
			}
			if a.Key != a2.Key {
				t.Error("the same conversation got two keys")
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
	}{
		{"empty", nil, ``},
		{"null", nil, `null`},
		{"array", nil, `[{"model":"m"}]`},
		{"string", nil, `"model"`},
		{"truncated", nil, `{"model":"m","input":[{"role":"user"`},
		{"missing value", nil, `{"model":}`},
		{"trailing data", nil, `{"model":"m"}{}`},
		{"bad escape deep inside", nil, `{"input":[{"content":"\q"}],"prompt_cache_key":"p"}`},
		{"header key kept", http.Header{"Session-Id": {"s"}}, `{"model"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(tt.header, []byte(tt.body))
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, jsonscan.ErrSyntax) {
				t.Fatalf("err = %v; want ErrMalformed wrapping jsonscan.ErrSyntax", err)
			}
			want := Key{Source: SourceNone}
			if tt.header != nil {
				want = Key{Hash: sha("s"), Source: SourceHeader, Header: "session-id"}
			}
			if req.Key != want {
				t.Fatalf("Key = %+v, want %+v", req.Key, want)
			}
		})
	}
}

func TestKeyShort(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{"hash", Key{Hash: sha("x"), Source: SourceHeader}, sha("x")[:12]},
		{"none", Key{Source: SourceNone}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Short(); got != tt.want {
				t.Fatalf("Short() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSessionHeadersAreCanonical(t *testing.T) {
	for _, sh := range sessionHeaders {
		if got := http.CanonicalHeaderKey(sh.name); got != sh.canonical {
			t.Errorf("CanonicalHeaderKey(%q) = %q, table says %q", sh.name, got, sh.canonical)
		}
	}
}

// Codex's first user message is its <environment_context>, identical for
// every conversation in one folder on one day: the fallback key must look
// past it to what the user typed.
func TestFallbackKeySkipsInjectedContext(t *testing.T) {
	body := func(typed string) []byte {
		return []byte(`{"input":[` +
			`{"type":"message","role":"developer","content":[{"type":"input_text","text":"You are Codex."}]},` +
			`{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n  <cwd>/p</cwd>\n</environment_context>"}]},` +
			`{"type":"message","role":"user","content":[{"type":"input_text","text":"` + typed + `"}]}]}`)
	}
	a, err := Parse(http.Header{}, body("fix the bug"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse(http.Header{}, body("write the docs"))
	again, _ := Parse(http.Header{}, body("fix the bug"))
	if a.Key.Source != SourceFirstInput || a.Key.Hash == b.Key.Hash || a.Key.Hash != again.Key.Hash {
		t.Fatalf("keys: %+v %+v %+v", a.Key, b.Key, again.Key)
	}
}
