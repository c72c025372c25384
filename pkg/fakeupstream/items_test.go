package fakeupstream

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// includeReasoning is the include Codex sends on every request.
var includeReasoning = []any{"reasoning.encrypted_content"}

// codexBody is a Codex-like request body asking for encrypted reasoning,
// with fields added or replaced (a nil value removes the field).
func codexBody(t *testing.T, fields map[string]any) string {
	t.Helper()
	return bodyWith(t, map[string]any{
		"model":   "gpt-5",
		"stream":  true,
		"store":   false,
		"include": includeReasoning,
		"input":   userInput("say hi"),
	}, fields)
}

// wantReasoningEvents is a minted reasoning item's events, between the
// opening and the answer.
var wantReasoningEvents = []string{
	"response.output_item.added",
	"response.reasoning_summary_part.added",
	"response.reasoning_summary_text.delta",
	"response.reasoning_summary_text.delta",
	"response.reasoning_summary_text.delta",
	"response.reasoning_summary_text.done",
	"response.reasoning_summary_part.done",
	"response.output_item.done",
}

// withReasoning is a turn's event names with the reasoning item's events
// after the opening two.
func withReasoning(events []string) []string {
	return slices.Concat(events[:2], wantReasoningEvents, events[2:])
}

var wantCallEvents = []string{
	"response.created", "response.in_progress", "response.output_item.added",
	"response.function_call_arguments.delta", "response.function_call_arguments.done",
	"response.output_item.done", "response.completed",
}

// sseTurn posts body and returns the stream's events as decoded JSON.
func sseTurn(t *testing.T, ctx context.Context, url, body string, h http.Header) []map[string]any {
	t.Helper()
	resp := do(t, ctx, http.MethodPost, url, body, h)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readBodyBytes(t, resp))
	}
	evs, err := newSSEReader(resp.Body).readAll()
	if err != nil {
		t.Fatalf("stream after %v: %v", names(evs), err)
	}
	out := make([]map[string]any, len(evs))
	for i, e := range evs {
		out[i] = e.Data
	}
	return out
}

// checkReasoningItem asserts a finished reasoning item that server minted
// for its own id, and returns the id.
func checkReasoningItem(t *testing.T, item any, server string) string {
	t.Helper()
	id, _ := get(item, "id").(string)
	blob, _ := get(item, "encrypted_content").(string)
	want := map[string]any{
		"id": id, "type": "reasoning", "encrypted_content": blob,
		"summary": []any{map[string]any{"type": "summary_text", "text": reasoningSummary}},
	}
	if !reflect.DeepEqual(item, want) {
		t.Errorf("reasoning item %v, want %v", item, want)
	}
	if !strings.HasPrefix(id, "rs_") {
		t.Errorf("reasoning id %q, want rs_...", id)
	}
	if acct, minted, ok := MintedBy(blob); !ok || acct != server || minted != id {
		t.Errorf("MintedBy(%q) = %q, %q, %v; want %s, %s", blob, acct, minted, ok, server, id)
	}
	return id
}

// checkMintedStream asserts the event sequence of a turn with a reasoning
// item first: every reasoning event at output_index 0 naming the item,
// every answer event at 1, and the same item in output_item.done and in
// response.completed.
func checkMintedStream(t *testing.T, evs []map[string]any, answer []string, server string) {
	t.Helper()
	if got, want := eventTypes(evs), withReasoning(answer); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	for i, e := range evs {
		if n := num(t, e, "sequence_number"); n != i {
			t.Errorf("event %d has sequence_number %d", i, n)
		}
	}
	added := get(evs[2], "item").(map[string]any)
	id, _ := added["id"].(string)
	if want := map[string]any{"id": id, "type": "reasoning", "summary": []any{}}; !reflect.DeepEqual(added, want) {
		t.Errorf("added reasoning item %v, want %v", added, want)
	}
	var summary strings.Builder
	for i, e := range evs[2:10] {
		if num(t, e, "output_index") != 0 {
			t.Errorf("reasoning event %d at output_index %v", i, e["output_index"])
		}
		typ := e["type"].(string)
		if strings.HasPrefix(typ, "response.reasoning_summary") {
			if e["item_id"] != id || num(t, e, "summary_index") != 0 {
				t.Errorf("%s: item_id %v summary_index %v, want %s and 0", typ, e["item_id"], e["summary_index"], id)
			}
		}
		switch typ {
		case "response.reasoning_summary_part.added":
			if !reflect.DeepEqual(e["part"], map[string]any{"type": "summary_text", "text": ""}) {
				t.Errorf("part.added part %v", e["part"])
			}
		case "response.reasoning_summary_text.delta":
			summary.WriteString(e["delta"].(string))
		case "response.reasoning_summary_text.done":
			if e["text"] != reasoningSummary {
				t.Errorf("summary_text.done text %v", e["text"])
			}
		case "response.reasoning_summary_part.done":
			if !reflect.DeepEqual(e["part"], map[string]any{"type": "summary_text", "text": reasoningSummary}) {
				t.Errorf("part.done part %v", e["part"])
			}
		}
	}
	if summary.String() != reasoningSummary {
		t.Errorf("summary deltas concatenate to %q", summary.String())
	}
	done := get(evs[9], "item")
	if got := checkReasoningItem(t, done, server); got != id {
		t.Errorf("done item id %s, added %s", got, id)
	}
	for _, e := range evs[10 : len(evs)-1] {
		if num(t, e, "output_index") != 1 {
			t.Errorf("%s at output_index %v, want 1", e["type"], e["output_index"])
		}
	}
	out, _ := get(evs[len(evs)-1], "response.output").([]any)
	if len(out) != 2 || !reflect.DeepEqual(out[0], done) {
		t.Fatalf("completed output %v, want the reasoning item then the answer", out)
	}
	if get(out[1], "type") == "message" && replyText(map[string]any{"response": map[string]any{"output": out[1:]}}) != "Hello from "+server+"." {
		t.Errorf("completed message %v", out[1])
	}
}

// TestMintReasoning: a turn whose request asks for
// reasoning.encrypted_content answers with a reasoning item first and the
// message or function call second, over SSE, JSON and a WebSocket; without
// that include the output is the answer alone.
func TestMintReasoning(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		ws     bool
		fields map[string]any
		answer []string // the answer's events, nil for a JSON reply
		single bool     // no reasoning item expected
	}{
		{name: "sse message", answer: wantEvents},
		{name: "sse tool call", opts: []Option{WithToolCall("shell", toolArgs)}, answer: wantCallEvents},
		{name: "json message", fields: map[string]any{"stream": false}},
		{name: "websocket message", ws: true, answer: wantEvents},
		{name: "websocket tool call", ws: true, opts: []Option{WithToolCall("shell", toolArgs)}, answer: wantCallEvents},
		{name: "sse without the include", fields: map[string]any{"include": []any{"message.output_text.logprobs"}}, single: true},
		{name: "websocket without the include", ws: true, fields: map[string]any{"include": nil}, single: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", append([]Option{WithWebSocket()}, tc.opts...)...))
			var evs []map[string]any
			switch {
			case tc.ws:
				c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), codexWSHeader(""))
				fields := map[string]any{"include": includeReasoning}
				for k, v := range tc.fields {
					fields[k] = v
				}
				if v, ok := fields["include"]; ok && v == nil {
					delete(fields, "include")
				}
				sendFrame(t, ctx, c, fields)
				evs = readTurn(t, ctx, c)
			case tc.answer == nil && !tc.single:
				resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", codexBody(t, tc.fields), nil)
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				r := decode(t, resp.Body)
				out, _ := r["output"].([]any)
				if len(out) != 2 || get(out[1], "type") != "message" {
					t.Fatalf("output %v, want a reasoning item and the message", out)
				}
				checkReasoningItem(t, out[0], "alpha")
				return
			default:
				evs = sseTurn(t, ctx, s.URL()+"/v1/responses", codexBody(t, tc.fields), nil)
			}
			if tc.single {
				if got := eventTypes(evs); !slices.Equal(got, wantEvents) {
					t.Fatalf("events %v, want %v", got, wantEvents)
				}
				if out, _ := get(evs[len(evs)-1], "response.output").([]any); len(out) != 1 || get(out[0], "type") != "message" {
					t.Fatalf("output %v, want the message alone", out)
				}
				return
			}
			checkMintedStream(t, evs, tc.answer, "alpha")
		})
	}
}

// TestMintedIDsAreUnique: every turn mints a reasoning item of its own, ids
// and blobs differing from one turn and one server to the next.
func TestMintedIDsAreUnique(t *testing.T) {
	ctx := testCtx(t)
	seen := map[string]bool{}
	for _, name := range []string{"alpha", "alpha", "beta"} { // two servers of one name too
		s := start(t, New(name))
		for range 2 {
			evs := sseTurn(t, ctx, s.URL()+"/v1/responses", codexBody(t, nil), nil)
			out, _ := get(evs[len(evs)-1], "response.output").([]any)
			if len(out) != 2 {
				t.Fatalf("output %v", out)
			}
			id := checkReasoningItem(t, out[0], name)
			blob := get(out[0], "encrypted_content").(string)
			if seen[id] || seen[blob] {
				t.Errorf("%s: id %s or its blob seen before", name, id)
			}
			seen[id], seen[blob] = true, true
		}
	}
}

// TestMintCompaction: the compaction item of a compaction_trigger turn and
// of POST /responses/compact carries a blob this server minted for the
// item's id, and a compaction turn mints no reasoning item.
func TestMintCompaction(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, New("alpha"))
	trigger := append(userInput("hi"), map[string]any{"type": "compaction_trigger"})

	evs := sseTurn(t, ctx, s.URL()+"/v1/responses", codexBody(t, map[string]any{"input": trigger}), nil)
	if got, want := eventTypes(evs), []string{"response.created", "response.in_progress", "response.output_item.added", "response.output_item.done", "response.completed"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	out, _ := get(evs[len(evs)-1], "response.output").([]any)
	if len(out) != 1 || !reflect.DeepEqual(out[0], get(evs[3], "item")) {
		t.Fatalf("completed output %v", out)
	}
	checkCompactionItem(t, out[0], "alpha")

	resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses/compact", codexBody(t, map[string]any{"stream": nil}), nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("compact: status %d", resp.StatusCode)
	}
	out, _ = decode(t, resp.Body)["output"].([]any)
	if len(out) == 0 {
		t.Fatal("compact: no output")
	}
	checkCompactionItem(t, out[len(out)-1], "alpha")
}

// checkCompactionItem asserts {"id","type":"compaction","encrypted_content"}
// minted by server for that id, and returns the item.
func checkCompactionItem(t *testing.T, item any, server string) map[string]any {
	t.Helper()
	m, _ := item.(map[string]any)
	id, _ := m["id"].(string)
	blob, _ := m["encrypted_content"].(string)
	if len(m) != 3 || m["type"] != "compaction" || !strings.HasPrefix(id, "cmp_") {
		t.Errorf("compaction item %v", item)
	}
	if acct, minted, ok := MintedBy(blob); !ok || acct != server || minted != id {
		t.Errorf("MintedBy(%q) = %q, %q, %v; want %s, %s", blob, acct, minted, ok, server, id)
	}
	return m
}

// TestMintedBy reads blobs of this package and refuses anything else.
func TestMintedBy(t *testing.T) {
	s := New("alpha")
	blob := s.mint(kindReasoning, "rs_x1")
	tests := []struct {
		name     string
		blob     string
		wantAcct string
		wantID   string
		wantOK   bool
	}{
		{name: "minted", blob: blob, wantAcct: "alpha", wantID: "rs_x1", wantOK: true},
		{name: "a damaged signature is still read", blob: blob[:len(blob)-2] + "AA", wantAcct: "alpha", wantID: "rs_x1", wantOK: true},
		{name: "another upstream's ciphertext", blob: "gAAAAABoRSBLOB1"},
		{name: "no signature", blob: strings.Split(blob, ".")[0]},
		{name: "payload not base64", blob: "%%%." + strings.Split(blob, ".")[1]},
		{name: "empty", blob: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acct, id, ok := MintedBy(tc.blob)
			if acct != tc.wantAcct || id != tc.wantID || ok != tc.wantOK {
				t.Errorf("MintedBy = %q, %q, %v; want %q, %q, %v", acct, id, ok, tc.wantAcct, tc.wantID, tc.wantOK)
			}
		})
	}
}

// TestCutAfterDeltasWithReasoning: CutAfterDeltas(n) cuts after n text
// deltas of the message, the reasoning item before it sent whole, over SSE
// and over a WebSocket.
func TestCutAfterDeltasWithReasoning(t *testing.T) {
	msg := withReasoning(wantEvents)
	firstDelta := slices.Index(msg, "response.output_text.delta")
	tests := []struct {
		name string
		n    int
		ws   bool
		want []string
	}{
		{name: "no delta", n: 0, want: msg[:firstDelta]},
		{name: "one delta", n: 1, want: msg[:firstDelta+1]},
		{name: "two deltas", n: 2, want: msg[:firstDelta+2]},
		{name: "more deltas than the reply has", n: 50, want: msg[:len(msg)-1]},
		{name: "one delta over a websocket", n: 1, ws: true, want: msg[:firstDelta+1]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", WithWebSocket()))
			s.Script(CutAfterDeltas(tc.n))
			var got []string
			var text string
			if tc.ws {
				c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), codexWSHeader(""))
				sendFrame(t, ctx, c, map[string]any{"include": includeReasoning})
				for range tc.want {
					ev := readEvent(t, ctx, c)
					got = append(got, ev["type"].(string))
					if d, ok := ev["delta"].(string); ok && ev["type"] == "response.output_text.delta" {
						text += d
					}
				}
				wantDropped(t, ctx, c)
			} else {
				resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", codexBody(t, nil), nil)
				defer resp.Body.Close()
				evs, err := newSSEReader(resp.Body).readAll()
				if err == nil {
					t.Error("the stream ended cleanly, want a cut")
				}
				for _, e := range evs {
					got = append(got, e.Name)
					if e.Name == "response.output_text.delta" {
						text += e.Data["delta"].(string)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("events\n got %v\nwant %v", got, tc.want)
			}
			if want := strings.Join(deltas("Hello from alpha.")[:min(tc.n, 3)], ""); text != want {
				t.Errorf("text before the cut %q, want %q", text, want)
			}
		})
	}
}
