package fakeupstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// minted is an account-bound item a server answered with, as a test keeps
// it to replay.
type minted struct {
	id, blob string
}

// mintReasoning runs one Codex turn on s and returns its reasoning item.
func mintReasoning(t *testing.T, ctx context.Context, s *Server, h http.Header) minted {
	t.Helper()
	evs := sseTurn(t, ctx, s.URL()+"/v1/responses", codexBody(t, nil), h)
	out, _ := get(evs[len(evs)-1], "response.output").([]any)
	if len(out) != 2 || get(out[0], "type") != "reasoning" {
		t.Fatalf("%s answered %v, want a reasoning item first", s.Name(), out)
	}
	return minted{id: get(out[0], "id").(string), blob: get(out[0], "encrypted_content").(string)}
}

// mintCompaction runs one compaction_trigger turn on s and returns its
// compaction item.
func mintCompaction(t *testing.T, ctx context.Context, s *Server, h http.Header) minted {
	t.Helper()
	trigger := append(userInput("hi"), map[string]any{"type": "compaction_trigger"})
	evs := sseTurn(t, ctx, s.URL()+"/v1/responses", codexBody(t, map[string]any{"input": trigger}), h)
	out, _ := get(evs[len(evs)-1], "response.output").([]any)
	if len(out) != 1 || get(out[0], "type") != "compaction" {
		t.Fatalf("%s answered %v, want one compaction item", s.Name(), out)
	}
	return minted{id: get(out[0], "id").(string), blob: get(out[0], "encrypted_content").(string)}
}

// The items of a Codex turn as Codex replays them (codex-samples
// request-0.171-turn2-reasoning-replay.json): re-serialised, with
// "content":null and a field of Codex's own added, never byte for byte
// what the upstream sent.
const (
	developerItem = `{"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions instructions>"}]}`
	assistantItem = `{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello from alpha."}]}`
)

func codexReasoning(id, blob string) string {
	return fmt.Sprintf(`{"type":"reasoning","id":%q,"summary":[{"type":"summary_text","text":"Thinking it over."}],"content":null,"encrypted_content":%q,"internal_chat_message_metadata_passthrough":{"turn_id":"01a24eb1-84fd-7372-bee7-2093a81a6553"}}`, id, blob)
}

// codexCompaction is a compaction item as Codex replays it after remote
// compaction (request-0.171-after-compaction.json).
func codexCompaction(typ, id, blob string) string {
	return fmt.Sprintf(`{"type":%q,"id":%q,"encrypted_content":%q}`, typ, id, blob)
}

// turn2 is the body of Codex's next request: the history with the replayed
// item, then a new user message. store is its store member ("" for none).
func turn2(replayed, store string) string {
	input := strings.Join([]string{developerItem, userItem, replayed, assistantItem, userItem}, ",")
	if store != "" {
		store = `"store":` + store + `,`
	}
	return `{"model":"gpt-5","stream":true,` + store + `"include":["reasoning.encrypted_content"],"prompt_cache_key":"conv","input":[` + input + `]}`
}

func couldNotVerify(id string) string {
	return "The encrypted content for item " + id + " could not be verified. Reason: Encrypted content could not be decrypted or parsed."
}

func notFound(id string) string {
	return "Item with id '" + id + "' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."
}

// TestForeignItems: the items a server minted come back to it and are
// read, whatever Codex added to them; another server's, another
// organisation's (even under the same name), a damaged or mismatched one,
// or a reasoning item without content under store:false is refused with
// the message the real upstream gives.
func TestForeignItems(t *testing.T) {
	ctx := testCtx(t)
	alpha := start(t, New("alpha"))
	beta := start(t, New("beta"))
	alphaTwin := start(t, New("alpha")) // same name, its own secret
	orgA := start(t, New("org-a", WithOrganization("org-1")))
	orgB := start(t, New("org-b", WithOrganization("org-1")))
	lenient := start(t, New("lenient", WithForeignItems(AcceptForeignItems)))
	chatgpt := start(t, New("chat", WithChatGPT("tok", "acct")))
	chatH := http.Header{"Authorization": {"Bearer tok"}, "Chatgpt-Account-Id": {"acct"}}

	rs := mintReasoning(t, ctx, alpha, nil)
	cmp := mintCompaction(t, ctx, alpha, nil)
	orgRS := mintReasoning(t, ctx, orgA, nil)
	chatRS := mintReasoning(t, ctx, chatgpt, chatH)
	// A blob alpha minted, with its signature made for other bytes.
	head, _, _ := strings.Cut(rs.blob, ".")
	_, forged, _ := strings.Cut(beta.mint(kindReasoning, rs.id), ".")

	tests := []struct {
		name    string
		srv     *Server
		header  http.Header
		body    string
		wantMsg string // "" when the turn is served
	}{
		{name: "own reasoning item as Codex replays it", srv: alpha, body: turn2(codexReasoning(rs.id, rs.blob), "false")},
		{name: "own compaction item as Codex replays it", srv: alpha, body: turn2(codexCompaction("compaction", cmp.id, cmp.blob), "false")},
		{name: "own compaction item under the alias compaction_summary", srv: alpha, body: turn2(codexCompaction("compaction_summary", cmp.id, cmp.blob), "false")},
		{name: "another account's reasoning item", srv: beta, body: turn2(codexReasoning(rs.id, rs.blob), "false"), wantMsg: couldNotVerify(rs.id)},
		{name: "another account's compaction item", srv: beta, body: turn2(codexCompaction("compaction", cmp.id, cmp.blob), "false"), wantMsg: couldNotVerify(cmp.id)},
		{name: "another account's compaction_summary item", srv: beta, body: turn2(codexCompaction("compaction_summary", cmp.id, cmp.blob), "false"), wantMsg: couldNotVerify(cmp.id)},
		{name: "another account of the same name", srv: alphaTwin, body: turn2(codexReasoning(rs.id, rs.blob), "false"), wantMsg: couldNotVerify(rs.id)},
		{name: "another account of the same organisation", srv: orgB, body: turn2(codexReasoning(orgRS.id, orgRS.blob), "false")},
		{name: "an organisation's item on an account outside it", srv: beta, body: turn2(codexReasoning(orgRS.id, orgRS.blob), "false"), wantMsg: couldNotVerify(orgRS.id)},
		{name: "an account's item on an organisation", srv: orgB, body: turn2(codexReasoning(rs.id, rs.blob), "false"), wantMsg: couldNotVerify(rs.id)},
		{name: "a server that accepts foreign items", srv: lenient, body: turn2(codexReasoning(rs.id, rs.blob), "false")},
		{name: "own blob under another item's id", srv: alpha, body: turn2(codexReasoning("rs_other", rs.blob), "false"), wantMsg: couldNotVerify("rs_other")},
		{name: "own reasoning blob in a compaction item", srv: alpha, body: turn2(codexCompaction("compaction", rs.id, rs.blob), "false"), wantMsg: couldNotVerify(rs.id)},
		{name: "own blob in an item without id", srv: alpha, body: turn2(`{"type":"reasoning","summary":[],"encrypted_content":"`+rs.blob+`"}`, "false")},
		{name: "foreign blob in an item without id", srv: beta, body: turn2(`{"type":"reasoning","summary":[],"encrypted_content":"`+rs.blob+`"}`, "false"), wantMsg: couldNotVerify("unknown")},
		{name: "a forged signature", srv: alpha, body: turn2(codexReasoning(rs.id, head+"."+forged), "false"), wantMsg: couldNotVerify(rs.id)},
		{name: "another upstream's ciphertext", srv: alpha, body: turn2(codexReasoning("rs_1", "RSBLOB1"), "false"), wantMsg: couldNotVerify("rs_1")},
		{name: "an empty encrypted_content", srv: alpha, body: turn2(codexReasoning(rs.id, ""), "false"), wantMsg: couldNotVerify(rs.id)},
		{name: "reasoning item without content under store false", srv: alpha, body: turn2(`{"type":"reasoning","id":"`+rs.id+`","summary":[]}`, "false"), wantMsg: notFound(rs.id)},
		{name: "reasoning item with null content under store false", srv: alpha, body: turn2(`{"type":"reasoning","id":"`+rs.id+`","summary":[],"content":null,"encrypted_content":null}`, "false"), wantMsg: notFound(rs.id)},
		{name: "reasoning item without content under store true", srv: alpha, body: turn2(`{"type":"reasoning","id":"`+rs.id+`","summary":[]}`, "true")},
		{name: "reasoning item without content, no store, API account", srv: alpha, body: turn2(`{"type":"reasoning","id":"`+rs.id+`","summary":[]}`, "")},
		{name: "reasoning item without content, no store, ChatGPT account", srv: chatgpt, header: chatH, body: turn2(`{"type":"reasoning","id":"`+chatRS.id+`","summary":[]}`, ""), wantMsg: notFound(chatRS.id)},
		{name: "own reasoning item on a ChatGPT account", srv: chatgpt, header: chatH, body: turn2(codexReasoning(chatRS.id, chatRS.blob), "")},
		{name: "the first unreadable item is named", srv: beta, body: turn2(codexReasoning(rs.id, rs.blob)+","+codexCompaction("compaction", cmp.id, cmp.blob), "false"), wantMsg: couldNotVerify(rs.id)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.srv.Refusals()
			resp := do(t, ctx, http.MethodPost, tc.srv.URL()+"/v1/responses", tc.body, tc.header)
			body := readBodyBytes(t, resp)
			refused := tc.srv.Refusals() - before
			if tc.wantMsg == "" {
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "event: response.completed") || refused != 0 {
					t.Fatalf("status %d, %d refusals: %s; want the turn served", resp.StatusCode, refused, body)
				}
				return
			}
			e := checkErrorShape(t, body)
			if resp.StatusCode != http.StatusBadRequest || e["message"] != tc.wantMsg || e["type"] != "invalid_request_error" || e["code"] != "invalid_encrypted_content" || refused != 1 {
				t.Fatalf("status %d, %d refusals: %s\nwant 400 %q", resp.StatusCode, refused, body, tc.wantMsg)
			}
		})
	}
}

// TestRefusalShapes: each ForeignItemRule's refusal, exactly, over SSE,
// stream:false, /responses/compact and a WebSocket; the WebSocket stays
// open and serves its next frame.
func TestRefusalShapes(t *testing.T) {
	ctx := testCtx(t)
	alpha := start(t, New("alpha"))
	rs := mintReasoning(t, ctx, alpha, nil)
	msg := couldNotVerify(rs.id)
	withCode := `{"error":{"code":"invalid_encrypted_content","message":` + quote(msg) + `,"param":null,"type":"invalid_request_error"}}`
	nullCode := `{"error":{"code":null,"message":` + quote(msg) + `,"param":null,"type":"invalid_request_error"}}`
	type want struct {
		status int
		body   string // the exact JSON body (HTTP) or the event (WebSocket)
		failed bool   // instead: a response.failed event with code null
	}
	tests := []struct {
		name  string
		rule  []Option
		sse   want
		json  want
		ws    want
		wsRaw string
	}{
		{
			name: "default: with code",
			sse:  want{status: 400, body: withCode}, json: want{status: 400, body: withCode},
			ws: want{body: `{"type":"error","status":400,"error":{"code":"invalid_encrypted_content","message":` + quote(msg) + `,"param":null,"type":"invalid_request_error"}}`},
		},
		{
			name: "null code", rule: []Option{WithForeignItems(RefuseNullCode)},
			sse: want{status: 400, body: nullCode}, json: want{status: 400, body: nullCode},
			ws: want{body: `{"type":"error","status":400,"error":{"code":null,"message":` + quote(msg) + `,"param":null,"type":"invalid_request_error"}}`},
		},
		{
			name: "in stream", rule: []Option{WithForeignItems(RefuseInStream)},
			sse: want{status: 200, failed: true}, json: want{status: 400, body: nullCode},
			ws: want{failed: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, New("beta", append([]Option{WithWebSocket()}, tc.rule...)...))
			replay := codexReasoning(rs.id, rs.blob)
			streamBody := turn2(replay, "false")
			jsonBody := strings.Replace(streamBody, `"stream":true`, `"stream":false`, 1)

			for _, c := range []struct {
				name, path, body string
				want             want
			}{
				{"sse", "/v1/responses", streamBody, tc.sse},
				{"stream false", "/v1/responses", jsonBody, tc.json},
				{"compact", "/v1/responses/compact", jsonBody, tc.json},
			} {
				resp := do(t, ctx, http.MethodPost, s.URL()+c.path, c.body, nil)
				body := readBodyBytes(t, resp)
				if resp.StatusCode != c.want.status {
					t.Fatalf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.want.status, body)
				}
				if c.want.failed {
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
						t.Errorf("%s: Content-Type %q", c.name, ct)
					}
					evs, err := newSSEReader(strings.NewReader(string(body))).readAll()
					if err != nil || len(evs) != 1 {
						t.Fatalf("%s: %v, %v; want one event", c.name, names(evs), err)
					}
					checkRefusalEvent(t, evs[0].Data, msg)
					continue
				}
				if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Request-Id") == "" {
					t.Errorf("%s: headers %v", c.name, resp.Header)
				}
				jsonEqualBytes(t, c.name, body, c.want.body)
			}

			conn, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), codexWSHeader(""))
			var frame map[string]any
			_ = json.Unmarshal([]byte(streamBody), &frame)
			frame["type"] = "response.create"
			b, _ := json.Marshal(frame)
			sendRaw(t, ctx, conn, b)
			ev := readEvent(t, ctx, conn)
			if tc.ws.failed {
				checkRefusalEvent(t, ev, msg)
			} else {
				jsonEqual(t, ev, tc.ws.body)
			}
			// The connection goes on: a frame it can read is served.
			sendFrame(t, ctx, conn, nil)
			if evs := readTurn(t, ctx, conn); evs[len(evs)-1]["type"] != "response.completed" {
				t.Errorf("after the refusal the connection answered %v", eventTypes(evs))
			}

			if got := s.Refusals(); got != 4 {
				t.Errorf("Refusals = %d, want 4", got)
			}
			if got := len(s.Requests()); got != 6 { // three POSTs, the upgrade, two frames
				t.Errorf("%d requests recorded, want 6: %s", got, describeReqs(s.Requests()))
			}
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonEqualBytes(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: not JSON: %s", name, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s:\n got %s\nwant %s", name, gb, wb)
	}
}

// checkRefusalEvent asserts RefuseInStream's event: response.failed, first
// of its answer, with a failed response whose error has code null.
func checkRefusalEvent(t *testing.T, ev map[string]any, msg string) {
	t.Helper()
	if ev["type"] != "response.failed" || num(t, ev, "sequence_number") != 0 || get(ev, "response.status") != "failed" {
		t.Errorf("event %v, want response.failed first", ev)
	}
	e, _ := get(ev, "response.error").(map[string]any)
	if code, ok := e["code"]; !ok || code != nil || e["message"] != msg {
		t.Errorf("response.error %v, want code null and %q", e, msg)
	}
	if id, _ := get(ev, "response.id").(string); !strings.HasPrefix(id, "resp_") {
		t.Errorf("response id %q", id)
	}
}

// TestForeignItemsOverWebSocket: over a WebSocket, a frame with the
// server's own items is served (a complete request on a new connection, as
// after a reconnect, and an increment), and one with another account's
// compaction item is refused, the connection staying open.
func TestForeignItemsOverWebSocket(t *testing.T) {
	ctx := testCtx(t)
	alpha := start(t, New("alpha", WithWebSocket()))
	beta := start(t, New("beta", WithWebSocket()))
	rs := mintReasoning(t, ctx, alpha, nil)
	cmp := mintCompaction(t, ctx, alpha, nil)

	history := func(items ...string) []json.RawMessage {
		out := []json.RawMessage{json.RawMessage(developerItem), json.RawMessage(userItem)}
		for _, it := range items {
			out = append(out, json.RawMessage(it))
		}
		return append(out, json.RawMessage(userItem))
	}
	tests := []struct {
		name    string
		srv     *Server
		input   []json.RawMessage
		wantMsg string
	}{
		{name: "own reasoning item on a new connection", srv: alpha, input: history(codexReasoning(rs.id, rs.blob), assistantItem)},
		{name: "own compaction item on a new connection", srv: alpha, input: history(codexCompaction("compaction", cmp.id, cmp.blob))},
		{name: "another account's reasoning item", srv: beta, input: history(codexReasoning(rs.id, rs.blob), assistantItem), wantMsg: couldNotVerify(rs.id)},
		{name: "another account's compaction item", srv: beta, input: history(codexCompaction("compaction", cmp.id, cmp.blob)), wantMsg: couldNotVerify(cmp.id)},
		{name: "reasoning item without content", srv: alpha, input: history(`{"type":"reasoning","id":"` + rs.id + `","summary":[]}`), wantMsg: notFound(rs.id)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := dialWS(t, ctx, wsURL(tc.srv.URL(), "/v1/responses"), codexWSHeader(""))
			sendFrame(t, ctx, c, map[string]any{"include": includeReasoning, "input": tc.input})
			evs := readTurn(t, ctx, c)
			last := evs[len(evs)-1]
			if tc.wantMsg != "" {
				if len(evs) != 1 || last["type"] != "error" || num(t, last, "status") != 400 || get(last, "error.message") != tc.wantMsg || get(last, "error.code") != "invalid_encrypted_content" {
					t.Fatalf("answered %v, want the in-band 400 %q", evs, tc.wantMsg)
				}
				return
			}
			if last["type"] != "response.completed" {
				t.Fatalf("answered %v", eventTypes(evs))
			}
			// The turn's own new reasoning item, replayed in an increment
			// as Codex does, is read too.
			out := get(last, "response.output").([]any)
			next := codexReasoning(get(out[0], "id").(string), get(out[0], "encrypted_content").(string))
			sendFrame(t, ctx, c, map[string]any{
				"include":              includeReasoning,
				"previous_response_id": get(last, "response.id"),
				"input":                []json.RawMessage{json.RawMessage(next), json.RawMessage(assistantItem), json.RawMessage(userItem)},
			})
			if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
				t.Fatalf("the increment answered %v", evs[len(evs)-1])
			}
		})
	}
}

// TestCompactWithForeignItems: POST /responses/compact reads its input as
// /responses does, and its compaction item comes back to its own account
// only.
func TestCompactWithForeignItems(t *testing.T) {
	ctx := testCtx(t)
	alpha := start(t, New("alpha"))
	beta := start(t, New("beta"))
	rs := mintReasoning(t, ctx, alpha, nil)

	compact := func(s *Server, input string) (int, []byte) {
		resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses/compact", `{"model":"gpt-5","store":false,"input":[`+input+`]}`, nil)
		return resp.StatusCode, readBodyBytes(t, resp)
	}
	if status, body := compact(beta, userItem+","+codexReasoning(rs.id, rs.blob)); status != 400 || checkErrorShape(t, body)["message"] != couldNotVerify(rs.id) {
		t.Fatalf("compact of another account's item: %d %s", status, body)
	}
	status, body := compact(alpha, userItem+","+codexReasoning(rs.id, rs.blob)+","+assistantItem)
	if status != 200 {
		t.Fatalf("compact of its own item: %d %s", status, body)
	}
	var reply struct{ Output []json.RawMessage }
	_ = json.Unmarshal(body, &reply)
	item := reply.Output[len(reply.Output)-1]
	var cmp map[string]any
	_ = json.Unmarshal(item, &cmp)
	checkCompactionItem(t, cmp, "alpha")

	for _, tc := range []struct {
		srv     *Server
		wantMsg string
	}{{alpha, ""}, {beta, couldNotVerify(cmp["id"].(string))}} {
		resp := do(t, ctx, http.MethodPost, tc.srv.URL()+"/v1/responses", turn2(string(item), "false"), nil)
		b := readBodyBytes(t, resp)
		if tc.wantMsg == "" && resp.StatusCode != 200 || tc.wantMsg != "" && (resp.StatusCode != 400 || checkErrorShape(t, b)["message"] != tc.wantMsg) {
			t.Errorf("%s: the compacted item answered %d %s", tc.srv.Name(), resp.StatusCode, b)
		}
	}
}

// TestRefusalOrder: credentials come first, then the scripted Fault (a
// Status fault answers instead of the refusal); a refusal takes the one
// Fault its request took and no other, and counts only when it happens.
func TestRefusalOrder(t *testing.T) {
	ctx := testCtx(t)
	alpha := start(t, New("alpha", WithAPIKey("sk-a")))
	beta := start(t, New("beta", WithAPIKey("sk-b")))
	h := func(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }
	rs := mintReasoning(t, ctx, alpha, h("sk-a"))
	foreign := turn2(codexReasoning(rs.id, rs.blob), "false")
	beta.Script(QuotaExceeded(time.Unix(1_900_000_000, 0)), OverloadedAfterOpening())

	steps := []struct {
		name       string
		key        string
		body       string
		wantStatus int
		wantBody   string
		refusals   int
	}{
		{name: "a wrong key is refused first", key: "sk-wrong", body: foreign, wantStatus: 401, wantBody: "invalid_api_key"},
		{name: "the quota answers before the input is read", key: "sk-b", body: foreign, wantStatus: 429, wantBody: "usage_limit_reached"},
		{name: "the refusal takes the overload fault", key: "sk-b", body: foreign, wantStatus: 400, wantBody: "invalid_encrypted_content", refusals: 1},
		{name: "no fault is left for the next turn", key: "sk-b", body: codexBody(t, nil), wantStatus: 200, wantBody: "response.completed", refusals: 1},
	}
	for _, st := range steps {
		resp := do(t, ctx, http.MethodPost, beta.URL()+"/v1/responses", st.body, h(st.key))
		b := readBodyBytes(t, resp)
		if resp.StatusCode != st.wantStatus || !strings.Contains(string(b), st.wantBody) {
			t.Fatalf("%s: %d %s, want %d with %s", st.name, resp.StatusCode, b, st.wantStatus, st.wantBody)
		}
		if got := beta.Refusals(); got != st.refusals {
			t.Errorf("%s: Refusals = %d, want %d", st.name, got, st.refusals)
		}
	}
	if got := len(beta.Requests()); got != len(steps) {
		t.Errorf("%d requests recorded, want %d", got, len(steps))
	}
}
