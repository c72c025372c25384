package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/pricing"
	"github.com/proxy-dev/proxy/pkg/usagereport"
)

const (
	leadKey = "client-key-lead-0123456789"
	ciKey   = "client-key-ci-0123456789"
)

// teamEnv is env with the two team keys.
var teamEnv = map[string]string{"KEY_A": keyA, "KEY_B": keyB, "ACCESS": accessToken, "LEAD_KEY": leadKey, "CI_KEY": ciKey}

// teamKeys is the client_keys block of a team: lead an admin, ci a user
// with ciLimits (YAML lines under limits:, indented six spaces).
func teamKeys(ciLimits string) string {
	return "client_keys:\n  - name: lead\n    key: ${LEAD_KEY}\n    role: admin\n  - name: ci\n    key: ${CI_KEY}\n    role: user\n    limits:\n" + ciLimits
}

// served is what one answer's response.completed said the account served.
type served struct {
	status                           int
	account                          string
	input, cached, output, reasoning int64
	body, retryAfter                 string
}

// postAs sends a streamed Responses request with a client key and reads
// the usage the account reported.
func postAs(t *testing.T, base, key, model, session string) served {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/responses", strings.NewReader(fmt.Sprintf(`{"model":%q,"stream":true,"input":"hi from %s"}`, model, session)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := served{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	var all strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || !strings.Contains(data, `"response.completed"`) {
			continue
		}
		var ev struct {
			Response struct {
				Usage struct {
					InputTokens        int64 `json:"input_tokens"`
					OutputTokens       int64 `json:"output_tokens"`
					InputTokensDetails struct {
						CachedTokens int64 `json:"cached_tokens"`
					} `json:"input_tokens_details"`
					OutputTokensDetails struct {
						ReasoningTokens int64 `json:"reasoning_tokens"`
					} `json:"output_tokens_details"`
				} `json:"usage"`
			} `json:"response"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("response.completed: %v", err)
		}
		u := ev.Response.Usage
		s.input, s.cached, s.output, s.reasoning = u.InputTokens, u.InputTokensDetails.CachedTokens, u.OutputTokens, u.OutputTokensDetails.ReasoningTokens
	}
	s.body = all.String()
	s.account = replier(s.body)
	return s
}

// usageRows runs `proxy usage --json` with key against p until its rows
// count want requests: the ledger is written a moment after each answer.
func usageRows(t *testing.T, p *running, key string, want int64, by string) []usagereport.Row {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, stdout, stderr := runCLI(t, map[string]string{"PROXY_API_KEY": key}, "usage", "--addr", p.URL, "--since", "1d", "--by", by, "--json")
		if code != 0 {
			t.Fatalf("proxy usage: exit %d: %s", code, stderr)
		}
		var rows []usagereport.Row
		if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
			t.Fatalf("proxy usage --json: %v: %s", err, stdout)
		}
		if usagereport.Total(rows).Requests >= want || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTeamKeys: two keys, one an admin and one a user with limits, over an
// API account and a ChatGPT account and two models. Each limit answers
// before any account is tried; the ledger `proxy usage` shows matches what
// the fake upstreams served, token for token, priced at the table; a
// reload changes a limit live.
func TestTeamKeys(t *testing.T) {
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA))
	chat := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-team"))
	// api is a standby: lead's conversations go to the ChatGPT account,
	// while ci, kept to the api tag, is served by api alone.
	accounts := "accounts:\n" + openaiAccount("api", api, "KEY_A", 0) + "    tags: [api]\n" + chatgptAccount("chatgpt", chat, "ACCESS", "acct-team", 1)
	limits := "      requests_per_minute: 4\n      models: [\"gpt-5*\"]\n      accounts: [api]\n"
	clock := &testClock{t: time.Now().UTC().Truncate(time.Minute).Add(10 * time.Second)}
	p := startProxy(t, teamKeys(limits)+accounts, teamEnv, withClock(clock))

	type line struct{ key, account, model string }
	want := map[line]*served{}
	add := func(key string, model string, s served) {
		l := line{key, s.account, model}
		if want[l] == nil {
			want[l] = &served{}
		}
		w := want[l]
		w.status++ // counts requests
		w.input, w.cached, w.output, w.reasoning = w.input+s.input, w.cached+s.cached, w.output+s.output, w.reasoning+s.reasoning
	}
	for i := range 3 {
		s := postAs(t, p.URL, leadKey, "gpt-5.5", fmt.Sprint("lead-", i))
		if s.status != 200 || s.account != "chatgpt" || s.input == 0 {
			t.Fatalf("lead request %d: %d from %q %s", i, s.status, s.account, s.body)
		}
		add("lead", "gpt-5.5", s)
	}
	for i := range 4 {
		s := postAs(t, p.URL, ciKey, "gpt-5-mini", fmt.Sprint("ci-", i))
		if s.status != 200 || s.account != "api" {
			t.Fatalf("ci request %d: %d from %q (ci is kept to the api tag) %s", i, s.status, s.account, s.body)
		}
		add("ci", "gpt-5-mini", s)
	}
	before := len(api.Requests()) + len(chat.Requests())
	over := postAs(t, p.URL, ciKey, "gpt-5-mini", "ci-over")
	if over.status != 429 || over.retryAfter == "" || !strings.Contains(over.body, `"code":"client_limit_reached"`) ||
		!strings.Contains(over.body, "limit of 4 requests per minute (client_keys[].limits.requests_per_minute)") {
		t.Fatalf("ci's fifth request in the minute: %d Retry-After %q %s", over.status, over.retryAfter, over.body)
	}
	model := postAs(t, p.URL, ciKey, "o3", "ci-o3")
	if model.status != 403 || !strings.Contains(model.body, `"code":"model_not_allowed"`) || !strings.Contains(model.body, "it may use gpt-5*") {
		t.Fatalf("ci asking for o3: %d %s", model.status, model.body)
	}
	if after := len(api.Requests()) + len(chat.Requests()); after != before {
		t.Fatalf("refused requests reached the accounts: %d requests, want %d", after, before)
	}
	if s := postAs(t, p.URL, leadKey, "gpt-5.5", "lead-meanwhile"); s.status != 200 {
		t.Fatalf("lead while ci is limited: %d %s", s.status, s.body)
	} else {
		add("lead", "gpt-5.5", s)
	}
	// A user key may not read the status, and sees only its own usage.
	if code, body := adminGet(t, p.URL, "/_proxy/status", ciKey); code != 403 || !strings.Contains(body, "admin_only") {
		t.Fatalf("ci reading the status: %d %s", code, body)
	}

	// Reload: ci may send 6 a minute; its next request passes at once.
	if err := p.rewrite(t, teamKeys(strings.Replace(limits, "4", "6", 1))+accounts); err != nil {
		t.Fatalf("reload: %v", err)
	}
	s := postAs(t, p.URL, ciKey, "gpt-5-mini", "ci-after-reload")
	if s.status != 200 {
		t.Fatalf("ci after the reload raised its limit: %d %s", s.status, s.body)
	}
	add("ci", "gpt-5-mini", s)

	var total int64
	for _, w := range want {
		total += int64(w.status)
	}
	rows := usageRows(t, p, leadKey, total, "key,account,model")
	if len(rows) != len(want) {
		t.Fatalf("proxy usage has %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	table := pricing.Default()
	for _, r := range rows {
		w := want[line{*r.Key, *r.Account, *r.Model}]
		if w == nil {
			t.Errorf("a row nobody was served: %s/%s/%s", *r.Key, *r.Account, *r.Model)
			continue
		}
		if r.Requests != int64(w.status) || r.InputTokens != w.input || r.CachedTokens != w.cached || r.OutputTokens != w.output || r.ReasoningTokens != w.reasoning {
			t.Errorf("%s/%s/%s: usage %+v, the upstreams served %d requests, in %d cached %d out %d reasoning %d",
				*r.Key, *r.Account, *r.Model, r, w.status, w.input, w.cached, w.output, w.reasoning)
		}
		cost, ok := table.Cost(*r.Model, pricing.Usage{InputTokens: w.input, CachedTokens: w.cached, OutputTokens: w.output, ReasoningTokens: w.reasoning})
		if !ok || r.CostUSD == nil || math.Abs(*r.CostUSD-cost) > 1e-9 {
			t.Errorf("%s/%s/%s: cost %v, the table says %v", *r.Key, *r.Account, *r.Model, r.CostUSD, cost)
		}
	}
	mine := usageRows(t, p, ciKey, 5, "key")
	if len(mine) != 1 || *mine[0].Key != "ci" || mine[0].Requests != 5 {
		t.Errorf("ci's own usage: %+v", mine)
	}
}

// TestTwoInstancesShareAKeysLimit: a key allowed 10 requests a minute gets
// 10 across two instances on one Redis, not 20.
func TestTwoInstancesShareAKeysLimit(t *testing.T) {
	redisURL, prefix := sharedRedis(t)
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	cfg := prefix + teamKeys("      requests_per_minute: 10\n") + "accounts:\n" + openaiAccount("a", a, "KEY_A", 1)
	// One minute on both clocks: the count is the minute's, whatever the
	// wall clock does during the test.
	clock := &testClock{t: time.Now().UTC().Truncate(time.Minute).Add(5 * time.Second)}
	p1 := startProxy(t, cfg, teamEnv, withRedis(redisURL), withClock(clock))
	p2 := startProxy(t, cfg, teamEnv, withRedis(redisURL), withClock(clock))
	codes := map[int]int{}
	for i := range 20 {
		p := []*running{p1, p2}[i%2]
		codes[postAs(t, p.URL, ciKey, "gpt-5", fmt.Sprint("shared-", i)).status]++
	}
	if codes[200] != 10 || codes[429] != 10 {
		t.Fatalf("20 requests across two instances at 10 a minute: %v, want 10 served and 10 refused", codes)
	}
	if n := len(a.Requests()); n != 10 {
		t.Fatalf("the account saw %d requests, want 10", n)
	}
	if s := postAs(t, p1.URL, leadKey, "gpt-5", "lead"); s.status != 200 {
		t.Fatalf("lead, who has no limit: %d", s.status)
	}
}

// TestCodexCLIOnAUserKey: the real Codex CLI on a user key kept to the
// api tag and gpt-5 models is served there, turn after turn (a resume
// too), while the other key's admin view shows the conversation as ci's
// and proxy usage on ci's key shows ci's lines only.
func TestCodexCLIOnAUserKey(t *testing.T) {
	bin := codexBinary(t)
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA))
	chat := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-team"))
	p := startProxy(t, teamKeys("      requests_per_minute: 30\n      models: [\"gpt-5*\"]\n      accounts: [api]\n")+
		"accounts:\n"+openaiAccount("api", api, "KEY_A", 1)+"    tags: [api]\n"+chatgptAccount("chatgpt", chat, "ACCESS", "acct-team", 5), teamEnv)
	home, work := codexHome(t, p.URL), t.TempDir()
	first := runCodex(t, bin, home, work, ciKey, "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
	if got := servedBy(first.Stdout); got != "api" {
		t.Fatalf("turn 1 served by %q, want api (ci's only account)\n%s\n%s", got, first, p.Logs)
	}
	again := runCodex(t, bin, home, work, ciKey, "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "resume", "--last", "and again")
	if got := servedBy(again.Stdout); got != "api" {
		t.Fatalf("the resumed turn served by %q, want api\n%s", got, again)
	}
	if n := len(chat.Requests()); n != 0 {
		t.Errorf("the ChatGPT account, outside ci's accounts, saw %d requests", n)
	}
	code, out, stderr := runCLI(t, map[string]string{"PROXY_API_KEY": leadKey}, "sessions", "list", "--addr", p.URL, "--json")
	if code != 0 || !strings.Contains(out, `"client": "ci"`) {
		t.Errorf("lead's sessions list: exit %d %s %s", code, out, stderr)
	}
	rows := usageRows(t, p, ciKey, 2, "key,account")
	if len(rows) != 1 || *rows[0].Key != "ci" || *rows[0].Account != "api" || rows[0].Requests < 2 {
		t.Errorf("ci's usage after two Codex turns: %+v", rows)
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), ciKey, leadKey, keyA, accessToken)
}
