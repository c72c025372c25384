package fakeupstream

import (
	"net/http"
	"strings"
	"testing"
)

func TestChatRoutes(t *testing.T) {
	chat := startChat(t)
	plain := start(t, New("plain"))
	notFound := `{"detail":"Not Found"}`
	cases := []struct {
		name     string
		server   *Server
		method   string
		path     string
		body     string
		header   http.Header
		status   int
		wantBody string // exact body, "" to skip
		contains string // substring of the body, "" to skip
	}{
		{name: "chat-only serves chat", server: chat, method: http.MethodPost, path: "/v1/chat/completions", body: chatBody(t, map[string]any{"stream": false}), status: 200, contains: `"object":"chat.completion"`},
		{name: "any base path", server: chat, method: http.MethodPost, path: "/api/paas/v4/chat/completions", body: chatBody(t, map[string]any{"stream": false}), status: 200},
		{name: "chat-only lists models", server: chat, method: http.MethodGet, path: "/v1/models", status: 200, contains: `"object":"list"`},
		{name: "chat-only has no responses", server: chat, method: http.MethodPost, path: "/v1/responses", body: streamBody("gpt-5", ""), status: 404, wantBody: notFound},
		{name: "chat-only has no compact", server: chat, method: http.MethodPost, path: "/v1/responses/compact", body: streamBody("gpt-5", ""), status: 404, wantBody: notFound},
		{name: "chat-only unknown path", server: chat, method: http.MethodPost, path: "/v1/completions", body: "{}", status: 404, wantBody: notFound},
		{name: "chat-only refuses websocket", server: chat, method: http.MethodGet, path: "/v1/responses", header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, status: 404, wantBody: notFound},
		{name: "chat wants POST", server: chat, method: http.MethodGet, path: "/v1/chat/completions", status: 405},
		{name: "responses server has no chat", server: plain, method: http.MethodPost, path: "/v1/chat/completions", body: chatBody(t, nil), status: 404, contains: "Invalid URL (POST /v1/chat/completions)"},
		{name: "responses server still serves responses", server: plain, method: http.MethodPost, path: "/v1/responses", body: streamBody("gpt-5", ""), status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, testCtx(t), tc.method, tc.server.URL()+tc.path, tc.body, tc.header)
			b := readBodyBytes(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.wantBody != "" && string(b) != tc.wantBody {
				t.Errorf("body %s, want %s", b, tc.wantBody)
			}
			if tc.contains != "" && !strings.Contains(string(b), tc.contains) {
				t.Errorf("body %s, want it to contain %s", b, tc.contains)
			}
		})
	}
	if n := chat.RefusedUpgrades(); n != 0 {
		t.Errorf("RefusedUpgrades = %d: a chat-only 404 is not a 426", n)
	}
}

func TestChatAPIKey(t *testing.T) {
	s := startChat(t, WithAPIKey("sk-deep"))
	cases := []struct {
		name   string
		auth   string
		status int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"wrong key", "Bearer sk-other", http.StatusUnauthorized},
		{"right key", "Bearer sk-deep", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.auth != "" {
				h.Set("Authorization", tc.auth)
			}
			resp := postChat(t, s, chatBody(t, map[string]any{"stream": false}), h)
			b := readBodyBytes(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}
}

func TestChatRecordsRequests(t *testing.T) {
	s := startChat(t)
	body := chatBody(t, nil)
	readChat(t, postChat(t, s, body, nil))
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/chat/completions" || string(reqs[0].Body) != body {
		t.Fatalf("Requests() = %+v, want the one chat request", reqs)
	}
}

func TestChatPromptCache(t *testing.T) {
	a := startChat(t)
	b := startChat(t)
	first := chatBody(t, nil)
	second := chatBody(t, map[string]any{"messages": []any{
		map[string]any{"role": "system", "content": "be brief"}, userMsg("say hi"),
		map[string]any{"role": "assistant", "content": "hi"}, userMsg("again"),
	}})
	other := chatBody(t, map[string]any{"messages": []any{userMsg("another conversation")}})
	keyed := func(key string) string { return chatBody(t, map[string]any{"prompt_cache_key": key}) }

	cached := func(s *Server, body string) int {
		t.Helper()
		u := chatStreamOf(t, s, body).usage()
		if u == nil {
			t.Fatal("no usage chunk")
		}
		return num(t, u, "prompt_tokens_details.cached_tokens")
	}
	if got := cached(a, first); got != 0 {
		t.Errorf("first turn cached %d, want 0", got)
	}
	if got := cached(a, second); got == 0 {
		t.Error("second turn of the same conversation on the same account: no cache hit")
	}
	if got := cached(b, second); got != 0 {
		t.Errorf("second turn moved to another account cached %d, want 0", got)
	}
	if got := cached(a, other); got != 0 {
		t.Errorf("another conversation cached %d, want 0", got)
	}
	cached(a, keyed("k1"))
	if got := cached(a, keyed("k1")); got == 0 {
		t.Error("a repeated prompt_cache_key: no cache hit")
	}
}

func TestChatNonStream(t *testing.T) {
	cases := []struct {
		name   string
		opts   []Option
		body   map[string]any
		want   string // the message, as JSON
		finish string
	}{
		{
			name:   "text",
			body:   map[string]any{"stream": false},
			want:   `{"role":"assistant","content":"Hello from deep."}`,
			finish: "stop",
		},
		{
			name:   "stream absent",
			body:   map[string]any{"stream": nil, "stream_options": nil},
			want:   `{"role":"assistant","content":"Hello from deep."}`,
			finish: "stop",
		},
		{
			name:   "thinking",
			opts:   []Option{WithThinking()},
			body:   map[string]any{"stream": false},
			want:   `{"role":"assistant","content":"Hello from deep.","reasoning_content":"Thinking it over."}`,
			finish: "stop",
		},
		{
			name:   "tool call",
			opts:   []Option{WithToolCall("exec", `{"cmd":["ls","-la"]}`)},
			body:   map[string]any{"stream": false},
			want:   `{"role":"assistant","content":null,"tool_calls":[{"id":"<id>","type":"function","function":{"name":"exec","arguments":"{\"cmd\":[\"ls\",\"-la\"]}"}}]}`,
			finish: "tool_calls",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startChat(t, tc.opts...)
			resp := postChat(t, s, chatBody(t, tc.body), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, readBodyBytes(t, resp))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			m := decode(t, resp.Body)
			resp.Body.Close()
			if get(m, "object") != "chat.completion" || get(m, "model") != "deepseek-chat" || num(t, m, "created") != int(chatClock.Unix()) {
				t.Errorf("head of %v", m)
			}
			if id, _ := get(m, "id").(string); !strings.HasPrefix(id, "chatcmpl-") {
				t.Errorf("id %q, want chatcmpl-...", id)
			}
			choice := asSlice(m["choices"])[0]
			if fr := get(choice, "finish_reason"); fr != tc.finish {
				t.Errorf("finish_reason %v, want %s", fr, tc.finish)
			}
			msg := get(choice, "message").(map[string]any)
			for _, c := range asSlice(msg["tool_calls"]) {
				if id, _ := get(c, "id").(string); !strings.HasPrefix(id, "call_") {
					t.Errorf("call id %q", id)
				}
				c.(map[string]any)["id"] = "<id>"
			}
			jsonEqual(t, msg, tc.want)
			if num(t, m, "usage.total_tokens") != num(t, m, "usage.prompt_tokens")+num(t, m, "usage.completion_tokens") {
				t.Errorf("usage %v does not add up", m["usage"])
			}
		})
	}
}
