package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/status"
)

// headroomPool is two ChatGPT accounts of equal weight: "full" reports 97%
// of its five-hour window used, "roomy" 10%.
func headroomPool(t *testing.T) (full, roomy *fakeupstream.Server, accountsYAML string) {
	full = startUpstream(t, "full", fakeupstream.WithChatGPT(accessToken, "acct-full"), fakeupstream.WithUsedPercent(97, 5))
	roomy = startUpstream(t, "roomy", fakeupstream.WithChatGPT(accessToken, "acct-roomy"), fakeupstream.WithUsedPercent(10, 5))
	return full, roomy, "accounts:\n" + chatgptAccount("full", full, "ACCESS", "acct-full", 1) +
		chatgptAccount("roomy", roomy, "ACCESS", "acct-roomy", 1)
}

// warmUp starts new conversations until each account has answered one, so
// the proxy has seen every account's windows; it returns the conversation
// that each account serves.
func warmUp(t *testing.T, p *running, ups ...*fakeupstream.Server) map[string]string {
	t.Helper()
	on := map[string]string{}
	for i := 0; len(on) < len(ups); i++ {
		if i == 40 {
			t.Fatalf("after %d conversations only %v have answered", i, on)
		}
		sess := fmt.Sprint("warm-", i)
		status, _, body := post(t, p.URL, sess)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", sess, status, body)
		}
		if name := replier(body); on[name] == "" {
			on[name] = sess
		}
	}
	return on
}

// newConversations starts n new conversations and counts who served them.
func newConversations(t *testing.T, p *running, prefix string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := range n {
		status, _, body := post(t, p.URL, fmt.Sprint(prefix, i))
		if status != http.StatusOK {
			t.Fatalf("conversation %d: %d %s", i, status, body)
		}
		counts[replier(body)]++
	}
	return counts
}

// The threshold holds under both strategies that steer (the planner is
// the default): an account at 97% of its five hours gets no new
// conversation, and the decisions say why in their own words.
func TestHeadroomSteersNewConversations(t *testing.T) {
	for _, tt := range []struct{ strategy, config, reason, detail string }{
		{"planner", "", "reason=planner", "over full: 5h 97% used, resets in 5h, 7d 5% used, resets in 7d (threshold 90%)"},
		{"headroom", "headroom:\n  strategy: headroom\n", "reason=headroom", "skipped full: 97% used (threshold 90%)"},
	} {
		t.Run(tt.strategy, func(t *testing.T) { headroomSteers(t, tt.config, tt.reason, tt.detail) })
	}
}

func headroomSteers(t *testing.T, config, reason, detail string) {
	full, roomy, accounts := headroomPool(t)
	p := startProxy(t, config+accounts, env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
		}
	})
	on := warmUp(t, p, full, roomy)

	counts := newConversations(t, p, "new-", 40)
	t.Logf("40 new conversations: %v", counts)
	if counts["full"] > 4 {
		t.Errorf("the account at 97%% got %d of 40 new conversations, want at most 4 (split %v)", counts["full"], counts)
	}
	logs := p.Logs.String()
	if !strings.Contains(logs, reason) || !strings.Contains(logs, detail) {
		t.Errorf("no decision says %s with %q", reason, detail)
	}

	// A conversation already on the full account stays there: its cache is
	// worth more. Only a 429 serves a turn elsewhere.
	sess := on["full"]
	for turn := range 3 {
		if _, _, body := post(t, p.URL, sess); replier(body) != "full" {
			t.Fatalf("turn %d of a conversation on full went to %q", turn, replier(body))
		}
	}
	full.Script(fakeupstream.RateLimited(time.Minute))
	if _, _, body := post(t, p.URL, sess); replier(body) != "roomy" {
		t.Fatalf("after a 429 on full the turn went to %q, want roomy", replier(body))
	}

	// Status and accounts list show the windows and the pool's headroom.
	doc := proxyStatus(t, p)
	for _, a := range doc.Accounts {
		want := map[string]float64{"full": 97, "roomy": 10}[a.Name]
		if a.Limits == nil || a.Limits.Primary == nil || a.Limits.Primary.UsedPercent != want {
			t.Errorf("status of %s: limits %+v, want primary %v%% used", a.Name, a.Limits, want)
		}
	}
	code, stdout, stderr := runCLI(t, env, "accounts", "list", "-c", p.path, "--addr", p.URL)
	t.Logf("accounts list:\n%s%s", stdout, stderr)
	if code != 0 || !strings.Contains(stdout, "5h 97% (resets ") || !strings.Contains(stdout, "5h 10% (resets ") ||
		!strings.Contains(stderr, "pool headroom: 5h 47% left across 2 accounts, 7d 95%") {
		t.Errorf("accounts list: exit %d, want each account's windows and the pool's headroom", code)
	}
}

// Instances on one Redis steer alike: the second has never sent a request
// to the full account, yet keeps new conversations off it, from the
// windows the first wrote to the store.
func TestHeadroomIsSharedBetweenInstances(t *testing.T) {
	redisURL, prefix := sharedRedis(t)
	full, roomy, accounts := headroomPool(t)
	// Each instance writes and reads the windows with its periodic sync,
	// made quick here so the test does not wait a second for it.
	quickSync := func(o *serve.ServeOptions) { o.CooldownSync = 20 * time.Millisecond }
	p1 := startProxy(t, prefix+accounts, env, withRedis(redisURL), quickSync)
	p2 := startProxy(t, prefix+accounts, env, withRedis(redisURL), quickSync)
	warmUp(t, p1, full, roomy)
	waitForWindows(t, p2, "full", "roomy")
	before := len(full.Requests())
	counts := newConversations(t, p2, "second-", 20)
	t.Logf("20 new conversations on the second instance: %v", counts)
	if got := len(full.Requests()) - before; got != 0 || counts["full"] != 0 {
		t.Fatalf("the second instance sent %d new conversations to the full account (split %v)", got, counts)
	}
}

func proxyStatus(t *testing.T, p *running) status.Document {
	t.Helper()
	resp, err := http.Get(p.URL + "/_proxy/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc status.Document
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// waitForWindows returns once p knows the windows of every named account.
// The store is written and read with every sync; the bound only keeps a
// broken sync from hanging the test.
func waitForWindows(t *testing.T, p *running, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		known := 0
		for _, a := range proxyStatus(t, p).Accounts {
			for _, n := range names {
				if a.Name == n && a.Limits != nil {
					known++
				}
			}
		}
		if known == len(names) {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("the second instance never saw the windows of %v", names)
}

// TestPlannerSpendsWhatExpiresFirst: the example, end to end. soon
// has used 50% of a five-hour window that resets in 20 minutes, late 10%
// of one that resets in 4 hours. The planner (the default) sends most new
// conversations to soon, whose room is lost at its reset; headroom, kept
// as a setting, sends most to late; weighted splits by weight alone.
func TestPlannerSpendsWhatExpiresFirst(t *testing.T) {
	for _, tt := range []struct {
		strategy, config string
		// soonAtLeast and soonAtMost bound soon's share of 40 conversations.
		soonAtLeast, soonAtMost int
		reason, detail          string
		// start is what serve says at start of how it steers.
		start string
	}{
		{"planner", "", 30, 40, "reason=planner", "chose soon: 5h 50% used, resets in 20m, 7d 5% used, resets in 6d19h; over late: 5h 10% used, resets in 4h, 7d 5% used, resets in 6d23h",
			"new conversations: by weight, towards the room that resets first, none past 90% (headroom.strategy planner)"},
		{"headroom", "headroom:\n  strategy: headroom\n", 0, 19, "reason=headroom", "skipped soon: 50% used, late has more room",
			"new conversations: by weight, towards the emptiest windows, none past 90% (headroom.strategy headroom)"},
		{"weighted", "headroom:\n  strategy: weighted\n", 12, 28, "", "", "new conversations: by weight alone (headroom.strategy weighted)"},
	} {
		t.Run(tt.strategy, func(t *testing.T) {
			soon := startUpstream(t, "soon", fakeupstream.WithChatGPT(accessToken, "acct-soon"), fakeupstream.WithUsedPercent(50, 5),
				fakeupstream.WithWindowsStartedAgo(4*time.Hour+40*time.Minute))
			late := startUpstream(t, "late", fakeupstream.WithChatGPT(accessToken, "acct-late"), fakeupstream.WithUsedPercent(10, 5),
				fakeupstream.WithWindowsStartedAgo(time.Hour))
			p := startProxy(t, tt.config+"accounts:\n"+chatgptAccount("soon", soon, "ACCESS", "acct-soon", 1)+
				chatgptAccount("late", late, "ACCESS", "acct-late", 1), env)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy logs:\n%s", p.Logs)
				}
			})
			warmUp(t, p, soon, late)
			counts := newConversations(t, p, "new-", 40)
			t.Logf("40 new conversations: %v", counts)
			if counts["soon"] < tt.soonAtLeast || counts["soon"] > tt.soonAtMost {
				t.Errorf("soon got %d of 40 new conversations, want %d to %d (split %v)", counts["soon"], tt.soonAtLeast, tt.soonAtMost, counts)
			}
			logs := p.Logs.String()
			for _, other := range []string{"reason=planner", "reason=headroom"} {
				if other != tt.reason && strings.Contains(logs, other) {
					t.Errorf("a decision says %s under strategy %s", other, tt.strategy)
				}
			}
			if !strings.Contains(logs, tt.start) {
				t.Errorf("serve did not say at start %q", tt.start)
			}
			if tt.reason != "" && (!strings.Contains(logs, tt.reason) || !strings.Contains(logs, tt.detail)) {
				t.Errorf("no decision says %s with %q", tt.reason, tt.detail)
			}
		})
	}
}
