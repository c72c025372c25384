package session

import (
	"errors"
	"net/http"
	"testing"
)

func TestParseChatSources(t *testing.T) {
	const sys = `{"role":"system","content":"You are terse."}`
	const user = `{"role":"user","content":[{"type":"text","text":"fix the bug"}]}`
	lead := func(first, user string) string {
		return sha(first + "\x00" + user)
	}
	tests := []struct {
		name       string
		header     http.Header
		body       string
		wantSource Source
		wantHash   string
	}{
		{"header wins", http.Header{"Session_id": {"s1"}}, `{"prompt_cache_key":"p","user":"u","messages":[` + user + `]}`, SourceHeader, sha("s1")},
		{"prompt_cache_key before user", nil, `{"prompt_cache_key":"p","user":"u","messages":[` + user + `]}`, SourcePromptCacheKey, sha("p")},
		{"user before messages", nil, `{"user":"u-42","messages":[` + sys + `,` + user + `]}`, SourceUser, sha("u-42")},
		{"empty user falls through", nil, `{"user":"","messages":[` + sys + `,` + user + `]}`, SourceFirstInput, lead("You are terse.", "fix the bug")},
		{"leading messages", nil, `{"messages":[` + sys + `,` + user + `]}`, SourceFirstInput, lead("You are terse.", "fix the bug")},
		{"only a user message", nil, `{"messages":[` + user + `]}`, SourceFirstInput, lead("fix the bug", "fix the bug")},
		{"instructions and input are not chat fields", nil, `{"instructions":"i","input":"x","messages":[]}`, SourceNone, ""},
		{"nothing", nil, `{"model":"m"}`, SourceNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseChat(tt.header, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if req.Key.Source != tt.wantSource || req.Key.Hash != tt.wantHash {
				t.Errorf("key = %s %s, want %s %s", req.Key.Source, req.Key.Hash, tt.wantSource, tt.wantHash)
			}
			if !req.NoStore {
				t.Error("NoStore = false; a chat request is never stored")
			}
		})
	}
}

func TestParseChatFields(t *testing.T) {
	req, err := ParseChat(nil, []byte(`{"model":"gpt-5","stream":true,"messages":[]}`))
	if err != nil || req.Model != "gpt-5" || !req.Stream {
		t.Errorf("ParseChat = %+v, %v", req, err)
	}
	if _, err := ParseChat(nil, []byte(`{"messages":[`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed body: err = %v, want ErrMalformed", err)
	}
	if _, err := ParseChat(nil, []byte(`{"model":"a\u0007b"}`)); !errors.Is(err, ErrModelControl) {
		t.Errorf("control model: err = %v, want ErrModelControl", err)
	}
}
