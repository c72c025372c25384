package e2e_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// The second ChatGPT login of the tests whose conversations move between
// two ChatGPT accounts.
const accessTokenB = "chatgpt-access-token-b-9876543210"

// movesEnv is env with the second login.
func movesEnv() map[string]string {
	e := maps.Clone(env)
	e["ACCESS_B"] = accessTokenB
	return e
}

// boundItem is an account-bound item of a request that reached an
// upstream, with the account that minted it.
type boundItem struct {
	Type, ID, MintedBy string
}

// boundItems lists the reasoning and compaction items of a request body
// (a POST's or a WebSocket frame's), each with its minter.
func boundItems(t *testing.T, body []byte) []boundItem {
	t.Helper()
	var req struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("a request body is not JSON: %v", err)
	}
	var input []struct {
		Type             string `json:"type"`
		ID               string `json:"id"`
		EncryptedContent string `json:"encrypted_content"`
	}
	if json.Unmarshal(req.Input, &input) != nil {
		return nil // a string input
	}
	var out []boundItem
	for _, it := range input {
		switch it.Type {
		case "reasoning", "compaction", "compaction_summary":
			who, _, _ := fakeupstream.MintedBy(it.EncryptedContent)
			out = append(out, boundItem{it.Type, it.ID, who})
		}
	}
	return out
}

// turnRequests are the requests of Codex turns an upstream received (POSTs
// of /responses and WebSocket response.create frames; a warmup is one
// too), in order.
func turnRequests(s *fakeupstream.Server) []fakeupstream.Request {
	var out []fakeupstream.Request
	for _, r := range s.Requests() {
		if (r.Method == "POST" && strings.HasSuffix(r.Path, "/responses")) || r.WebSocket {
			out = append(out, r)
		}
	}
	return out
}

// itemsMinted counts, over an upstream's requests, the bound items each
// account minted.
func itemsMinted(t *testing.T, s *fakeupstream.Server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range turnRequests(s) {
		for _, it := range boundItems(t, r.Body) {
			out[it.MintedBy]++
		}
	}
	return out
}

// turnLines are the proxy's request log lines, whole, less the warmups it
// answered itself.
func turnLines(logs string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, " msg=request ") && !strings.Contains(l, "reason=prewarm") {
			out = append(out, l)
		}
	}
	return out
}

// fieldOf is a log line's key=value field's value.
func fieldOf(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// codexMovesHome is the README's provider block for Codex, retries off,
// over the transport given, compacting once a conversation passes
// compactAt tokens.
func codexMovesHome(t *testing.T, proxyURL, transport string, compactAt int) string {
	t.Helper()
	home := codexHomeFromReadme(t, proxyURL)
	editCodexConfig(t, home, "model_auto_compact_token_limit = 100", "model_auto_compact_token_limit = "+itoa(int64(compactAt)))
	editCodexConfig(t, home, `wire_api = "responses"`, "wire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0")
	if transport == "HTTP" {
		editCodexConfig(t, home, "supports_websockets = true", "supports_websockets = false")
	}
	return home
}

// TestCodexConversationMovesAndComesBack: the real Codex CLI, its retries
// off, on two ChatGPT accounts whose upstreams refuse each other's
// encrypted reasoning (the fake's default, as the real backend does). The
// conversation starts on a, fails over to b while a is rate-limited, then
// comes back to a: every turn exits 0, and each account only ever receives
// the items it minted itself.
func TestCodexConversationMovesAndComesBack(t *testing.T) {
	bin := codexBinary(t)
	for _, transport := range []string{"HTTP", "WebSocket"} {
		t.Run(transport, func(t *testing.T) {
			a := startUpstream(t, "a", fakeupstream.WithChatGPT(accessToken, "acct-a"), fakeupstream.WithWebSocket())
			b := startUpstream(t, "b", fakeupstream.WithChatGPT(accessTokenB, "acct-b"), fakeupstream.WithWebSocket())
			clock := &testClock{t: time.Now()}
			p := startProxy(t, "accounts:\n"+chatgptAccount("a", a, "ACCESS", "acct-a", 1)+chatgptAccount("b", b, "ACCESS_B", "acct-b", 0),
				movesEnv(), withClock(clock))
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy logs:\n%s", p.Logs)
				}
			})
			home := codexMovesHome(t, p.URL, transport, 1_000_000)
			work := t.TempDir()
			turn := func(n int, args ...string) codexRun {
				t.Helper()
				run := runCodex(t, bin, home, work, "", append([]string{"exec"}, args...)...)
				t.Logf("turn %d: exit 0 in %s, Codex printed %q", n, run.Took.Round(time.Millisecond), strings.TrimSpace(run.Stdout))
				return run
			}

			if got := servedBy(turn(1, "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi").Stdout); got != "a" {
				t.Fatalf("turn 1 served by %q, want a", got)
			}
			a.Script(fakeupstream.RateLimited(30 * time.Second))
			if got := servedBy(turn(2, "resume", "--skip-git-repo-check", "--strict-config", "--last", "again").Stdout); got != "b" {
				t.Fatalf("turn 2 served by %q, want b (a is rate-limited)", got)
			}
			// a's cooldown (30 s from the wall clock the relay reads) is over.
			clock.advance(90 * time.Second)
			if got := servedBy(turn(3, "resume", "--skip-git-repo-check", "--strict-config", "--last", "once more").Stdout); got != "a" {
				t.Fatalf("turn 3 served by %q, want a (the conversation's account, back)", got)
			}

			// What each account received: only its own items.
			aGot, bGot := itemsMinted(t, a), itemsMinted(t, b)
			t.Logf("a received items minted by %v; b received items minted by %v", aGot, bGot)
			if aGot["b"] != 0 || bGot["a"] != 0 {
				t.Errorf("an account received another's items: a got %v, b got %v", aGot, bGot)
			}
			if aGot["a"] == 0 {
				t.Error("turn 3 did not bring a its own reasoning back")
			}
			if a.Refusals() != 0 || b.Refusals() != 0 {
				t.Errorf("refusals: a %d, b %d; want none (the proxy cleans before it sends)", a.Refusals(), b.Refusals())
			}
			// The log says what was left out, turn by turn.
			// Codex can exit before the proxy logs its last turn's line.
			lines := waitTurnLines(t, p, 3)
			if len(lines) != 3 {
				t.Fatalf("%d request lines, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			for i, want := range []string{"", `items="removed 1 reasoning item minted by a"`, `items="removed 1 reasoning item minted by b"`} {
				if want == "" {
					if strings.Contains(lines[i], "items=") {
						t.Errorf("turn %d: items changed: %s", i+1, lines[i])
					}
					continue
				}
				if !strings.Contains(lines[i], want) {
					t.Errorf("turn %d's log line lacks %s: %s", i+1, want, lines[i])
				}
			}
		})
	}
}

// TestCodexCompactedConversationMoves: the real Codex CLI compacts its
// conversation on a (remote compaction: an encrypted item only a can
// read, standing for the history), then a hits its usage limit. The next
// turns run on b, which gets b's own compaction of the history the proxy
// kept, made once and reused; every turn exits 0. With the kept history
// gone (no budget for it), the item is removed instead, and the log says
// what b no longer sees.
func TestCodexCompactedConversationMoves(t *testing.T) {
	bin := codexBinary(t)
	tests := []struct {
		name      string
		transport string
		extra     string // more config
		remade    bool
	}{
		{name: "HTTP, remade on b", transport: "HTTP", remade: true},
		{name: "WebSocket, remade on b", transport: "WebSocket", remade: true},
		{name: "HTTP, the kept history evicted", transport: "HTTP", extra: "limits:\n  kept_compactions: 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startUpstream(t, "a", fakeupstream.WithChatGPT(accessToken, "acct-a"), fakeupstream.WithWebSocket())
			b := startUpstream(t, "b", fakeupstream.WithChatGPT(accessTokenB, "acct-b"), fakeupstream.WithWebSocket())
			p := startProxy(t, tt.extra+"accounts:\n"+chatgptAccount("a", a, "ACCESS", "acct-a", 1)+chatgptAccount("b", b, "ACCESS_B", "acct-b", 0), movesEnv())
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy logs:\n%s", p.Logs)
				}
			})
			// Codex compacts before each turn once the conversation passes
			// 100 tokens: the fake's first turn alone reports thousands.
			home := codexMovesHome(t, p.URL, tt.transport, 100)
			work := t.TempDir()
			turn := func(n int, args ...string) codexRun {
				t.Helper()
				run := runCodex(t, bin, home, work, "", append([]string{"exec"}, args...)...)
				t.Logf("turn %d: exit 0 in %s, Codex printed %q", n, run.Took.Round(time.Millisecond), strings.TrimSpace(run.Stdout))
				return run
			}
			if got := servedBy(turn(1, "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi").Stdout); got != "a" {
				t.Fatalf("turn 1 served by %q, want a", got)
			}
			second := turn(2, "resume", "--skip-git-repo-check", "--strict-config", "--last", "again")
			if got := servedBy(second.Stdout); got != "a" || !strings.Contains(second.Stderr, "context compacted") {
				t.Fatalf("turn 2 served by %q, compacted %v; want a, compacted", got, strings.Contains(second.Stderr, "context compacted"))
			}
			// a is out for an hour: the conversation moves to b for good.
			a.Script(fakeupstream.QuotaExceeded(time.Now().Add(time.Hour)))
			for i, prompt := range []string{"third", "fourth"} {
				if got := servedBy(turn(3+i, "resume", "--skip-git-repo-check", "--strict-config", "--last", prompt).Stdout); got != "b" {
					t.Fatalf("turn %d served by %q, want b", 3+i, got)
				}
			}

			bGot := itemsMinted(t, b)
			t.Logf("b received items minted by %v", bGot)
			if bGot["a"] != 0 {
				t.Errorf("b received %d items minted by a", bGot["a"])
			}
			if a.Refusals() != 0 || b.Refusals() != 0 {
				t.Errorf("refusals: a %d, b %d; want none", a.Refusals(), b.Refusals())
			}
			logs := p.Logs.String()
			for _, l := range turnLines(logs) {
				if i := strings.Index(l, "items="); i >= 0 {
					t.Logf("proxy: account=%s %s", fieldOf(l, "account"), l[i:])
				}
			}
			// Codex asks b for two compactions (before turns 3 and 4); a
			// remake of a's is one more, made from the history a
			// compacted: a's words, none of a's items.
			var compactions []fakeupstream.Request
			for _, r := range turnRequests(b) {
				if endsWithCompactionTrigger(r.Body) {
					compactions = append(compactions, r)
				}
			}
			if tt.remade {
				if len(compactions) != 3 {
					t.Fatalf("b got %d compaction requests, want 3: the remake (once, then reused) and Codex's two", len(compactions))
				}
				remake := compactions[0]
				if len(boundItems(t, remake.Body)) != 0 || !strings.Contains(string(remake.Body), "Hello from a.") {
					t.Errorf("b's first compaction is not the kept history cleaned for it: items %v", boundItems(t, remake.Body))
				}
				if !strings.Contains(logs, "by a re-made on b") {
					t.Errorf("no log line says the compaction was re-made on b")
				}
				return
			}
			if len(compactions) != 2 {
				t.Errorf("b got %d compaction requests with no kept history, want Codex's 2", len(compactions))
			}
			if !strings.Contains(logs, "removed (the request behind it is no longer kept): b no longer sees the") {
				t.Errorf("no log line says what b no longer sees")
			}
		})
	}
}
