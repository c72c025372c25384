package fakeupstream

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// rawEvents reads a stream with the relay's own reader and returns copies
// of its events and the error that ended it (nil for a clean end).
func rawEvents(t *testing.T, body io.Reader) ([][]byte, error) {
	t.Helper()
	r := sse.NewReader(body)
	var out [][]byte
	for {
		ev, err := r.Next()
		if len(ev) > 0 {
			out = append(out, append([]byte(nil), ev...))
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func eventData(t *testing.T, ev []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(sse.Data(ev), &m); err != nil {
		t.Fatalf("event data is not JSON: %v\n%s", err, ev)
	}
	return m
}

// TestOrderings streams each failure ordering and checks the events, their
// order, and that the proxy's own reading (sse.Failure, then
// health.ClassifyStreamFailure) gives the class the ordering stands for.
func TestOrderings(t *testing.T) {
	resetsAt := time.Unix(1_900_000_000, 0)
	nested := ErrorEventAfterOpening("server_is_overloaded", "Our servers are currently overloaded.")
	nested.FailEvent = FailNestedErrorEvent
	opening := []string{"response.created", "response.in_progress"}
	tests := []struct {
		name       string
		fault      Fault
		wantEvents []string
		wantCut    bool
		// wantData are dotted paths into the last event's data.
		wantData  map[string]any
		wantClass health.Class // of the last event; "" when it is no failure
	}{
		{
			name: "response.failed after the opening", fault: OverloadedAfterOpening(),
			wantEvents: append(opening, "response.failed"),
			wantData:   map[string]any{"response.status": "failed", "response.error.code": "server_is_overloaded"},
			wantClass:  health.Overloaded,
		},
		{
			name:       "flat error event after the opening",
			fault:      ErrorEventAfterOpening("server_is_overloaded", "Our servers are currently overloaded."),
			wantEvents: append(opening, "error"),
			wantData:   map[string]any{"code": "server_is_overloaded", "message": "Our servers are currently overloaded.", "param": nil, "error": nil},
			wantClass:  health.Overloaded,
		},
		{
			name: "nested error event after the opening", fault: nested,
			wantEvents: append(opening, "error"),
			wantData:   map[string]any{"error.type": "server_error", "error.code": "server_is_overloaded", "error.message": "Our servers are currently overloaded.", "code": nil},
			wantClass:  health.Overloaded,
		},
		{
			name: "error event first", fault: ErrorEventFirst("server_error", "The server had an error"),
			wantEvents: []string{"error"},
			wantData:   map[string]any{"code": "server_error", "message": "The server had an error", "sequence_number": float64(0)},
			wantClass:  health.Overloaded,
		},
		{
			name: "request fault as an error event", fault: ErrorEventFirst("context_length_exceeded", "Your input exceeds the context window of this model."),
			wantEvents: []string{"error"},
			wantClass:  health.ClientError,
		},
		{
			name: "usage limit inside a 200 stream", fault: QuotaInStream(resetsAt),
			wantEvents: append(opening, "error"),
			wantData: map[string]any{"error.type": "usage_limit_reached", "error.code": nil, "error.plan_type": "plus",
				"error.resets_at": float64(resetsAt.Unix()), "error.message": "The usage limit has been reached"},
			wantClass: health.Quota,
		},
		{
			name: "cut before the first delta", fault: CutAfterDeltas(0),
			wantEvents: wantEvents[:4], wantCut: true,
			wantData: map[string]any{"type": "response.content_part.added"},
		},
		{
			name: "cut after one delta", fault: CutAfterDeltas(1),
			wantEvents: wantEvents[:5], wantCut: true,
			wantData: map[string]any{"type": "response.output_text.delta", "delta": "Hello "},
		},
		{
			name: "cut after two deltas", fault: CutAfterDeltas(2),
			wantEvents: wantEvents[:6], wantCut: true,
		},
		{
			name: "cut after more deltas than the reply has", fault: CutAfterDeltas(50),
			wantEvents: wantEvents[:len(wantEvents)-1], wantCut: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(tc.fault)
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			evs, err := rawEvents(t, resp.Body)
			var got []string
			for _, ev := range evs {
				got = append(got, sse.Type(ev))
			}
			if !slices.Equal(got, tc.wantEvents) {
				t.Fatalf("events %v, want %v", got, tc.wantEvents)
			}
			if tc.wantCut != (err != nil) {
				t.Errorf("stream ended with %v, want a cut: %v", err, tc.wantCut)
			}
			last := evs[len(evs)-1]
			data := eventData(t, last)
			for path, want := range tc.wantData {
				if got := get(data, path); got != want {
					t.Errorf("%s = %#v, want %#v\n%s", path, got, want, last)
				}
			}
			code, message, typ, failed := sse.Failure(last)
			if failed != (tc.wantClass != "") {
				t.Fatalf("sse.Failure ok = %v on %s", failed, last)
			}
			if failed {
				o := health.ClassifyStreamFailure(code, message, typ)
				if o.Class != tc.wantClass {
					t.Errorf("classified %q (%s), want %q", o.Class, o.Message, tc.wantClass)
				}
				if message == "" {
					t.Errorf("the failure carries no message: %s", last)
				}
			}
		})
	}
}

// TestOrderingsOnJSON: the same faults on a stream:false request become the
// error status that fits their code.
func TestOrderingsOnJSON(t *testing.T) {
	resetsAt := time.Unix(1_900_000_000, 0)
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantType   string
		wantCode   any
	}{
		{"overloaded", OverloadedAfterOpening(), 503, "server_error", "server_is_overloaded"},
		{"error event with a server error", ErrorEventFirst("server_error", "boom"), 500, "server_error", "server_error"},
		{"request fault", ErrorEventFirst("context_length_exceeded", "too long"), 400, "server_error", "context_length_exceeded"},
		{"usage limit", QuotaInStream(resetsAt), 429, "usage_limit_reached", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(tc.fault)
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", `{"model":"gpt-5"}`, nil)
			body := readBodyBytes(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			e := checkErrorShape(t, body)
			if e["type"] != tc.wantType || e["code"] != tc.wantCode {
				t.Errorf("error %v, want type %v code %v", e, tc.wantType, tc.wantCode)
			}
			if tc.name == "usage limit" {
				if e["resets_at"] != float64(resetsAt.Unix()) {
					t.Errorf("resets_at %v", e["resets_at"])
				}
				if o := health.Classify(time.Unix(0, 0), resp.StatusCode, resp.Header, body, nil); o.Class != health.Quota || !o.Until.Equal(resetsAt) {
					t.Errorf("classified %+v, want quota until %v", o, resetsAt)
				}
			}
		})
	}
}

func TestForbiddenFaults(t *testing.T) {
	tests := []struct {
		name      string
		fault     Fault
		wantCT    string
		wantBody  string
		wantClass health.Class
	}{
		{"HTML page from a gateway", ForbiddenHTML(), "text/html; charset=utf-8", "<html>", health.Forbidden},
		{"invalid_api_key", ForbiddenInvalidKey(), "application/json", `"code":"invalid_api_key"`, health.Unauthorized},
		{"region refusal", ForbiddenRegion(), "application/json", `"code":"unsupported_country_region_territory"`, health.Forbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(tc.fault)
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
			body := readBodyBytes(t, resp)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.wantCT {
				t.Errorf("Content-Type %q, want %q", ct, tc.wantCT)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body %s, want it to contain %s", body, tc.wantBody)
			}
			if o := health.Classify(time.Unix(0, 0), resp.StatusCode, resp.Header, body, nil); o.Class != tc.wantClass {
				t.Errorf("classified %q (%s), want %q", o.Class, o.Message, tc.wantClass)
			}
		})
	}
}

func TestRepeat(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		wantN int
	}{
		{"three", 3, 3},
		{"zero", 0, 0},
		{"negative", -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(Repeat(tc.n, ErrorEventFirst("server_is_overloaded", "busy"))...)
			for i := range tc.wantN + 1 {
				resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
				evs, err := rawEvents(t, resp.Body)
				resp.Body.Close()
				if err != nil || len(evs) == 0 {
					t.Fatalf("request %d: %d events, %v", i, len(evs), err)
				}
				wantFirst := "error"
				if i == tc.wantN {
					wantFirst = "response.created" // the queue is empty again
				}
				if got := sse.Type(evs[0]); got != wantFirst {
					t.Errorf("request %d: first event %s, want %s", i, got, wantFirst)
				}
			}
		})
	}
}

func TestTurnState(t *testing.T) {
	s := start(t, New("alpha", WithTurnState()))
	steps := []struct {
		name     string
		sent     string // x-codex-turn-state on the request
		stream   bool
		fault    *Fault
		wantBack string // on the answer
	}{
		{name: "a new turn gets a turn state", stream: true, wantBack: "ts-alpha-1"},
		{name: "the turn goes on with its own", sent: "ts-alpha-1", stream: true, wantBack: "ts-alpha-1"},
		{name: "the next turn gets a new one", stream: true, wantBack: "ts-alpha-2"},
		{name: "a JSON answer carries it too", sent: "ts-alpha-2", wantBack: "ts-alpha-2"},
		{name: "another account's turn state starts a new turn", sent: "ts-beta-1", stream: true, wantBack: "ts-alpha-3"},
		{name: "an error answer carries none", sent: "ts-gamma-9", fault: &Fault{Status: 500}},
	}
	for _, st := range steps {
		h := http.Header{}
		if st.sent != "" {
			h.Set("X-Codex-Turn-State", st.sent)
		}
		if st.fault != nil {
			s.Script(*st.fault)
		}
		body := `{"model":"gpt-5"}`
		if st.stream {
			body = streamBody("gpt-5", "k")
		}
		resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", body, h)
		readBodyBytes(t, resp)
		if got := resp.Header.Get("X-Codex-Turn-State"); got != st.wantBack {
			t.Errorf("%s: answered turn state %q, want %q", st.name, got, st.wantBack)
		}
	}
	if got, want := s.TurnStatesReceived(), []string{"", "ts-alpha-1", "", "ts-alpha-2", "ts-beta-1", "ts-gamma-9"}; !slices.Equal(got, want) {
		t.Errorf("TurnStatesReceived = %q, want %q", got, want)
	}
	if got, want := s.ForeignTurnStates(), []string{"ts-beta-1", "ts-gamma-9"}; !slices.Equal(got, want) {
		t.Errorf("ForeignTurnStates = %q, want %q", got, want)
	}
}

func TestNoTurnStateByDefault(t *testing.T) {
	s := start(t, New("alpha"))
	resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", "k"), nil)
	readBodyBytes(t, resp)
	if got := resp.Header.Get("X-Codex-Turn-State"); got != "" {
		t.Errorf("turn state %q without WithTurnState", got)
	}
	if got := s.ForeignTurnStates(); got != nil {
		t.Errorf("ForeignTurnStates = %q on a server that received none", got)
	}
}

// TestNotTheAPI: a captive portal's page and each redirect answer as
// such, and health classifies them as not the API's.
func TestNotTheAPI(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
	}{
		{"captive portal", CaptivePortal(), http.StatusOK},
		{"301", Redirect(301, "http://127.0.0.1:1/login?next=x"), 301},
		{"307", Redirect(307, "http://127.0.0.1:1/login?next=x"), 307},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("alpha"))
			s.Script(tc.fault)
			req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, s.URL()+"/v1/responses", strings.NewReader(streamBody("gpt-5", "k")))
			req.Header.Set("Content-Type", "application/json")
			// Never follow: the redirect itself is what is tested.
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBodyBytes(t, resp)
			if resp.StatusCode != tc.wantStatus || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if tc.wantStatus != http.StatusOK && resp.Header.Get("Location") != "http://127.0.0.1:1/login?next=x" {
				t.Errorf("Location %q", resp.Header.Get("Location"))
			}
			if o := health.Classify(time.Unix(0, 0), resp.StatusCode, resp.Header, body, nil); o.Class != health.NotAPI {
				t.Errorf("classified %q (%s), want %q", o.Class, o.Message, health.NotAPI)
			}
		})
	}
}
