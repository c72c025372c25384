package fakeupstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStatusFaults(t *testing.T) {
	resetsAt := time.Unix(1_900_000_000, 0)
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantType   string
		wantCode   any
		wantHeader map[string]string
	}{
		{
			name: "bare 500 gets a server_error body", fault: Fault{Status: 500},
			wantStatus: 500, wantType: "server_error", wantCode: nil,
		},
		{
			name: "bare 401", fault: Fault{Status: 401},
			wantStatus: 401, wantType: "invalid_request_error", wantCode: "invalid_api_key",
		},
		{
			name: "custom body and header",
			fault: Fault{Status: 402, Body: `{"error":{"message":"pay","type":"billing","param":null,"code":"insufficient_quota"}}`,
				Header: http.Header{"X-Custom": {"1"}}},
			wantStatus: 402, wantType: "billing", wantCode: "insufficient_quota", wantHeader: map[string]string{"X-Custom": "1"},
		},
		{
			name: "QuotaExceeded", fault: QuotaExceeded(resetsAt),
			wantStatus: 429, wantType: "usage_limit_reached", wantCode: nil,
			wantHeader: map[string]string{
				"X-Codex-Primary-Used-Percent": "100",
				"X-Codex-Primary-Reset-At":     strconv.FormatInt(resetsAt.Unix(), 10),
				"X-Codex-Active-Limit":         "codex",
			},
		},
		{
			name: "RateLimited rounds Retry-After up", fault: RateLimited(1500 * time.Millisecond),
			wantStatus: 429, wantType: "requests", wantCode: "rate_limit_exceeded",
			wantHeader: map[string]string{"Retry-After": "2", "Retry-After-Ms": "1500"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(tc.fault)
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
			body := readBodyBytes(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			e := checkErrorShape(t, body)
			if e["type"] != tc.wantType || e["code"] != tc.wantCode {
				t.Errorf("error %v", e)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.name == "QuotaExceeded" {
				if got := e["resets_at"]; got != float64(resetsAt.Unix()) || e["plan_type"] != "plus" {
					t.Errorf("resets_at %v plan_type %v", got, e["plan_type"])
				}
			}
			// The queue is empty again: the next request succeeds.
			ok := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
			readBodyBytes(t, ok)
			if ok.StatusCode != http.StatusOK {
				t.Errorf("request after the fault: status %d", ok.StatusCode)
			}
		})
	}
}

func TestStreamFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantEvents []string
		wantCut    bool
		check      func(t *testing.T, evs []sseEvent)
	}{
		{
			name: "first event failed", fault: Fault{FirstEventFailed: true},
			wantEvents: []string{"response.failed"},
			check: func(t *testing.T, evs []sseEvent) {
				if get(evs[0].Data, "response.error.code") != "server_is_overloaded" || get(evs[0].Data, "response.status") != "failed" {
					t.Errorf("response.failed %v", evs[0].Data)
				}
			},
		},
		{
			name: "first event failed with a code", fault: Fault{FirstEventFailed: true, FailCode: "server_error", FailMessage: "boom"},
			wantEvents: []string{"response.failed"},
			check: func(t *testing.T, evs []sseEvent) {
				if get(evs[0].Data, "response.error.code") != "server_error" || get(evs[0].Data, "response.error.message") != "boom" {
					t.Errorf("response.failed %v", evs[0].Data)
				}
			},
		},
		{name: "cut after 3 events", fault: Fault{CutAfter: 3}, wantEvents: wantEvents[:3], wantCut: true},
		{name: "cut after too many events still drops completed", fault: Fault{CutAfter: 100}, wantEvents: wantEvents[:len(wantEvents)-1], wantCut: true},
		{name: "cut right after the headers", fault: Fault{CutAfter: -1}, wantEvents: nil, wantCut: true},
		{name: "header on a good stream", fault: Fault{Header: http.Header{"X-Codex-Turn-State": {"ts-1"}}}, wantEvents: wantEvents},
		// The reader drops an event cut off by the end of the body, as the
		// SSE spec says, and reports the partial event as an error.
		{name: "unterminated response.completed", fault: Fault{UnterminatedLast: true}, wantEvents: wantEvents[:len(wantEvents)-1], wantCut: true},
		{name: "unterminated last event where a cut would be", fault: Fault{CutAfter: 3, UnterminatedLast: true}, wantEvents: wantEvents[:2], wantCut: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(tc.fault)
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for k := range tc.fault.Header {
				if resp.Header.Get(k) != tc.fault.Header.Get(k) {
					t.Errorf("header %s = %q", k, resp.Header.Get(k))
				}
			}
			evs, err := newSSEReader(resp.Body).readAll()
			if got := names(evs); !slices.Equal(got, tc.wantEvents) {
				t.Errorf("events %v, want %v", got, tc.wantEvents)
			}
			if tc.wantCut {
				// The connection drops mid chunked body: the client must see
				// an error, not a clean end of stream.
				if err == nil {
					t.Error("cut stream ended cleanly")
				}
			} else if err != nil {
				t.Errorf("stream error: %v", err)
			}
			if tc.check != nil && len(evs) > 0 {
				tc.check(t, evs)
			}
		})
	}
}

func TestJSONFaults(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		method     string
		body       string
		fault      Fault
		wantStatus int
		wantCut    bool
	}{
		{"non-stream cut mid body", "/v1/responses", "POST", `{"model":"gpt-5"}`, Fault{CutAfter: 1}, 200, true},
		{"non-stream first event failed", "/v1/responses", "POST", `{"model":"gpt-5"}`, Fault{FirstEventFailed: true}, 503, false},
		{"compact failed with other code", "/v1/responses/compact", "POST", `{"model":"gpt-5","input":[]}`, Fault{FirstEventFailed: true, FailCode: "server_error"}, 500, false},
		{"compact 500", "/v1/responses/compact", "POST", `{"model":"gpt-5","input":[]}`, Fault{Status: 500}, 500, false},
		{"models 401", "/v1/models", "GET", "", Fault{Status: 401}, 401, false},
		{"models cut", "/v1/models", "GET", "", Fault{CutAfter: 1}, 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(tc.fault)
			resp := do(t, testCtx(t), tc.method, s.URL()+tc.path, tc.body, nil)
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			body, err := io.ReadAll(resp.Body)
			if tc.wantCut {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("cut body read: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus >= 400 {
				checkErrorShape(t, body)
			}
		})
	}
}

// TestHang covers the three ways a hanging request ends: its gate opens, the
// client gives up, or the server closes. hanging tells the test when the
// handler has reached the gate, so nothing depends on timing.
func TestHang(t *testing.T) {
	tests := []struct {
		name          string
		beforeHeaders bool
		end           string // "gate", "client", "close"
	}{
		{"before headers, gate opens", true, "gate"},
		{"after headers, gate opens", false, "gate"},
		{"before headers, client cancels", true, "client"},
		{"after headers, client cancels", false, "client"},
		{"before headers, server closes", true, "close"},
		{"after headers, server closes", false, "close"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New("alpha")
			reached := make(chan struct{}, 1)
			s.hanging = func() { reached <- struct{}{} }
			if err := s.Start(""); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			gate := make(chan struct{})
			s.Script(Fault{Hang: gate, HangBeforeHeaders: tc.beforeHeaders})

			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			type result struct {
				resp *http.Response
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := send(ctx, http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
				done <- result{resp, err}
			}()
			<-reached

			var res result
			if !tc.beforeHeaders {
				// The headers were flushed before the handler blocked.
				res = <-done
				if res.err != nil || res.resp.StatusCode != http.StatusOK {
					t.Fatalf("headers before the gate: %v", res.err)
				}
				defer res.resp.Body.Close()
			}
			switch tc.end {
			case "gate":
				close(gate)
			case "client":
				cancel()
			case "close":
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
			if tc.beforeHeaders {
				res = <-done
			}
			var evs []sseEvent
			var err error = res.err
			if res.resp != nil {
				evs, err = newSSEReader(res.resp.Body).readAll()
				res.resp.Body.Close()
			}
			if tc.end == "gate" {
				if err != nil || !slices.Equal(names(evs), wantEvents) {
					t.Errorf("after the gate: %v %v", names(evs), err)
				}
				return
			}
			if len(evs) == len(wantEvents) {
				t.Errorf("a hang ended by %s still completed", tc.end)
			}
			// Close waits for the handler: returning proves it woke up.
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestScriptOrder(t *testing.T) {
	s := start(t, New("alpha"))
	s.Script(Fault{Status: 500}, Fault{Status: 503}, QuotaExceeded(time.Unix(2e9, 0)))
	var got []int
	for range 5 {
		resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
		readBodyBytes(t, resp)
		got = append(got, resp.StatusCode)
	}
	if want := []int{500, 503, 429, 200, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

// TestUnterminatedLastEndsMidEvent: the body ends right after the last
// event's data line, without the blank line; a clean end, not a cut.
func TestUnterminatedLastEndsMidEvent(t *testing.T) {
	s := start(t, New("alpha"))
	s.Script(Fault{UnterminatedLast: true})
	resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("the body did not end cleanly: %v", err)
	}
	last := body[bytes.LastIndex(body, []byte("event: ")):]
	if !bytes.HasPrefix(last, []byte("event: response.completed\ndata: {")) || !bytes.HasSuffix(last, []byte("}\n")) || bytes.HasSuffix(last, []byte("\n\n")) {
		t.Fatalf("last event %q, want response.completed ending with its data line", last)
	}
}

// TestTrickle: after TrickleAfter events, bytes keep coming and none of
// them completes an event.
func TestTrickle(t *testing.T) {
	s := start(t, New("alpha"))
	s.Script(Fault{Trickle: time.Millisecond, TrickleAfter: 2})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
	defer resp.Body.Close()
	r := newSSEReader(resp.Body)
	for _, want := range []string{"response.created", "response.in_progress"} {
		if ev, err := r.next(); err != nil || ev.Name != want {
			t.Fatalf("event %q (%v), want %s", ev.Name, err, want)
		}
	}
	// Well past the event's start: the trickled bytes are all 'a'.
	var got []byte
	for len(got) < 200 {
		b, err := r.r.ReadByte()
		if err != nil {
			t.Fatalf("the trickle ended after %q: %v", got, err)
		}
		got = append(got, b)
	}
	head := `event: response.output_text.delta` + "\n" + `data: {"type":"response.output_text.delta","delta":"`
	if !bytes.HasPrefix(got, []byte(head)) || len(bytes.Trim(got[len(head):], "a")) > 0 {
		t.Fatalf("trickled %q, want the start of an event and then only 'a'", got)
	}
}

// TestEchoCredential checks the echo reaches every place a test of the
// proxy looks for it: the answer's headers, a delta, the completed text,
// a JSON reply, a WebSocket turn.
func TestEchoCredential(t *testing.T) {
	const key = "sk-echo-me-0123456789abcdef"
	s := start(t, New("alpha", WithAPIKey(key), WithWebSocket()))
	auth := http.Header{"Authorization": {"Bearer " + key}}
	ctx := testCtx(t)

	s.Script(Fault{EchoCredential: true})
	resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), auth)
	if got := resp.Header.Get("X-Echo-Auth"); got != "Bearer "+key {
		t.Errorf("X-Echo-Auth %q", got)
	}
	if got := resp.Header.Get("Openai-Organization"); got != key {
		t.Errorf("OpenAI-Organization %q", got)
	}
	evs, err := newSSEReader(resp.Body).readAll()
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var delta bool
	for _, ev := range evs {
		if ev.Name == "response.output_text.delta" && get(ev.Data, "delta") == key {
			delta = true
		}
	}
	if !delta {
		t.Error("no output_text.delta quotes the key")
	}
	if last := evs[len(evs)-1]; last.Name != "response.completed" || !strings.HasSuffix(replyText(last.Data), " "+key) {
		t.Error("response.completed does not end with the key")
	}

	s.Script(Fault{EchoCredential: true})
	resp = do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", `{"model":"gpt-5","input":"hi"}`, auth)
	if body := readBodyBytes(t, resp); !strings.Contains(string(body), " "+key+`"`) || resp.Header.Get("X-Echo-Auth") == "" {
		t.Error("the JSON reply does not quote the key")
	}

	s.Script(Fault{EchoCredential: true})
	c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), codexWSHeader(key))
	sendFrame(t, ctx, c, map[string]any{"type": "response.create", "model": "gpt-5", "input": userInput("hi")})
	turn := readTurn(t, ctx, c)
	if got := replyText(turn[len(turn)-1]); !strings.HasSuffix(got, " "+key) {
		t.Error("the WebSocket turn's text does not end with the key")
	}

	resp = do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), auth)
	if body := readBodyBytes(t, resp); strings.Contains(string(body), key) || resp.Header.Get("X-Echo-Auth") != "" {
		t.Error("a request without the fault echoes the key")
	}
}
