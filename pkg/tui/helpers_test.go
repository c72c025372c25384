package tui

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/usagereport"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestMain(m *testing.M) {
	// The table shows local times: pin the zone so snapshots match anywhere.
	time.Local = time.UTC
	os.Exit(m.Run())
}

// t0 is the fixed clock of every test.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func newModel(w, h int) Model {
	return New(Options{Addr: "http://127.0.0.1:8787", Now: func() time.Time { return t0 }, Width: w, Height: h})
}

// apply runs msgs through Update in order, as the program would.
func apply(t *testing.T, m Model, msgs ...tea.Msg) Model {
	t.Helper()
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func typed(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, press(string(r)))
	}
	return out
}

// decision is a finished streaming request served by account.
func decision(id, account, reason string, at time.Duration, in, cached, out int64) DecisionMsg {
	return DecisionMsg(event.Decision{
		Time: t0.Add(-at), RequestID: id, Path: "/v1/responses", Session: "5e2a91c0", Source: "header",
		Model: "gpt-5-codex", Stream: true, Candidates: []string{"chatgpt-main", "coordcode"},
		Account: account, Type: "openai", Target: "https://upstream.example/v1/responses", Reason: reason,
		Attempts: []event.Attempt{{Account: account, Status: 200}}, Status: 200,
		TTFB: 420 * time.Millisecond, Duration: 3200 * time.Millisecond,
		Usage: event.Usage{InputTokens: in, CachedTokens: cached, OutputTokens: out, ReasoningTokens: out / 4},
	})
}

// statusDoc is a pool of three: one healthy with rate-limit windows, one
// cooling down for 4m12s from t0, one invalid.
func statusDoc() StatusMsg {
	until := t0.Add(4*time.Minute + 12*time.Second)
	return StatusMsg{Doc: &status.Document{
		Version: "v1.2.3", Started: t0.Add(-90 * time.Minute), UptimeSeconds: 5400, Sessions: 3,
		Store: status.Store{Kind: "embedded", OK: true},
		Accounts: []status.Account{
			{Name: "chatgpt-main", Type: "openai-responses", State: status.StateHealthy, InFlight: 2,
				Today: status.Usage{Requests: 41},
				Limits: &health.Limits{
					Primary:   &health.Window{UsedPercent: 45, WindowMinutes: 300},
					Secondary: &health.Window{UsedPercent: 12, WindowMinutes: 10080},
				}},
			{Name: "coordcode", Type: "openai", State: status.StateCoolingDown, Reason: "rate_limit", Until: &until,
				Today: status.Usage{Requests: 7}},
			{Name: "spare", Type: "openai", State: status.StateInvalid, Reason: "invalid"},
		},
	}}
}

// traffic is a few decisions, oldest first as they arrive.
func traffic() []tea.Msg {
	failover := decision("req-4", "chatgpt-main", "failover", 5*time.Second, 24000, 0, 310)
	failover.Detail = "failover from coordcode: rate_limit (429 Rate limit reached)"
	failover.Attempts = []event.Attempt{{Account: "coordcode", Status: 429, Error: "rate_limit (429 Rate limit reached)"}, {Account: "chatgpt-main", Status: 200}}
	failover.Items = "removed 2 reasoning items minted by coordcode"
	noAccount := DecisionMsg(event.Decision{Time: t0.Add(-2 * time.Second), RequestID: "req-5", Path: "/v1/responses",
		Source: "none", Model: "gpt-5", Reason: "unsticky", Status: 503, Error: "no available account", Duration: time.Millisecond})
	return []tea.Msg{
		decision("req-1", "chatgpt-main", "new", 60*time.Second, 12000, 0, 800),
		decision("req-2", "chatgpt-main", "sticky", 40*time.Second, 14500, 11800, 450),
		decision("req-3", "chatgpt-main", "sticky", 20*time.Second, 16200, 14300, 120),
		failover,
		noAccount,
	}
}

// chatDecision is a Chat Completions request served by an account that
// speaks only Chat Completions, under its own model name.
func chatDecision() DecisionMsg {
	d := decision("req-7", "deepseek", "new", time.Second, 900, 0, 40)
	d.Path, d.Door, d.API, d.UpstreamModel = "/v1/chat/completions", event.DoorChat, event.APIChat, "deepseek-chat"
	d.Target = "https://api.deepseek.com/v1/chat/completions"
	return DecisionMsg(d)
}

// plannerDecision is a new conversation the planner sent to the account
// whose five hours reset first, with the words the scheduler writes.
func plannerDecision() DecisionMsg {
	d := decision("req-8", "chatgpt-main", "planner", time.Second, 9000, 0, 200)
	d.Detail = "chose chatgpt-main: 5h 50% used, resets in 20m, 7d 12% used, resets in 3d4h; over coordcode: 5h 10% used, resets in 4h, 7d 30% used, resets in 6d"
	return d
}

// hostile is a decision whose strings are long and hold escape sequences.
func hostile() DecisionMsg {
	d := decision("req-6", "chatgpt-main", "new", time.Second, 100, 0, 10)
	d.Model = "gpt-5\x1b]0;pwned\x07" + strings.Repeat("m", 64<<10)
	d.Error = "upstream said \x1b[2J" + strings.Repeat("e", 64<<10)
	return d
}

// golden compares the screen, through an ASCII colour profile (styles
// like bold stay, colours go), with testdata/name.golden.
func golden(t *testing.T, name string, m Model) {
	t.Helper()
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ASCII}
	if _, err := w.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("screen differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, buf.Bytes(), want)
	}
}

// usageWeek is a week of two keys' usage ending on t0's day.
func usageWeek() UsageMsg {
	cost := func(v float64) *float64 { return &v }
	return UsageMsg{Since: "2026-03-08", Lines: []usagereport.Line{
		{Day: "2026-03-10", Key: "ci", Account: "api", Model: "gpt-5-mini", Requests: 40, InputTokens: 400_000, OutputTokens: 20_000, CostUSD: cost(0.14)},
		{Day: "2026-03-12", Key: "lead", Account: "chatgpt", Model: "gpt-5.5", Requests: 12, InputTokens: 900_000, CachedTokens: 800_000, OutputTokens: 30_000, CostUSD: cost(1.525)},
		{Day: "2026-03-14", Key: "ci", Account: "api", Model: "gpt-5-mini", Requests: 10, InputTokens: 100_000, OutputTokens: 5000, CostUSD: cost(0.035)},
		{Day: "2026-03-14", Key: "lead", Account: "chatgpt", Model: "gpt-5.5", Requests: 30, InputTokens: 2_400_000, CachedTokens: 2_000_000, OutputTokens: 80_000, CostUSD: cost(3.75)},
		{Day: "2026-03-14", Key: "lead", Account: "api", Model: "local-llama", Requests: 3, InputTokens: 3000, OutputTokens: 300},
	}}
}
