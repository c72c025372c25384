package relay

import (
	"encoding/json"
	"strings"
	"testing"
)

// exchange plays one request and its answer through a conversation: the
// frame is read, and the answer's events are observed as they would reach
// the client. It returns the complete request.
func exchange(t *testing.T, cv *conversation, frame string, events ...string) map[string]any {
	t.Helper()
	f, _, apiErr := cv.read([]byte(frame))
	if apiErr != nil {
		t.Fatalf("read(%s): %s", frame, apiErr.Message)
	}
	var body map[string]any
	if err := json.Unmarshal(f.body, &body); err != nil {
		t.Fatalf("complete request is not JSON: %v\n%s", err, f.body)
	}
	for _, e := range events {
		cv.observe([]byte(e))
	}
	return body
}

func completed(id string) string {
	return `{"type":"response.completed","response":{"id":"` + id + `","status":"completed","output":[]}}`
}

func itemDone(item string) string {
	return `{"type":"response.output_item.done","output_index":0,"item":` + item + `}`
}

// inputTypes lists the complete request's input items as type/role or
// type/call_id, to compare conversations at a glance.
func inputTypes(t *testing.T, body map[string]any) string {
	t.Helper()
	items, ok := body["input"].([]any)
	if !ok {
		t.Fatalf("input is %T, want an array", body["input"])
	}
	var out []string
	for _, it := range items {
		m := it.(map[string]any)
		s, _ := m["type"].(string)
		if r, ok := m["role"].(string); ok {
			s += "/" + r
		}
		if c, ok := m["call_id"].(string); ok {
			s += "/" + c
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestConversationCompletesIncrementalRequests(t *testing.T) {
	cv := &conversation{max: 1 << 20}
	call := `{"type":"function_call","call_id":"c1","name":"get_goal","arguments":"{}"}`

	// A warmup's input is the conversation's start.
	first := exchange(t, cv, `{"type":"response.create","model":"gpt-5","generate":false,"input":[{"type":"message","role":"developer","content":"rules"}]}`)
	if _, ok := first["generate"]; ok {
		t.Errorf("generate kept in the complete request: %v", first)
	}
	cv.warmed("resp_warm")

	turn := exchange(t, cv, `{"type":"response.create","model":"gpt-5","previous_response_id":"resp_warm","input":[{"type":"message","role":"user","content":"hi"}]}`,
		`{"type":"response.created","response":{"id":"resp_1"}}`, itemDone(call), completed("resp_1"))
	if got, want := inputTypes(t, turn), "message/developer message/user"; got != want {
		t.Errorf("turn input = %s, want %s", got, want)
	}
	if _, ok := turn["previous_response_id"]; ok {
		t.Errorf("previous_response_id kept: %v", turn)
	}
	if _, ok := turn["type"]; ok {
		t.Errorf("type kept: %v", turn)
	}
	if turn["stream"] != true {
		t.Errorf("stream = %v, want true: a WebSocket answer is always events", turn["stream"])
	}

	tool := exchange(t, cv, `{"type":"response.create","model":"gpt-5","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c1","output":"ok"}]}`)
	if got, want := inputTypes(t, tool), "message/developer message/user function_call/c1 function_call_output/c1"; got != want {
		t.Errorf("tool turn input = %s, want %s", got, want)
	}
	if tool["model"] != "gpt-5" {
		t.Errorf("model = %v, want the frame's", tool["model"])
	}
}

func TestConversationRefusals(t *testing.T) {
	cases := []struct {
		name     string
		frame    string
		wantCode string
	}{
		{"unknown previous response", `{"type":"response.create","previous_response_id":"resp_other","input":[]}`, "previous_response_not_found"},
		{"other message type", `{"type":"session.update"}`, "unsupported_message_type"},
		{"not JSON", `{"type":`, "invalid_json"},
		{"too large", `{"type":"response.create","input":[{"type":"message","role":"user","content":"` + strings.Repeat("x", 300) + `"}]}`, "request_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cv := &conversation{max: 256}
			_, _, apiErr := cv.read([]byte(tc.frame))
			if apiErr == nil || apiErr.Code == nil || *apiErr.Code != tc.wantCode {
				t.Fatalf("read = %+v, want code %s", apiErr, tc.wantCode)
			}
		})
	}
}

func TestConversationTooLargeToContinue(t *testing.T) {
	cv := &conversation{max: 400}
	exchange(t, cv, `{"type":"response.create","input":[{"type":"message","role":"user","content":"hi"}]}`,
		itemDone(`{"type":"message","role":"assistant","content":"`+strings.Repeat("y", 400)+`"}`), completed("resp_1"))
	_, _, apiErr := cv.read([]byte(`{"type":"response.create","previous_response_id":"resp_1","input":[]}`))
	if apiErr == nil || *apiErr.Code != "request_too_large" {
		t.Fatalf("continuing an oversized conversation = %+v, want request_too_large", apiErr)
	}
	// Starting over with the complete input works.
	exchange(t, cv, `{"type":"response.create","input":[{"type":"message","role":"user","content":"again"}]}`)
}

func TestConversationFailedResponseIsNotContinued(t *testing.T) {
	cv := &conversation{max: 1 << 20}
	exchange(t, cv, `{"type":"response.create","input":[{"type":"message","role":"user","content":"hi"}]}`,
		`{"type":"response.created","response":{"id":"resp_1"}}`, completed("resp_1"))
	exchange(t, cv, `{"type":"response.create","previous_response_id":"resp_1","input":[{"type":"message","role":"user","content":"more"}]}`,
		`{"type":"response.created","response":{"id":"resp_2"}}`, `{"type":"response.failed","response":{"id":"resp_2"}}`)
	if _, _, apiErr := cv.read([]byte(`{"type":"response.create","previous_response_id":"resp_2","input":[]}`)); apiErr == nil {
		t.Fatal("a failed response was continued")
	}
	body := exchange(t, cv, `{"type":"response.create","previous_response_id":"resp_1","input":[{"type":"message","role":"user","content":"retry"}]}`)
	if got, want := inputTypes(t, body), "message/user message/user"; got != want {
		t.Errorf("retry input = %s, want %s", got, want)
	}
}

func TestConversationBudget(t *testing.T) {
	b := NewBudget(1000)
	cv := &conversation{max: 800, budget: b}
	exchange(t, cv, `{"type":"response.create","input":[{"type":"message","role":"user","content":"hi"}]}`, completed("resp_1"))
	if b.Used() == 0 {
		t.Fatal("the conversation held nothing against the budget")
	}
	cv.close()
	if b.Used() != 0 {
		t.Fatalf("budget used after close = %d, want 0", b.Used())
	}
}

func TestConversationBareStringInput(t *testing.T) {
	cv := &conversation{max: 1 << 20}
	body := exchange(t, cv, `{"type":"response.create","input":"say \"hi\""}`)
	if got, want := inputTypes(t, body), "message/user"; got != want {
		t.Fatalf("input = %s, want %s", got, want)
	}
	text := body["input"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"]
	if text != `say "hi"` {
		t.Errorf("text = %q", text)
	}
}

func TestErrorEvent(t *testing.T) {
	h := make(map[string][]string)
	h["Retry-After"] = []string{"7"}
	cases := []struct {
		name, body, wantType string
	}{
		{"openai shaped", `{"error":{"type":"rate_limit_error","code":"rate_limit_exceeded","message":"slow down"}}`, "rate_limit_error"},
		{"html", `<html>bad gateway</html>`, "upstream_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ev struct {
				Type    string            `json:"type"`
				Status  int               `json:"status"`
				Error   map[string]any    `json:"error"`
				Headers map[string]string `json:"headers"`
			}
			if err := json.Unmarshal(errorEvent(429, h, []byte(tc.body)), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != "error" || ev.Status != 429 || ev.Error["type"] != tc.wantType || ev.Headers["retry-after"] != "7" {
				t.Errorf("error event = %+v", ev)
			}
		})
	}
}

// TestConversationNoMemoryAsksToReconnect: when the body budget cannot
// hold a finished exchange, a message continuing it is told to go on on a
// new connection (where Codex sends the complete input), not refused as
// too large.
func TestConversationNoMemoryAsksToReconnect(t *testing.T) {
	b := NewBudget(150)
	cv := &conversation{max: 1 << 20, budget: b}
	exchange(t, cv, `{"type":"response.create","input":[{"type":"message","role":"user","content":"hi"}]}`,
		itemDone(`{"type":"message","role":"assistant","content":"`+strings.Repeat("y", 200)+`"}`), completed("resp_1"))
	_, _, apiErr := cv.read([]byte(`{"type":"response.create","previous_response_id":"resp_1","input":[]}`))
	if apiErr == nil || *apiErr.Code != codeReconnect || !strings.Contains(apiErr.Message, "limits.body_memory") {
		t.Fatalf("continuing = %+v, want %s naming limits.body_memory", apiErr, codeReconnect)
	}
	if b.Used() != 0 {
		t.Errorf("budget used = %d, want 0 (nothing held)", b.Used())
	}
}
