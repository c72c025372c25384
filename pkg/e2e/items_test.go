package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// replayer plays a client that replays every item it was answered, as
// Codex does: each turn sends the whole history, the upstream's output
// items included byte for byte, then the new user message.
type replayer struct {
	t       *testing.T
	session string
	history []json.RawMessage
}

func newReplayer(t *testing.T, session string) *replayer {
	return &replayer{t: t, session: session}
}

// body is the request for a new user message, compaction asks for a
// compaction instead (the input ends with compaction_trigger).
func (c *replayer) body(text string, compaction bool) []byte {
	input := append([]json.RawMessage(nil), c.history...)
	if compaction {
		input = append(input, json.RawMessage(`{"type":"compaction_trigger"}`))
	} else {
		msg, _ := json.Marshal(map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": text}}})
		input = append(input, msg)
	}
	b, _ := json.Marshal(map[string]any{"model": "gpt-5", "stream": true, "store": false,
		"include": []string{"reasoning.encrypted_content"}, "prompt_cache_key": c.session, "input": input})
	return b
}

// turn sends one turn to base over HTTP and keeps what was answered. It
// returns the status and who answered.
func (c *replayer) turn(base, text string) (int, string) {
	c.t.Helper()
	return c.post(base, text, false)
}

func (c *replayer) post(base, text string, compaction bool) (int, string) {
	c.t.Helper()
	body := c.body(text, compaction)
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/v1/responses", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Session-Id", c.session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var events [][]byte
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var all strings.Builder
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, []byte(d))
		}
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, all.String()
	}
	return resp.StatusCode, c.keep(text, compaction, events)
}

// keep adds a turn's user message and output items to the history and
// returns who answered.
func (c *replayer) keep(text string, compaction bool, events [][]byte) string {
	c.t.Helper()
	if !compaction {
		msg, _ := json.Marshal(map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": text}}})
		c.history = append(c.history, msg)
	}
	who := ""
	completed := false
	for _, ev := range events {
		var e struct {
			Type string          `json:"type"`
			Item json.RawMessage `json:"item"`
		}
		if json.Unmarshal(ev, &e) != nil {
			continue
		}
		switch e.Type {
		case "response.output_item.done":
			if compaction {
				// Codex keeps the user messages, then the compaction item.
				var users []json.RawMessage
				for _, h := range c.history {
					if bytes.Contains(h, []byte(`"role":"user"`)) {
						users = append(users, h)
					}
				}
				c.history = append(users, e.Item)
			} else {
				c.history = append(c.history, e.Item)
			}
			if m := replyFrom.FindSubmatch(e.Item); m != nil {
				who = string(m[1])
			}
			if who == "" {
				who = compactedBy(e.Item)
			}
		case "response.completed":
			completed = true
		}
	}
	if !completed {
		c.t.Fatalf("the answer did not complete: %s", events)
	}
	return who
}

// compactedBy is the minter of a compaction item.
func compactedBy(item []byte) string {
	var head struct {
		Type             string `json:"type"`
		EncryptedContent string `json:"encrypted_content"`
	}
	if json.Unmarshal(item, &head) != nil || head.Type != "compaction" {
		return ""
	}
	who, _, _ := fakeupstream.MintedBy(head.EncryptedContent)
	return who
}

// wsTurn sends one turn as a response.create message on conn, the
// complete input each time.
func (c *replayer) wsTurn(conn *websocket.Conn, text string) (int, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := bytes.Replace(c.body(text, false), []byte(`{`), []byte(`{"type":"response.create",`), 1)
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		c.t.Fatal(err)
	}
	var events [][]byte
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			c.t.Fatalf("reading the answer: %v", err)
		}
		events = append(events, data)
		var e struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
		}
		_ = json.Unmarshal(data, &e)
		switch e.Type {
		case "error":
			return e.Status, string(data)
		case "response.failed":
			return 502, string(data)
		case "response.completed":
			return http.StatusOK, c.keep(text, false, events)
		}
	}
}

// waitTurnLines returns the proxy's request lines once there are n: a
// WebSocket answer reaches the client before its request is logged.
func waitTurnLines(t *testing.T, p *running, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := turnLines(p.Logs.String())
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d request lines logged, want %d:\n%s", len(lines), n, p.Logs)
		}
		runtime.Gosched()
	}
}

// mintedOnly starts a conversation directly on s (not through the proxy),
// so the proxy has never seen who minted its items.
func mintedOnly(t *testing.T, s *fakeupstream.Server, r *replayer, compaction bool) {
	t.Helper()
	if code, who := r.turn(s.URL()+"/v1", "hello"); code != 200 || who != s.Name() {
		t.Fatalf("a turn straight to %s = %d %q", s.Name(), code, who)
	}
	if compaction {
		if code, _ := r.post(s.URL()+"/v1", "", true); code != 200 {
			t.Fatalf("a compaction straight to %s = %d", s.Name(), code)
		}
	}
}

// TestRefusedItemsRetriedWithout: the proxy cannot know who minted items
// that never passed through it (a conversation begun elsewhere, a store
// that lost its records), so it sends them to the conversation's account
// as they are. When that account refuses them, in any of the shapes real
// upstreams use, the request goes once more to the same account without
// the refused kind, invisibly to the client; the account stays healthy,
// and the conversation's next turn is cleaned before it is sent.
func TestRefusedItemsRetriedWithout(t *testing.T) {
	type shape struct {
		name string
		rule fakeupstream.ForeignItemRule
	}
	shapes := []shape{{"400 with code", fakeupstream.RefuseWithCode}, {"400 with null code", fakeupstream.RefuseNullCode}, {"response.failed in a 200 stream", fakeupstream.RefuseInStream}}
	for _, transport := range []string{"HTTP", "WebSocket"} {
		for _, sh := range shapes {
			for _, kind := range []string{"reasoning", "compaction"} {
				t.Run(fmt.Sprintf("%s, %s, %s", transport, sh.name, kind), func(t *testing.T) {
					elsewhere := startUpstream(t, "elsewhere")
					a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA), fakeupstream.WithForeignItems(sh.rule))
					p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
					t.Cleanup(func() {
						if t.Failed() {
							t.Logf("proxy logs:\n%s", p.Logs)
						}
					})
					r := newReplayer(t, "conv-"+transport+"-"+kind+"-"+fmt.Sprint(sh.rule))
					mintedOnly(t, elsewhere, r, kind == "compaction")

					var send func(text string) (int, string)
					if transport == "HTTP" {
						send = func(text string) (int, string) { return r.turn(p.URL, text) }
					} else {
						conn, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(p.URL, "http")+"/v1/responses",
							&websocket.DialOptions{HTTPHeader: http.Header{"Session-Id": {r.session}}})
						if err != nil {
							t.Fatal(err)
						}
						conn.SetReadLimit(32 << 20)
						t.Cleanup(func() { _ = conn.CloseNow() })
						send = func(text string) (int, string) { return r.wsTurn(conn, text) }
					}
					code, who := send("go on")
					if code != 200 || who != "a" {
						t.Fatalf("the turn with items a cannot read = %d %q, want 200 from a", code, who)
					}
					if a.Refusals() != 1 {
						t.Fatalf("a refused %d times, want once (then the retry)", a.Refusals())
					}
					reqs := turnRequests(a)
					if len(reqs) != 2 {
						t.Fatalf("a got %d requests, want 2 (the refused one, the retry)", len(reqs))
					}
					for _, it := range boundItems(t, reqs[1].Body) {
						if it.MintedBy != "a" {
							t.Errorf("the retry still carries %s's %s", it.MintedBy, it.Type)
						}
					}
					line := waitTurnLines(t, p, 1)[0]
					if !strings.Contains(line, "a refused "+kind+" items it could not read; sent again without them") || !strings.Contains(line, "status=200") {
						t.Errorf("the log line does not say what happened: %s", line)
					}
					// The account is healthy: nothing held against it.
					if st := proxyStatus(t, p); accountIn(t, st, "a").State != "healthy" {
						t.Errorf("a is %q after a refusal, want healthy", accountIn(t, st, "a").State)
					}
					// The next turn is cleaned before it is sent: one request,
					// no refusal, a's own items kept.
					code, who = send("and again")
					if code != 200 || who != "a" {
						t.Fatalf("the next turn = %d %q", code, who)
					}
					reqs = turnRequests(a)
					if len(reqs) != 3 || a.Refusals() != 1 {
						t.Errorf("the next turn: a got %d requests in all and refused %d; want 3 and 1", len(reqs), a.Refusals())
					}
					last := boundItems(t, reqs[len(reqs)-1].Body)
					mine := 0
					for _, it := range last {
						if it.MintedBy != "a" {
							t.Errorf("the next turn carries %s's %s", it.MintedBy, it.Type)
						}
						mine++
					}
					if kind == "reasoning" && mine == 0 {
						t.Error("the next turn dropped a's own reasoning too")
					}
				})
			}
		}
	}
}

// TestSecondInstanceCleansWhatTheFirstSawMinted: two proxies on one Redis
// (the real one in CI). A conversation runs on a through the first, fails
// over to b through it while a is rate-limited, then comes back to a
// through the second: the second knows from the store that b minted the
// item of the failover turn, and a gets its own items only.
func TestSecondInstanceCleansWhatTheFirstSawMinted(t *testing.T) {
	redisURL, prefix := sharedRedis(t)
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	cfg := prefix + "accounts:\n" + openaiAccount("a", a, "KEY_A", 1) + openaiAccount("b", b, "KEY_B", 0)
	clock := &testClock{t: time.Now()}
	first := startProxy(t, cfg, env, withRedis(redisURL), withClock(clock))
	second := startProxy(t, cfg, env, withRedis(redisURL), withClock(clock))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("first proxy:\n%s\nsecond proxy:\n%s", first.Logs, second.Logs)
		}
	})
	r := newReplayer(t, "two-instances")
	if code, who := r.turn(first.URL, "hi"); code != 200 || who != "a" {
		t.Fatalf("turn 1 = %d %q", code, who)
	}
	a.Script(fakeupstream.RateLimited(30 * time.Second))
	if code, who := r.turn(first.URL, "again"); code != 200 || who != "b" {
		t.Fatalf("turn 2 = %d %q, want b", code, who)
	}
	// The first instance writes who minted what off its requests; once it
	// has stopped (as an instance that dies after its turn), every write
	// it queued is in the store, so the second reads no half-written state.
	first.stop()
	clock.advance(90 * time.Second)
	// The second instance's own view of a: its cooldown sync must see a
	// back before the turn (it re-reads every second; the clock moved).
	if code, who := r.turn(second.URL, "once more"); code != 200 || who != "a" {
		t.Fatalf("turn 3 through the second instance = %d %q, want a", code, who)
	}
	reqs := turnRequests(a)
	last := boundItems(t, reqs[len(reqs)-1].Body)
	var own int
	for _, it := range last {
		if it.MintedBy != "a" {
			t.Errorf("turn 3 reached a with %s's %s", it.MintedBy, it.Type)
		}
		own++
	}
	if own != 1 {
		t.Errorf("turn 3 carried %d of a's items, want its one reasoning item of turn 1", own)
	}
	if a.Refusals() != 0 {
		t.Errorf("a refused %d times: the second instance did not know who minted the items", a.Refusals())
	}
	if !strings.Contains(second.Logs.String(), `items="removed 1 reasoning item minted by b"`) {
		t.Errorf("the second instance did not say what it removed")
	}
}

// TestCompactionRemadeOnceThenReused: a conversation compacted on a moves
// away. When the remake fails on an account (a 5xx), the turn fails over
// as for any failure, and the next account makes its own; the
// conversation's new account compacts the kept history once, and every
// later turn on it reuses that remake in place of a's item, which the
// client keeps sending.
func TestCompactionRemadeOnceThenReused(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	c := startUpstream(t, "c", fakeupstream.WithAPIKey(keyA))
	// Weights make the order a, b, c (rendezvous is deterministic per
	// conversation): b gets the first try away from a, c the standby.
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 100)+openaiAccount("b", b, "KEY_B", 1)+openaiAccount("c", c, "KEY_A", 0), env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
		}
	})
	r := newReplayer(t, "remade-once")
	for _, step := range []struct {
		text       string
		compaction bool
	}{{"hi", false}, {"", true}, {"after the compaction", false}} {
		if code, who := r.post(p.URL, step.text, step.compaction); code != 200 || who != "a" {
			t.Fatalf("on a: %d %q", code, who)
		}
	}
	// The proxy keeps the compaction's request off the request path; wait
	// for it before a goes away.
	waitTurnLines(t, p, 3)
	a.Script(fakeupstream.QuotaExceeded(time.Now().Add(time.Hour)))
	b.Script(fakeupstream.Fault{Status: http.StatusInternalServerError})
	// The turn: a is out, b fails the remake, c makes its own and serves.
	if code, who := r.turn(p.URL, "first on another"); code != 200 || who != "c" {
		t.Fatalf("a out, b failing its remake: %d %q, want c", code, who)
	}
	// A request's line is logged once its answer has gone out, so the next
	// turn could log first: each turn waits for its line.
	waitTurnLines(t, p, 4)
	// a is out for an hour: the conversation moves to b (by weight), which
	// remakes it now, then reuses its remake.
	for i := 0; i < 2; i++ {
		if code, who := r.turn(p.URL, fmt.Sprint("more ", i)); code != 200 || who != "b" {
			t.Fatalf("turn %d after the move: %d %q, want b", i, code, who)
		}
		waitTurnLines(t, p, 5+i)
	}
	remakes := func(s *fakeupstream.Server) int {
		n := 0
		for _, req := range turnRequests(s) {
			if endsWithCompactionTrigger(req.Body) {
				n++
			}
		}
		return n
	}
	if remakes(b) != 2 || remakes(c) != 1 {
		t.Errorf("remakes: b %d, c %d; want 2 (one failed) and 1", remakes(b), remakes(c))
	}
	for _, s := range []*fakeupstream.Server{b, c} {
		for i, req := range turnRequests(s) {
			for _, it := range boundItems(t, req.Body) {
				if it.MintedBy != s.Name() {
					t.Errorf("%s's request %d carries %s's %s", s.Name(), i, it.MintedBy, it.Type)
				}
			}
		}
	}
	lines := waitTurnLines(t, p, 6)
	for i, want := range []string{"by a re-made on c", "by a re-made on b", "by a replaced by b's own, made earlier"} {
		if l := lines[3+i]; !strings.Contains(l, want) {
			t.Errorf("request %d's log line lacks %q: %s", 4+i, want, l)
		}
	}
	if !strings.Contains(lines[3], "attempts=3") {
		t.Errorf("the first turn away from a did not try a, b, then c: %s", lines[3])
	}
	if a.Refusals()+b.Refusals()+c.Refusals() != 0 {
		t.Errorf("refusals: %d %d %d", a.Refusals(), b.Refusals(), c.Refusals())
	}
}

// TestResumedConversationGoesBackToItsMinter: a conversation whose binding
// is gone (it expired, or was cleared) comes back with items only its old
// account can read. It goes back there, whatever the weights prefer, and
// nothing is removed.
func TestResumedConversationGoesBackToItsMinter(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
		}
	})
	r := newReplayer(t, "resumed")
	if code, who := r.turn(p.URL, "hi"); code != 200 || who != "a" {
		t.Fatalf("turn 1 = %d %q", code, who)
	}
	// b joins, heavily weighted, and the conversation's binding is cleared.
	if err := p.rewrite(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1)+openaiAccount("b", b, "KEY_B", 1000)); err != nil {
		t.Fatal(err)
	}
	waitTurnLines(t, p, 1)
	sum := sha256.Sum256([]byte(r.session))
	req, _ := http.NewRequest(http.MethodDelete, p.URL+"/_proxy/sessions/"+hex.EncodeToString(sum[:])[:12], nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("clearing the session: %d", resp.StatusCode)
	}
	if code, who := r.turn(p.URL, "again"); code != 200 || who != "a" {
		t.Fatalf("the resumed turn = %d %q, want a, whose reasoning it carries", code, who)
	}
	line := waitTurnLines(t, p, 2)[1]
	if !strings.Contains(line, "reason=resumed") || !strings.Contains(line, `detail="the conversation's items were minted by a"`) || strings.Contains(line, "items=") {
		t.Errorf("the resumed turn's log line: %s", line)
	}
	if len(b.Requests()) != 0 {
		t.Errorf("b got %d requests", len(b.Requests()))
	}
}
