package fakeupstream

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var wantEvents = []string{
	"response.created",
	"response.in_progress",
	"response.output_item.added",
	"response.content_part.added",
	"response.output_text.delta",
	"response.output_text.delta",
	"response.output_text.delta",
	"response.output_text.done",
	"response.content_part.done",
	"response.output_item.done",
	"response.completed",
}

func TestStream(t *testing.T) {
	s := start(t, New("alpha"))
	tests := []struct {
		name      string
		path      string
		model     string
		wantModel string
	}{
		{"v1 prefix", "/v1/responses", "gpt-5.5", "gpt-5.5"},
		{"no prefix", "/responses", "gpt-5-codex", "gpt-5-codex"},
		{"chatgpt base path", "/backend-api/codex/responses", "gpt-5", "gpt-5"},
		{"empty model defaults to gpt-5", "/v1/responses", "", "gpt-5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+tc.path, streamBody(tc.model, "conv-"+tc.name), nil)
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type %q", ct)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no x-request-id")
			}
			if got := resp.Header.Get("Openai-Model"); got != tc.wantModel {
				t.Errorf("openai-model %q, want %q", got, tc.wantModel)
			}
			evs, err := newSSEReader(resp.Body).readAll()
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got := names(evs); !slices.Equal(got, wantEvents) {
				t.Fatalf("events\n got %v\nwant %v", got, wantEvents)
			}
			var text strings.Builder
			for i, e := range evs {
				if e.Data["type"] != e.Name {
					t.Errorf("event %d: data type %v, event name %s", i, e.Data["type"], e.Name)
				}
				if got := num(t, e.Data, "sequence_number"); got != i {
					t.Errorf("event %d: sequence_number %d", i, got)
				}
				if e.Name == "response.output_text.delta" {
					text.WriteString(e.Data["delta"].(string))
				}
			}
			if text.String() != "Hello from alpha." {
				t.Errorf("deltas concatenate to %q", text.String())
			}
			if got := get(evs[len(evs)-4].Data, "text"); got != "Hello from alpha." {
				t.Errorf("output_text.done text %v", got)
			}
			done := evs[len(evs)-1].Data
			checkCompletedResponse(t, get(done, "response"), tc.wantModel, "Hello from alpha.")
			if get(evs[0].Data, "response.id") != get(done, "response.id") {
				t.Error("response.created and response.completed carry different ids")
			}
		})
	}
}

// checkCompletedResponse asserts what Codex needs from a finished response.
func checkCompletedResponse(t *testing.T, r any, model, text string) {
	t.Helper()
	if id, _ := get(r, "id").(string); !strings.HasPrefix(id, "resp_") {
		t.Errorf("id %q", id)
	}
	for path, want := range map[string]any{"object": "response", "status": "completed", "model": model} {
		if got := get(r, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if num(t, r, "created_at") <= 0 {
		t.Error("created_at not set")
	}
	out, _ := get(r, "output").([]any)
	if len(out) != 1 {
		t.Fatalf("output %v", get(r, "output"))
	}
	if get(out[0], "type") != "message" || get(out[0], "role") != "assistant" {
		t.Errorf("output item %v", out[0])
	}
	content, _ := get(out[0], "content").([]any)
	if len(content) != 1 || get(content[0], "type") != "output_text" || get(content[0], "text") != text {
		t.Errorf("content %v", content)
	}
	// output_tokens counts the reasoning, as the real API's does.
	in, outTok := num(t, r, "usage.input_tokens"), num(t, r, "usage.output_tokens")
	reasoning := num(t, r, "usage.output_tokens_details.reasoning_tokens")
	if in < 1 || outTok != len(strings.Fields(text))+reasoning {
		t.Errorf("usage tokens in=%d out=%d reasoning=%d", in, outTok, reasoning)
	}
	if num(t, r, "usage.total_tokens") != in+outTok {
		t.Error("total_tokens is not input+output")
	}
	num(t, r, "usage.input_tokens_details.cached_tokens")
	if reasoning <= 0 {
		t.Error("reasoning_tokens missing")
	}
}

// TestStreamFlushesEachEvent holds the server at a gate after n events and
// checks that exactly those n events have reached the client: anything
// buffered instead of flushed would make the read block.
func TestStreamFlushesEachEvent(t *testing.T) {
	s := start(t, New("alpha"))
	for _, n := range []int{0, 1, 4, len(wantEvents) - 1} {
		t.Run(fmt.Sprintf("gate after %d events", n), func(t *testing.T) {
			gate := make(chan struct{})
			s.Script(Fault{Hang: gate, HangAfter: n})
			// Do returning at all, with the gate still shut, proves the
			// headers were flushed before the first event.
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", ""), nil)
			defer resp.Body.Close()
			r := newSSEReader(resp.Body)
			for i := range n {
				ev, err := r.next()
				if err != nil {
					t.Fatalf("event %d before the gate: %v", i, err)
				}
				if ev.Name != wantEvents[i] {
					t.Fatalf("event %d is %s, want %s", i, ev.Name, wantEvents[i])
				}
			}
			close(gate)
			rest, err := r.readAll()
			if err != nil {
				t.Fatalf("after the gate: %v", err)
			}
			if got := names(rest); !slices.Equal(got, wantEvents[n:]) {
				t.Errorf("after the gate got %v, want %v", got, wantEvents[n:])
			}
		})
	}
}

func TestNonStream(t *testing.T) {
	s := start(t, New("beta", WithReply("Pong from the beta account")))
	body := `{"model":"gpt-5-mini","input":"ping","stream":false}`
	resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", body, nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("Openai-Model") != "gpt-5-mini" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("headers %v", resp.Header)
	}
	checkCompletedResponse(t, decode(t, resp.Body), "gpt-5-mini", "Pong from the beta account")
}

// TestCodexSamples replays real Codex CLI requests, headers included. A
// sample whose input replays account-bound items (reasoning or compaction
// items another upstream minted) is refused by default, naming the first
// such item, and served by a server built to accept foreign items.
func TestCodexSamples(t *testing.T) {
	files, err := filepath.Glob("../../testdata/codex-samples/request-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	strict := start(t, New("alpha", WithAPIKey("sk-upstream")))
	lenient := start(t, New("lenient", WithAPIKey("sk-upstream"), WithForeignItems(AcceptForeignItems)))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var sample struct {
				Path    string            `json:"path"`
				Headers map[string]string `json:"headers"`
				Body    json.RawMessage   `json:"body"`
			}
			if err := json.Unmarshal(raw, &sample); err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			for k, v := range sample.Headers {
				switch strings.ToLower(k) {
				case "host", "content-length", "authorization":
				default:
					h.Set(k, v)
				}
			}
			h.Set("Authorization", "Bearer sk-upstream")
			var body struct {
				Model string
				Input []struct {
					Type             string  `json:"type"`
					ID               string  `json:"id"`
					EncryptedContent *string `json:"encrypted_content"`
				}
			}
			_ = json.Unmarshal(sample.Body, &body)
			foreign := ""
			for _, it := range body.Input {
				if it.EncryptedContent != nil {
					foreign = it.ID
					break
				}
			}

			srv := strict
			if foreign != "" {
				resp := do(t, testCtx(t), http.MethodPost, strict.URL()+sample.Path, string(sample.Body), h)
				b := readBodyBytes(t, resp)
				e := checkErrorShape(t, b)
				want := "The encrypted content for item " + foreign + " could not be verified."
				if resp.StatusCode != http.StatusBadRequest || e["code"] != "invalid_encrypted_content" || !strings.HasPrefix(e["message"].(string), want) {
					t.Fatalf("foreign items answered %d %s, want the 400 naming %s", resp.StatusCode, b, foreign)
				}
				srv = lenient
			}
			resp := do(t, testCtx(t), http.MethodPost, srv.URL()+sample.Path, string(sample.Body), h)
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			evs, err := newSSEReader(resp.Body).readAll()
			if err != nil || len(evs) == 0 || evs[len(evs)-1].Name != "response.completed" {
				t.Fatalf("stream ended with %v after %v", err, names(evs))
			}
			if got := get(evs[len(evs)-1].Data, "response.model"); got != body.Model {
				t.Errorf("model %v, want %s", got, body.Model)
			}
		})
	}
}

// TestServeHTTPDirect covers the handler used without a listener, as the demo
// may mount it: the stream must still be complete and flushed.
func TestServeHTTPDirect(t *testing.T) {
	s := New("alpha")
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()
	resp := do(t, testCtx(t), http.MethodPost, ts.URL+"/responses", streamBody("gpt-5", "k"), nil)
	defer resp.Body.Close()
	evs, err := newSSEReader(resp.Body).readAll()
	if err != nil || !slices.Equal(names(evs), wantEvents) {
		t.Fatalf("got %v, %v", names(evs), err)
	}
}
