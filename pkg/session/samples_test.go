package session

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestParseCodexSamples runs the captured Codex requests: the session-id
// header always wins and equals the conversation id.
func TestParseCodexSamples(t *testing.T) {
	for _, s := range loadSamples(t) {
		t.Run(s.name, func(t *testing.T) {
			id := s.header.Get("Session-Id")
			if id == "" {
				t.Fatal("sample has no session-id header")
			}
			req, err := Parse(s.header, s.body)
			want := Key{Hash: sha(id), Source: SourceHeader, Header: "session-id"}
			if req.Key != want {
				t.Fatalf("Key = %+v, want %+v", req.Key, want)
			}
			if s.body == nil {
				// The WebSocket attempt has no body: malformed, header key kept.
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var std struct {
				Model  string `json:"model"`
				Stream bool   `json:"stream"`
			}
			if err := json.Unmarshal(s.body, &std); err != nil {
				t.Fatal(err)
			}
			if req.Model != std.Model || req.Stream != std.Stream || req.Model == "" {
				t.Fatalf("Model, Stream = %q, %v; want %q, %v", req.Model, req.Stream, std.Model, std.Stream)
			}
			// Without headers prompt_cache_key (the conversation id too) keeps
			// the same key, so a client that drops headers stays sticky.
			noHeader, err := Parse(nil, s.body)
			if err != nil || noHeader.Key.Source != SourcePromptCacheKey || noHeader.Key.Hash != want.Hash {
				t.Fatalf("without headers: %+v, %v; want prompt_cache_key with the same hash", noHeader.Key, err)
			}
		})
	}
}

// TestParseCodexFallback strips both headers and prompt_cache_key from the
// samples to exercise the weakest source on real bodies.
func TestParseCodexFallback(t *testing.T) {
	keys := map[string]Key{}
	for _, s := range loadSamples(t) {
		if s.body == nil {
			continue
		}
		req, err := Parse(nil, withoutFields(t, s.body, "prompt_cache_key"))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		keys[s.name] = req.Key
	}
	tests := []struct {
		name   string
		sample string
		lead   string // expected first message text (the developer prompt), by prefix check
		user   string // expected first user message text
	}{
		{"turn1 skips additional_tools", "request-turn1-default-model", "You are Codex, an agent based on GPT-6.", "<environment_context>"},
		{"turn2 resume", "request-turn2-resume", "You are Codex, an agent based on GPT-6.", "<environment_context>"},
		{"gpt-5.5", "request-gpt-5.5", "You are Codex, a coding agent based on GPT-5.", "<environment_context>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := keys[tt.sample]
			if !ok {
				t.Fatalf("sample %s missing", tt.sample)
			}
			lead, user := firstTexts(t, tt.sample)
			if len(lead) < len(tt.lead) || lead[:len(tt.lead)] != tt.lead || len(user) < len(tt.user) || user[:len(tt.user)] != tt.user {
				t.Fatalf("sample changed: first message %.50q, first user %.50q", lead, user)
			}
			want := Key{Hash: mixed(lead, user), Source: SourceFirstInput}
			if k != want {
				t.Fatalf("Key = %+v, want %+v", k, want)
			}
		})
	}
	t.Run("turn1 and its resume share a key", func(t *testing.T) {
		if keys["request-turn1-default-model"] != keys["request-turn2-resume"] {
			t.Fatal("the resumed turn of a conversation moved to another key")
		}
	})
	t.Run("different developer prompts differ", func(t *testing.T) {
		if keys["request-gpt-5.5"] == keys["request-turn1-default-model"] {
			t.Fatal("two different conversations share a key")
		}
	})
}

// firstTexts decodes a sample fully with encoding/json, the slow way, to
// get the expected first message and first user message texts.
func firstTexts(t *testing.T, name string) (lead, user string) {
	t.Helper()
	for _, s := range loadSamples(t) {
		if s.name != name {
			continue
		}
		var body struct {
			Input []struct {
				Type    string `json:"type"`
				Role    string `json:"role"`
				Content []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"content"`
			} `json:"input"`
		}
		if err := json.Unmarshal(s.body, &body); err != nil {
			t.Fatal(err)
		}
		for _, it := range body.Input {
			if it.Type != "message" {
				continue
			}
			var text string
			for _, p := range it.Content {
				text += p.Text
			}
			if lead == "" {
				lead = text
			}
			if it.Role == "user" {
				return lead, text
			}
		}
	}
	t.Fatalf("sample %s has no user message", name)
	return "", ""
}
