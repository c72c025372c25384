package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// opaqueKey has no known shape: only the proxy's own list of secrets
// hides it when an upstream echoes it.
const opaqueKey = "opaque-upstream-key-0123456789"

// TestEchoedCredentialIsRedacted is issue 20's upstream that echoes the
// account's key or token in answer headers (x-echo-auth,
// openai-organization) and in the text of a successful answer: an
// output_text.delta, response.completed, a JSON answer, a gathered one, a
// WebSocket turn. None of it reaches the client; the answer stays well
// formed and its usage is still counted.
func TestEchoedCredentialIsRedacted(t *testing.T) {
	tests := []struct {
		name    string
		chatgpt bool   // an openai-responses account (its access token), else an openai one
		ws      bool   // the client speaks WebSocket
		body    string // the HTTP request
		secret  string
	}{
		{name: "stream, api key", body: `{"model":"gpt-5","stream":true,"input":"hi"}`, secret: opaqueKey},
		{name: "stream, chatgpt token", chatgpt: true, body: `{"model":"gpt-5","stream":true,"input":"hi"}`, secret: accessToken},
		{name: "json answer", body: `{"model":"gpt-5","input":"hi"}`, secret: opaqueKey},
		{name: "gathered answer", chatgpt: true, body: `{"model":"gpt-5","input":"hi"}`, secret: accessToken},
		{name: "websocket", chatgpt: true, ws: true, secret: accessToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var up *fakeupstream.Server
			var cfg string
			if tt.chatgpt {
				up = startUpstream(t, "echo", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
				cfg = "accounts:\n" + chatgptAccount("echo", up, "ACCESS", "acct-123", 1)
			} else {
				up = startUpstream(t, "echo", fakeupstream.WithAPIKey(opaqueKey))
				cfg = "accounts:\n" + openaiAccount("echo", up, "OPAQUE", 1)
			}
			up.Script(fakeupstream.Fault{EchoCredential: true})
			p := startProxy(t, cfg, map[string]string{"ACCESS": accessToken, "OPAQUE": opaqueKey})

			var got string
			if tt.ws {
				c := wsDial(t, p.URL, "", "sess-echo")
				a := wsSend(t, c, `{"type":"response.create","model":"gpt-5","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]}`)
				if a.last().Type != "response.completed" {
					t.Fatalf("the turn ended with %s", a.last().raw)
				}
				for _, ev := range a {
					got += string(ev.raw) + "\n"
				}
				if !strings.HasSuffix(a.text(), " [redacted]") {
					t.Errorf("the turn's text does not end with the mask")
				}
			} else {
				resp := postBody(t, p.URL, tt.body)
				b, _ := io.ReadAll(resp.Body)
				got = string(b)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				for _, k := range []string{"X-Echo-Auth", "Openai-Organization"} {
					assertNoSecrets(t, "header "+k, resp.Header.Get(k), tt.secret)
					if !strings.Contains(resp.Header.Get(k), "[redacted]") {
						t.Errorf("header %s is %q, want the mask", k, resp.Header.Get(k))
					}
				}
				wellFormed(t, resp.Header.Get("Content-Type"), b)
			}
			if len(up.Requests()) == 0 {
				t.Fatal("the upstream was never asked: the test proves nothing")
			}
			assertNoSecrets(t, "the client's answer", got, tt.secret)
			if !strings.Contains(got, "[redacted]") {
				t.Error("the answer does not show the mask where the upstream echoed the credential")
			}
			// The request's line is written once the answer has ended.
			waitForLog(t, p, "output_tokens=")
			if strings.Contains(p.Logs.String(), "output_tokens=0 ") {
				t.Errorf("the usage of the redacted answer was not counted:\n%s", p.Logs)
			}
			assertNoSecrets(t, "the logs", p.Logs.String(), tt.secret)
		})
	}
}

// postBody sends body to /v1/responses with the client key and returns
// the response with its body unread.
func postBody(t *testing.T, base, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/responses", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// wellFormed checks a JSON answer parses, and each event of a stream has
// JSON data and its blank line.
func wellFormed(t *testing.T, contentType string, b []byte) {
	t.Helper()
	if !strings.HasPrefix(contentType, "text/event-stream") {
		if !json.Valid(b) {
			t.Errorf("the JSON answer does not parse")
		}
		return
	}
	if !strings.HasSuffix(string(b), "\n\n") {
		t.Error("the stream does not end with a blank line")
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && !json.Valid([]byte(data)) {
			t.Errorf("an event's data does not parse")
		}
	}
}

// TestClientKeyInQueryNotForwarded is issue 20's client that puts its key
// in ?api_key= besides the header: the account gets the rest of the query,
// never the key, over HTTP and over the WebSocket; the logs do not show it.
func TestClientKeyInQueryNotForwarded(t *testing.T) {
	for _, ws := range []bool{false, true} {
		name := "http"
		if ws {
			name = "websocket"
		}
		t.Run(name, func(t *testing.T) {
			up := startUpstream(t, "up", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
			cfg := "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n" + chatgptAccount("up", up, "ACCESS", "acct-123", 1)
			p := startProxy(t, cfg, env)
			base := p.URL + "/v1/responses?api_key=" + clientKey + "&x=1"
			if ws {
				c := wsDialURL(t, "ws"+strings.TrimPrefix(base, "http"), clientKey)
				if a := wsSend(t, c, `{"type":"response.create","model":"gpt-5","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]}`); a.last().Type != "response.completed" {
					t.Fatalf("the turn ended with %s", a.last().raw)
				}
			} else {
				req, _ := http.NewRequest(http.MethodPost, base, strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
				req.Header.Set("Authorization", "Bearer "+clientKey)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			reqs := up.Requests()
			if len(reqs) == 0 {
				t.Fatal("the upstream was never asked")
			}
			for _, r := range reqs {
				assertNoSecrets(t, "the query the upstream got", r.RawQuery, clientKey)
				if r.RawQuery != "x=1" {
					t.Errorf("the upstream got the query %q, want x=1", strings.ReplaceAll(r.RawQuery, clientKey, "[key]"))
				}
			}
			waitForLog(t, p, "output_tokens=")
			assertNoSecrets(t, "the logs", p.Logs.String(), clientKey)
		})
	}
}

// wsDialURL opens a WebSocket to url as Codex does, with the client key.
func wsDialURL(t *testing.T, url, key string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Openai-Beta": {"responses_websockets=2026-02-06"}, "Session-Id": {"sess-query"}, "Authorization": {"Bearer " + key}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("WebSocket upgrade: %v", err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}
