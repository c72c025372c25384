package fakeupstream

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestChatGPTUnsupportedParameters(t *testing.T) {
	chatgpt := start(t, New("chat", WithChatGPT("tok", "acct"), WithWebSocket()))
	api := start(t, New("api", WithAPIKey("sk")))
	chatH := http.Header{"Authorization": {"Bearer tok"}, "Chatgpt-Account-Id": {"acct"}}
	with := func(name string, v any) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(streamBody("gpt-5", "k")), &m); err != nil {
			t.Fatal(err)
		}
		if name != "" {
			m[name] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name   string
		server *Server
		header http.Header
		body   string
		status int
		want   string // the exact body of a refusal
	}{
		{name: "max_output_tokens", server: chatgpt, header: chatH, body: with("max_output_tokens", 512), status: 400, want: `{"detail":"Unsupported parameter: max_output_tokens"}`},
		{name: "temperature", server: chatgpt, header: chatH, body: with("temperature", 0.2), status: 400, want: `{"detail":"Unsupported parameter: temperature"}`},
		{name: "top_p", server: chatgpt, header: chatH, body: with("top_p", 0.9), status: 400, want: `{"detail":"Unsupported parameter: top_p"}`},
		{name: "frequency_penalty", server: chatgpt, header: chatH, body: with("frequency_penalty", 0.5), status: 400, want: `{"detail":"Unsupported parameter: frequency_penalty"}`},
		{name: "presence_penalty", server: chatgpt, header: chatH, body: with("presence_penalty", 0.5), status: 400, want: `{"detail":"Unsupported parameter: presence_penalty"}`},
		{name: "even null", server: chatgpt, header: chatH, body: with("max_output_tokens", nil), status: 400, want: `{"detail":"Unsupported parameter: max_output_tokens"}`},
		{name: "codex body", server: chatgpt, header: chatH, body: with("", nil), status: 200},
		{
			// Codex's exec_command tool has a max_output_tokens argument:
			// only a top-level member is the refused parameter.
			name: "nested in a tool schema", server: chatgpt, header: chatH, status: 200,
			body: with("tools", []any{map[string]any{"type": "function", "name": "exec_command", "parameters": map[string]any{
				"type": "object", "properties": map[string]any{"max_output_tokens": map[string]any{"type": "number"}},
			}}}),
		},
		{name: "the API takes them", server: api, header: http.Header{"Authorization": {"Bearer sk"}}, body: with("max_output_tokens", 512), status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, testCtx(t), http.MethodPost, tc.server.URL()+"/backend-api/codex/responses", tc.body, tc.header)
			b := readBodyBytes(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.want != "" && string(b) != tc.want {
				t.Errorf("body %s, want %s", b, tc.want)
			}
		})
	}
	t.Run("websocket frame", func(t *testing.T) {
		ctx := testCtx(t)
		h := codexWSHeader("tok")
		h.Set("Chatgpt-Account-Id", "acct")
		c, _ := dialWS(t, ctx, wsURL(chatgpt.URL(), "/backend-api/codex/responses"), h)
		sendFrame(t, ctx, c, map[string]any{"temperature": 0.3})
		ev := readEvent(t, ctx, c)
		if ev["type"] != "error" || num(t, ev, "status") != 400 || get(ev, "error.message") != "Unsupported parameter: temperature" {
			t.Errorf("event %v", ev)
		}
		sendFrame(t, ctx, c, nil)
		if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
			t.Errorf("the connection does not serve the next frame: %v", eventTypes(evs))
		}
	})
}
