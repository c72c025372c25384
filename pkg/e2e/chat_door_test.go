package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// postChat sends a Chat Completions request to the proxy at base and
// returns the status, content type and body.
func postChat(t *testing.T, base, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestChatFrontDoor: a Chat Completions request served by an account of
// each API the loop sends Responses to (a ChatGPT account, an openai
// account): as JSON and as a stream with usage; the upstream gets a
// Responses request by the backend's rules; what only a native account
// could honour is a 400 that says so.
func TestChatFrontDoor(t *testing.T) {
	accounts := map[string]func() (*fakeupstream.Server, string){
		"chatgpt": func() (*fakeupstream.Server, string) {
			s := startUpstream(t, "gpt", fakeupstream.WithChatGPT(accessToken, "acct-123"))
			return s, chatgptAccount("gpt", s, "ACCESS", "acct-123", 1)
		},
		"openai": func() (*fakeupstream.Server, string) {
			s := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA))
			return s, openaiAccount("api", s, "KEY_A", 1)
		},
	}
	for kind, start := range accounts {
		t.Run(kind, func(t *testing.T) {
			up, yaml := start()
			p := startProxy(t, "accounts:\n"+yaml, env)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy logs:\n%s", p.Logs)
				}
			})
			const msgs = `"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]`

			code, ct, body := postChat(t, p.URL, `{"model":"gpt-5","max_tokens":50,"temperature":0.5,`+msgs+`}`)
			if code != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("JSON: %d %s\n%s", code, ct, body)
			}
			var c struct {
				Object  string
				Choices []struct {
					Message      struct{ Role, Content string }
					FinishReason string `json:"finish_reason"`
				}
				Usage struct {
					PromptTokens     int `json:"prompt_tokens"`
					CompletionTokens int `json:"completion_tokens"`
				}
			}
			if err := json.Unmarshal([]byte(body), &c); err != nil || c.Object != "chat.completion" || len(c.Choices) != 1 ||
				!strings.HasPrefix(c.Choices[0].Message.Content, "Hello from ") || c.Choices[0].FinishReason != "stop" || c.Usage.CompletionTokens == 0 {
				t.Fatalf("JSON answer = %s (%v)", body, err)
			}
			sent := postsOf(up)[len(postsOf(up))-1].Body
			for _, want := range []string{`"store":false`, `"stream":true`} {
				if !strings.Contains(string(sent), want) {
					t.Errorf("the upstream request lacks %s: %s", want, sent)
				}
			}
			if kind == "chatgpt" && (strings.Contains(string(sent), "max_output_tokens") || strings.Contains(string(sent), "temperature")) {
				t.Errorf("the ChatGPT backend was sent what it refuses: %s", sent)
			}
			if kind == "openai" && !strings.Contains(string(sent), `"max_output_tokens":50`) {
				t.Errorf("the API account lost max_tokens: %s", sent)
			}

			code, ct, body = postChat(t, p.URL, `{"model":"gpt-5","stream":true,"stream_options":{"include_usage":true},`+msgs+`}`)
			if code != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") || !strings.HasSuffix(body, "data: [DONE]\n\n") {
				t.Fatalf("stream: %d %s\n%s", code, ct, body)
			}
			var text strings.Builder
			usage := false
			for _, line := range strings.Split(body, "\n") {
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok || data == "[DONE]" {
					continue
				}
				var ch struct {
					Object  string
					Choices []struct{ Delta struct{ Content string } }
					Usage   *struct {
						PromptTokens int `json:"prompt_tokens"`
					}
				}
				if err := json.Unmarshal([]byte(data), &ch); err != nil || ch.Object != "chat.completion.chunk" {
					t.Fatalf("chunk %s: %v", data, err)
				}
				for _, c := range ch.Choices {
					text.WriteString(c.Delta.Content)
				}
				if ch.Usage != nil && ch.Usage.PromptTokens > 0 {
					usage = true
				}
			}
			if !strings.HasPrefix(text.String(), "Hello from ") || !usage {
				t.Errorf("stream text %q, usage chunk %v\n%s", text.String(), usage, body)
			}

			code, _, body = postChat(t, p.URL, `{"model":"gpt-5","n":2,`+msgs+`}`)
			if code != http.StatusBadRequest || !strings.Contains(body, `"param":"n"`) || !strings.Contains(body, "api: chat_completions") {
				t.Errorf("n=2: %d %s", code, body)
			}
			code, _, body = postChat(t, p.URL, `{"model":"gpt-5","messages":[{"content":"no role"}]}`)
			if code != http.StatusBadRequest || !strings.Contains(body, `"param":"messages[0].role"`) {
				t.Errorf("no role: %d %s", code, body)
			}
			relay.Settle()
			if !strings.Contains(p.Logs.String(), "door=chat_completions") {
				t.Errorf("the log does not name the front door")
			}
		})
	}
}

// TestChatPassthrough: a chat request served by an account that speaks
// Chat Completions goes byte for byte (its model renamed by model_map),
// what no translation carries (n, stop) included, and its answer comes
// back as the account's own chunks; the usage is still recorded.
func TestChatPassthrough(t *testing.T) {
	// A pool of chat accounts only never translates a chat request; beside
	// a Responses account (a standby here) it is translated first, and
	// the chat account still gets its own bytes.
	for _, pool := range []string{"chat accounts only", "beside a Responses account"} {
		t.Run(pool, func(t *testing.T) {
			ds := startUpstream(t, "ds", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly())
			cfg := "accounts:\n" + chatAccount("ds", ds, "KEY_A", 1)
			if pool != "chat accounts only" {
				cfg += openaiAccount("api", startUpstream(t, "api", fakeupstream.WithAPIKey(keyB)), "KEY_B", 0)
			}
			p := startProxy(t, cfg, env)
			checkPassthrough(t, ds, p)
			if pool == "chat accounts only" {
				// Nothing judges the request but its provider.
				code, _, out := postChat(t, p.URL, `{"model":"gpt-5","messages":[{"role":"wizard","content":"hi"}]}`)
				if code != http.StatusBadRequest || !strings.Contains(out, "unknown variant") {
					t.Errorf("the provider's own refusal did not come back: %d %s", code, out)
				}
			}
		})
	}
}

func checkPassthrough(t *testing.T, ds *fakeupstream.Server, p *running) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
		}
	})
	for _, stream := range []bool{true, false} {
		body := `{"model":"gpt-5", "n":2,"stop":["\n\n"],"stream":` + strconv.FormatBool(stream) + `,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		if !stream {
			body = strings.Replace(body, `,"stream_options":{"include_usage":true}`, "", 1)
		}
		code, ct, out := postChat(t, p.URL, body)
		if code != http.StatusOK {
			t.Fatalf("stream %v: %d %s", stream, code, out)
		}
		reqs := chatPosts(ds)
		want := strings.Replace(body, `"model":"gpt-5"`, `"model":"deepseek-chat"`, 1)
		if got := string(reqs[len(reqs)-1].Body); got != want {
			t.Errorf("stream %v: the account got\n%s\nwant the client's bytes with its model name\n%s", stream, got, want)
		}
		if stream {
			if !strings.HasPrefix(ct, "text/event-stream") || strings.Contains(out, "event:") || !strings.HasSuffix(out, "data: [DONE]\n\n") || !strings.Contains(out, `"object":"chat.completion.chunk"`) {
				t.Errorf("the stream is not the account's own chunks:\n%s", out)
			}
			if n := strings.Count(out, "data: [DONE]"); n != 1 {
				t.Errorf("[DONE] %d times", n)
			}
		} else if !strings.HasPrefix(ct, "application/json") || !strings.Contains(out, `"object":"chat.completion"`) || !strings.Contains(out, `"model":"deepseek-chat"`) {
			t.Errorf("the JSON answer is not the account's own: %s", out)
		}
	}
	relay.Settle()
	for _, line := range strings.Split(strings.TrimSpace(p.Logs.String()), "\n") {
		if strings.Contains(line, "msg=request") && (!strings.Contains(line, "api=chat_completions") || strings.Contains(line, "input_tokens=0 ") || strings.Contains(line, "translated=")) {
			t.Errorf("a passed-through request is not recorded as one, with its usage: %s", line)
		}
	}
}

// TestJSONAnswerFromBareCompletion: the ChatGPT backend's response.completed
// carries no output (the items came in output_item.done events), so a
// client that asked for JSON, by either front door, gets an answer built
// from those items, not an empty one.
func TestJSONAnswerFromBareCompletion(t *testing.T) {
	up := startUpstream(t, "gpt", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithBareCompletion())
	p := startProxy(t, "accounts:\n"+chatgptAccount("gpt", up, "ACCESS", "acct-123", 1), env)
	out := postJSON(t, p.URL+"/v1/responses", `{"model":"gpt-5","input":"hi"}`)
	var res struct {
		Output []struct {
			Type    string
			Content []struct{ Text string }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Output) != 1 || len(res.Output[0].Content) != 1 || res.Output[0].Content[0].Text != "Hello from gpt." {
		t.Errorf("Responses JSON answer = %s (%v)", out, err)
	}
	code, _, body := postChat(t, p.URL, `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"content":"Hello from gpt."`) {
		t.Errorf("chat JSON answer = %d %s", code, body)
	}
}

// TestChatFrontDoorFailover: a chat request fails over like any other
// (an account limited before its first output is left for the next), and
// gets the upstream's own 429, with its Retry-After, when every account
// is limited.
func TestChatFrontDoorFailover(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithChatGPT(accessToken, "acct-123"))
	a.Script(fakeupstream.RateLimited(30 * time.Second))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 100)+chatgptAccount("b", b, "ACCESS", "acct-123", 0), env)
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	code, _, body := postChat(t, p.URL, `{"model":"gpt-5","stream":true,`+msgs+`}`)
	if code != http.StatusOK || !strings.Contains(body, `"content":"b."`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("failover: %d %s", code, body)
	}
	b.Script(fakeupstream.RateLimited(20 * time.Second))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.URL+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-5",`+msgs+`}`))
	req.Header.Set("Session_id", "another")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(out), `"error"`) {
		t.Errorf("every account limited: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), out)
	}
}

// TestEchoedCredentialIsRedactedInTranslation: a chat-only account that
// quotes its key back (in a chunk, in a JSON answer) has it masked on
// every way out: rebuilt as Responses events, passed through as its own
// chunks, or as its own JSON answer.
func TestEchoedCredentialIsRedactedInTranslation(t *testing.T) {
	tests := []struct {
		name, path, body string
	}{
		{"rebuilt stream", "/v1/responses", `{"model":"gpt-5","stream":true,"input":"hi"}`},
		{"gathered rebuilt stream", "/v1/responses", `{"model":"gpt-5","input":"hi"}`},
		{"passed-through chunks", "/v1/chat/completions", `{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"passed-through JSON", "/v1/chat/completions", `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := startUpstream(t, "ds", fakeupstream.WithAPIKey(opaqueKey), fakeupstream.WithChatOnly())
			ds.Script(fakeupstream.Fault{EchoCredential: true})
			p := startProxy(t, "accounts:\n"+chatAccount("ds", ds, "OPAQUE", 1), map[string]string{"OPAQUE": opaqueKey})
			code, _, out := postTo(t, p.URL+tt.path, tt.body)
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, out)
			}
			assertNoSecrets(t, "the answer", out, opaqueKey)
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("the answer does not carry the mask where the key was:\n%s", out)
			}
			relay.Settle()
			assertNoSecrets(t, "proxy logs", p.Logs.String(), opaqueKey)
		})
	}
}
