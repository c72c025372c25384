package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/store"
)

const (
	keyA        = "sk-upstream-a-0123456789abcdef"
	keyB        = "sk-upstream-b-0123456789abcdef"
	accessToken = "chatgpt-access-token-0123456789"
	clientKey   = "client-key-laptop-0123456789"
)

var env = map[string]string{"KEY_A": keyA, "KEY_B": keyB, "ACCESS": accessToken, "CLIENT_KEY": clientKey}

func sdk(p *running, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(p.URL + "/v1/"),
		option.WithAPIKey(clientKey),
		option.WithMaxRetries(0),
	}, opts...)...)
}

func params(text string) responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model: "gpt-5",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(text)},
	}
}

// streamText runs one streaming request and returns the text and the
// completed response.
func streamText(t *testing.T, c openai.Client, p responses.ResponseNewParams, opts ...option.RequestOption) (string, responses.Response) {
	t.Helper()
	st := c.Responses.NewStreaming(context.Background(), p, opts...)
	var text strings.Builder
	var done responses.Response
	events := 0
	for st.Next() {
		ev := st.Current()
		events++
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			done = ev.Response
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if events < 4 || done.ID == "" {
		t.Fatalf("stream had %d events and completed=%q", events, done.ID)
	}
	return text.String(), done
}

// The seed bug: /responses only considered openai-responses accounts, so a
// pool of openai accounts answered 503 no_available_account.
func TestResponsesServedByOpenAIOnlyPool(t *testing.T) {
	a := startUpstream(t, "third-party-a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "third-party-b", fakeupstream.WithAPIKey(keyB))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1)+openaiAccount("b", b, "KEY_B", 1), env)
	for _, path := range []string{"/v1/", "/"} {
		c := sdk(p, option.WithBaseURL(p.URL+path))
		text, done := streamText(t, c, params("hi"))
		if !strings.HasPrefix(text, "Hello from third-party-") || done.Usage.InputTokens == 0 {
			t.Fatalf("base %s: got %q, usage %+v", path, text, done.Usage)
		}
	}
}

func TestStreamingStickyAcrossAccountTypes(t *testing.T) {
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA))
	chat := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-123"))
	m := miniredis.RunT(t)
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+
		openaiAccount("api", api, "KEY_A", 1)+chatgptAccount("chatgpt", chat, "ACCESS", "acct-123", 1),
		env, withRedis("redis://"+m.Addr()+"/0"))
	c := sdk(p)

	served := map[string]map[string]int{} // session -> reply -> count
	for _, sess := range []string{"conv-1", "conv-2", "conv-3", "conv-4", "conv-5", "conv-6"} {
		served[sess] = map[string]int{}
		for range 3 {
			text, _ := streamText(t, c, params("turn"), option.WithHeader("session_id", sess))
			served[sess][text]++
		}
		if len(served[sess]) != 1 {
			t.Fatalf("session %s was served by several accounts: %v", sess, served[sess])
		}
	}
	// Both types took sessions: selection really spans the account types.
	if len(api.Requests()) == 0 || len(chat.Requests()) == 0 {
		t.Fatalf("api got %d requests, chatgpt %d: both types should serve sessions", len(api.Requests()), len(chat.Requests()))
	}
	for _, r := range append(api.Requests(), chat.Requests()...) {
		if strings.Contains(r.Header.Get("Authorization"), clientKey) {
			t.Fatal("the client key reached an upstream")
		}
	}
	for _, r := range chat.Requests() {
		if r.Header.Get("Chatgpt-Account-Id") != "acct-123" || r.Header.Get("Authorization") != "Bearer "+accessToken {
			t.Fatalf("chatgpt upstream got headers %v", r.Header)
		}
	}
	// Tokens were recorded per account in the store; usage is written off
	// the request path, and stopping the proxy writes what is queued.
	p.stop()
	st := store.New(redis.NewClient(&redis.Options{Addr: m.Addr()}), store.Options{KeyPrefix: "proxy:"})
	defer st.Close()
	var total int64
	for _, name := range []string{"api", "chatgpt"} {
		u, err := st.UsageToday(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		total += u.Requests
		if u.Requests > 0 && (u.InputTokens == 0 || u.OutputTokens == 0) {
			t.Fatalf("account %s: usage %+v has no tokens", name, u)
		}
	}
	if total != 18 {
		t.Fatalf("store counted %d requests, want 18", total)
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, accessToken, clientKey)
}

func TestNonStreaming(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	c := sdk(p)
	resp, err := c.Responses.New(context.Background(), params("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != "Hello from a." || resp.Usage.OutputTokens == 0 {
		t.Fatalf("got %q, usage %+v", resp.OutputText(), resp.Usage)
	}
	if !strings.Contains(p.Logs.String(), "output_tokens="+itoa(resp.Usage.OutputTokens)) {
		t.Fatalf("log line lacks the usage:\n%s", p.Logs)
	}
}

func TestClientKeys(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	wrong := sdk(p, option.WithAPIKey("wrong-key"))
	_, err := wrong.Responses.New(context.Background(), params("x"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Type != "authentication_error" {
		t.Fatalf("wrong key: got %v", err)
	}
	if len(a.Requests()) != 0 {
		t.Fatal("an unauthenticated request reached the upstream")
	}
	right := sdk(p)
	if _, err := right.Responses.New(context.Background(), params("x")); err != nil {
		t.Fatalf("right key: %v", err)
	}
	if !strings.Contains(p.Logs.String(), "client=laptop") {
		t.Fatalf("log lacks the client key's name:\n%s", p.Logs)
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, clientKey, "wrong-key")
}

func TestProxyErrorsAreOpenAIShaped(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1)+`    models: ["gpt-5*"]
`, env)
	tests := []struct {
		name     string
		method   string
		path     string
		header   http.Header
		body     string
		status   int
		typ      string
		wantBody string // exact, when set
	}{
		{name: "no account serves the model", method: "POST", path: "/v1/responses", body: `{"model":"o3","input":"x"}`, status: 503, typ: "no_available_account",
			wantBody: `{"error":{"message":"no available account: no enabled account in the proxy's config serves model \"o3\"; check each account's models list with ` + "`proxy accounts list`" + `","type":"no_available_account","param":null,"code":"no_available_account"}}`},
		{name: "websocket upgrade on compact", method: "GET", path: "/v1/responses/compact", header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"LdJZFBJTpnmuz0AbfxzlaQ=="}}, status: 426, typ: "invalid_request_error"},
		{name: "websocket from a web page", method: "GET", path: "/v1/responses", header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"LdJZFBJTpnmuz0AbfxzlaQ=="}, "Origin": {"https://evil.example"}}, status: 403, typ: "permission_error"},
		{name: "websocket upgrade without a key", method: "GET", path: "/v1/responses", header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}}, status: 400, typ: "invalid_request_error"},
		{name: "malformed json", method: "POST", path: "/v1/responses", body: `{"model":`, status: 400, typ: "invalid_request_error"},
		{name: "not an object", method: "POST", path: "/responses", body: `[1,2]`, status: 400, typ: "invalid_request_error"},
		{name: "unknown route", method: "POST", path: "/v1/completions", body: `{}`, status: 404, typ: "invalid_request_error"},
		{name: "chat request without a model", method: "POST", path: "/v1/chat/completions", body: `{"messages":[{"role":"user","content":"hi"}]}`, status: 400, typ: "invalid_request_error"},
		{name: "wrong method", method: "PUT", path: "/v1/responses", body: `{}`, status: 405, typ: "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, p.URL+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var shape struct {
				Error map[string]json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal(body, &shape); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := shape.Error[k]; !ok {
					t.Errorf("error lacks %q: %s", k, body)
				}
			}
			if resp.StatusCode != tt.status || string(shape.Error["type"]) != `"`+tt.typ+`"` {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.typ)
			}
			if tt.wantBody != "" && strings.TrimSpace(string(body)) != tt.wantBody {
				t.Fatalf("body\n got %s\nwant %s", body, tt.wantBody)
			}
		})
	}
	if len(a.Requests()) != 0 {
		t.Fatalf("%d bad requests reached the upstream", len(a.Requests()))
	}
}

func TestCodexSampleForwardedByteForByte(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	for _, name := range []string{"request-turn1-default-model.json", "request-turn2-resume.json", "request-gpt-5.5.json"} {
		t.Run(name, func(t *testing.T) {
			s := loadSample(t, name)
			for _, enc := range []string{"identity", "zstd"} {
				req := s.request(t, p.URL, enc)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(body, []byte("response.completed")) {
					t.Fatalf("%s: %d %s", enc, resp.StatusCode, body)
				}
				got := a.Requests()[len(a.Requests())-1]
				if !bytes.Equal(got.Body, s.Body) {
					t.Fatalf("%s: upstream got a different body (%d bytes, sent %d)", enc, len(got.Body), len(s.Body))
				}
				for _, h := range []string{"Session-Id", "X-Codex-Turn-Metadata", "Originator", "User-Agent"} {
					if got.Header.Get(h) != req.Header.Get(h) || got.Header.Get(h) == "" {
						t.Errorf("%s: header %s not passed through: %q", enc, h, got.Header.Get(h))
					}
				}
				if got.Header.Get("Authorization") != "Bearer "+keyA || got.Header.Get("Content-Encoding") != "" {
					t.Errorf("%s: upstream auth/encoding headers: %v", enc, got.Header)
				}
			}
		})
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The ChatGPT backend only streams: a non-streaming request routed to a
// ChatGPT account is sent as a stream and gathered back into JSON.
func TestNonStreamingOnChatGPTAccount(t *testing.T) {
	chat := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-123"))
	p := startProxy(t, "accounts:\n"+chatgptAccount("chatgpt", chat, "ACCESS", "acct-123", 1), env)
	c := sdk(p)
	resp, err := c.Responses.New(context.Background(), params("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != "Hello from chatgpt." || resp.Usage.OutputTokens == 0 || resp.ID == "" {
		t.Fatalf("got %q, usage %+v", resp.OutputText(), resp.Usage)
	}
	got := chat.Requests()[0]
	if !bytes.Contains(got.Body, []byte(`"stream":true`)) || !bytes.Contains(got.Body, []byte(`"store":false`)) {
		t.Fatalf("upstream got %s", got.Body)
	}
}
