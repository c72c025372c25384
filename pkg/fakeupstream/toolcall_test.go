package fakeupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const (
	toolArgs  = `{"command":["echo","hi"]}`
	userItem  = `{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}`
	callItem  = `{"type":"function_call","call_id":"call_1","name":"shell","arguments":"{}"}`
	outputFor = `{"type":"function_call_output","call_id":"call_1","output":"hi"}`
)

// TestToolCallSSE checks the event sequence of a tool-call turn over SSE,
// then that the follow-up carrying the call's output gets the text.
func TestToolCallSSE(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, New("alpha", WithToolCall("shell", toolArgs)))
	body := fmt.Sprintf(`{"model":"gpt-5","stream":true,"store":false,"input":[%s]}`, userItem)
	resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", body, nil)
	defer resp.Body.Close()
	evs, err := newSSEReader(resp.Body).readAll()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	want := []string{
		"response.created", "response.in_progress", "response.output_item.added",
		"response.function_call_arguments.delta", "response.function_call_arguments.done",
		"response.output_item.done", "response.completed",
	}
	if got := names(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	added := evs[2].Data["item"].(map[string]any)
	wantAdded := map[string]any{"type": "function_call", "id": added["id"], "call_id": added["call_id"], "name": "shell", "arguments": "", "status": "in_progress"}
	if !reflect.DeepEqual(added, wantAdded) {
		t.Errorf("added item %v", added)
	}
	id, _ := added["id"].(string)
	callID, _ := added["call_id"].(string)
	if !strings.HasPrefix(id, "fc_") || !strings.HasPrefix(callID, "call_") {
		t.Errorf("ids %q %q", id, callID)
	}
	delta, done := evs[3].Data, evs[4].Data
	if delta["delta"] != toolArgs || delta["item_id"] != id || num(t, delta, "output_index") != 0 {
		t.Errorf("delta event %v", delta)
	}
	if done["arguments"] != toolArgs || done["item_id"] != id || done["name"] != "shell" {
		t.Errorf("done event %v", done)
	}
	wantDone := map[string]any{"type": "function_call", "id": id, "call_id": callID, "name": "shell", "arguments": toolArgs, "status": "completed"}
	if item := evs[5].Data["item"]; !reflect.DeepEqual(item, wantDone) {
		t.Errorf("output_item.done item %v", item)
	}
	out, _ := get(evs[6].Data, "response.output").([]any)
	if len(out) != 1 || !reflect.DeepEqual(out[0], wantDone) {
		t.Errorf("completed output %v", out)
	}
	if num(t, evs[6].Data, "response.usage.input_tokens") == 0 || num(t, evs[6].Data, "response.usage.output_tokens") == 0 {
		t.Errorf("usage %v", get(evs[6].Data, "response.usage"))
	}

	body = fmt.Sprintf(`{"model":"gpt-5","stream":true,"store":false,"input":[%s,%s,%s]}`, userItem, callItem, outputFor)
	resp2 := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", body, nil)
	defer resp2.Body.Close()
	evs, err = newSSEReader(resp2.Body).readAll()
	if err != nil || len(evs) == 0 {
		t.Fatalf("follow-up: %v", err)
	}
	last := evs[len(evs)-1]
	if last.Name != "response.completed" || replyText(last.Data) != "Hello from alpha." {
		t.Errorf("follow-up ended with %s, text %q", last.Name, replyText(last.Data))
	}
}

// TestToolCallWhichItem checks, on JSON replies, which item a request gets:
// the call unless the input ends with its output, and compaction first.
func TestToolCallWhichItem(t *testing.T) {
	s := start(t, New("alpha", WithToolCall("shell", toolArgs)))
	tests := []struct {
		name     string
		input    string
		wantType string
	}{
		{"user message", `[` + userItem + `]`, "function_call"},
		{"string prompt", `"hi"`, "function_call"},
		{"empty input", `[]`, "function_call"},
		{"call output last", `[` + userItem + `,` + callItem + `,` + outputFor + `]`, "message"},
		{"user message after the output", `[` + outputFor + `,` + userItem + `]`, "function_call"},
		{"compaction trigger", `[` + userItem + `,{"type":"compaction_trigger"}]`, "compaction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"model":"gpt-5","stream":false,"input":%s}`, tc.input)
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", body, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, readBodyBytes(t, resp))
			}
			m := decode(t, resp.Body)
			resp.Body.Close()
			out, _ := m["output"].([]any)
			if len(out) != 1 {
				t.Fatalf("output %v, want one item", m["output"])
			}
			if typ := get(out[0], "type"); typ != tc.wantType {
				t.Fatalf("item type %v, want %s", typ, tc.wantType)
			}
			if tc.wantType == "function_call" && (get(out[0], "arguments") != toolArgs || get(out[0], "name") != "shell" || get(out[0], "status") != "completed") {
				t.Errorf("item %v", out[0])
			}
			if m["status"] != "completed" || num(t, m, "usage.total_tokens") == 0 {
				t.Errorf("response %v", m)
			}
		})
	}
}

// TestToolCallIDsUnique checks that every turn's call has ids of its own, so
// a client never mistakes one turn's output for another's.
func TestToolCallIDsUnique(t *testing.T) {
	s := start(t, New("alpha", WithToolCall("shell", toolArgs)))
	seen := map[string]bool{}
	for range 3 {
		body := fmt.Sprintf(`{"model":"gpt-5","input":[%s]}`, userItem)
		resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", body, nil)
		var r struct {
			ID     string `json:"id"`
			Output []struct {
				ID     string `json:"id"`
				CallID string `json:"call_id"`
			} `json:"output"`
		}
		if err := json.Unmarshal(readBodyBytes(t, resp), &r); err != nil || len(r.Output) != 1 {
			t.Fatalf("reply %+v: %v", r, err)
		}
		for _, id := range []string{r.ID, r.Output[0].ID, r.Output[0].CallID} {
			if id == "" || seen[id] {
				t.Fatalf("id %q empty or repeated", id)
			}
			seen[id] = true
		}
	}
}

// TestNoToolCallByDefault: without WithToolCall every request gets the text.
func TestNoToolCallByDefault(t *testing.T) {
	s := start(t, New("alpha"))
	body := fmt.Sprintf(`{"model":"gpt-5","input":[%s]}`, userItem)
	resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", body, nil)
	m := decode(t, resp.Body)
	resp.Body.Close()
	if out, _ := m["output"].([]any); len(out) != 1 || get(out[0], "type") != "message" {
		t.Errorf("output %v", m["output"])
	}
}
