package keylimit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/store"
)

// clock is a settable time, shared by the store and the limiter.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T, c *clock) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// answer is what a client would read of a refusal.
type answer struct {
	status     int
	retryAfter string
	code, typ  string
	message    string
}

func answerOf(t *testing.T, err error) answer {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a *Refusal", err)
	}
	rec := httptest.NewRecorder()
	r.APIError().Write(rec)
	var body struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("refusal body %q: %v", rec.Body, err)
	}
	return answer{rec.Code, rec.Header().Get("Retry-After"), body.Error.Code, body.Error.Type, body.Error.Message}
}

// TestEachLimit hits each limit in turn: the refusal names it, its value,
// what was counted and when it resets, while another key is served.
func TestEachLimit(t *testing.T) {
	start := time.Date(2026, 12, 9, 15, 4, 30, 0, time.UTC) // a Wednesday
	tests := []struct {
		name   string
		limits config.KeyLimits
		// fill is what the key did before the refused request: admitted
		// requests, and spending written by the usage writer.
		admitted int
		spend    store.Spend
		want     answer
	}{
		{
			name:     "requests_per_minute",
			limits:   config.KeyLimits{RequestsPerMinute: 3},
			admitted: 3,
			want: answer{429, "30", "client_limit_reached", "rate_limit_error",
				`client key "ci" reached its limit of 3 requests per minute (client_keys[].limits.requests_per_minute): 3 this minute; it resets at 2026-12-09 15:05:00 UTC (in 30s): retry then, or ask the proxy's admin to raise it`},
		},
		{
			name:   "tokens_per_day",
			limits: config.KeyLimits{TokensPerDay: 1000},
			spend:  store.Spend{Tokens: 1200},
			want: answer{429, "32130", "client_limit_reached", "rate_limit_error",
				`client key "ci" reached its limit of 1000 tokens per day (client_keys[].limits.tokens_per_day): 1200 used today (UTC); it resets at 2026-12-10 00:00:00 UTC (in 8h55m30s): retry then, or ask the proxy's admin to raise it`},
		},
		{
			name:   "tokens_per_week",
			limits: config.KeyLimits{TokensPerDay: 5000, TokensPerWeek: 1000},
			spend:  store.Spend{Tokens: 1000},
			want: answer{429, "377730", "client_limit_reached", "rate_limit_error",
				`client key "ci" reached its limit of 1000 tokens per week (client_keys[].limits.tokens_per_week): 1000 used this week (from Monday, UTC); it resets at 2026-12-14 00:00:00 UTC (in 4d8h56m): retry then, or ask the proxy's admin to raise it`},
		},
		{
			name:   "usd_per_month",
			limits: config.KeyLimits{USDPerMonth: 2.5},
			spend:  store.Spend{MicroUSD: 2_512_345},
			want: answer{429, "1932930", "client_limit_reached", "rate_limit_error",
				`client key "ci" reached its budget of $2.50 a month (client_keys[].limits.usd_per_month): $2.51 spent this month at API prices; it resets at 2027-01-01 00:00:00 UTC (in 22d8h56m): retry then, or ask the proxy's admin to raise it`},
		},
		{
			name:     "concurrent",
			limits:   config.KeyLimits{Concurrent: 2},
			admitted: 2,
			want: answer{429, "1", "client_limit_reached", "rate_limit_error",
				`client key "ci" has 2 streams open, its limit (client_keys[].limits.concurrent); it frees when one of them ends: retry then, or ask the proxy's admin to raise it`},
		},
		{
			name:   "models",
			limits: config.KeyLimits{Models: []string{"gpt-5-mini", "gpt-5.1-codex*"}},
			want: answer{403, "", "model_not_allowed", "permission_error",
				`client key "ci" may not use model "gpt-5.5"; it may use gpt-5-mini, gpt-5.1-codex* (client_keys[].limits.models); ask the proxy's admin for another model`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: start}
			st := openStore(t, c)
			l := New(st, []config.ClientKey{{Name: "ci", Limits: tt.limits}, {Name: "lead", Limits: tt.limits}}, Options{Now: c.Now})
			ctx := context.Background()
			for i := range tt.admitted {
				a, err := l.Admit(ctx, "ci", "gpt-5.5")
				if err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				t.Cleanup(a.Release)
			}
			if err := st.AddSpend(ctx, map[string]store.Spend{"ci": tt.spend}); err != nil {
				t.Fatal(err)
			}
			_, err := l.Admit(ctx, "ci", "gpt-5.5")
			if got := answerOf(t, err); got != tt.want {
				t.Errorf("refusal:\n got %+v\nwant %+v", got, tt.want)
			}
			if _, err := l.Admit(ctx, "lead", "gpt-5-mini"); err != nil {
				t.Errorf("another key was refused meanwhile: %v", err)
			}
		})
	}
}

// TestLimitsResetAndReload: a minute's limit frees at the next minute, a
// reload raises a limit for the next request, and a released stream frees
// its slot at once.
func TestLimitsResetAndReload(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 9, 15, 4, 30, 0, time.UTC)}
	st := openStore(t, c)
	ctx := context.Background()
	l := New(st, []config.ClientKey{{Name: "ci", Limits: config.KeyLimits{RequestsPerMinute: 1}}}, Options{Now: c.Now})
	if _, err := l.Admit(ctx, "ci", "m"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admit(ctx, "ci", "m"); err == nil {
		t.Fatal("second request in the minute admitted")
	}
	l.Replace([]config.ClientKey{{Name: "ci", Limits: config.KeyLimits{RequestsPerMinute: 2}}})
	if _, err := l.Admit(ctx, "ci", "m"); err != nil {
		t.Errorf("after a reload to 2 a minute: %v", err)
	}
	if _, err := l.Admit(ctx, "ci", "m"); err == nil {
		t.Error("third request in the minute admitted at 2 a minute")
	}
	c.add(30 * time.Second)
	if _, err := l.Admit(ctx, "ci", "m"); err != nil {
		t.Errorf("next minute: %v", err)
	}
	l.Replace(nil)
	for range 5 {
		if _, err := l.Admit(ctx, "ci", "m"); err != nil {
			t.Fatalf("a key whose limits a reload removed is still limited: %v", err)
		}
	}

	l.Replace([]config.ClientKey{{Name: "ws", Limits: config.KeyLimits{Concurrent: 1}}})
	a, err := l.Admit(ctx, "ws", "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admit(ctx, "ws", "m"); err == nil {
		t.Fatal("a second stream admitted at concurrent 1")
	}
	a.Release()
	a.Release()
	b, err := l.Admit(ctx, "ws", "m")
	if err != nil {
		t.Errorf("after a release: %v", err)
	}
	b.Release()
}

// failingCounter is a store that does not answer.
type failingCounter struct{}

func (failingCounter) CheckLimits(context.Context, string, store.LimitCheck) (store.LimitVerdict, error) {
	return store.LimitVerdict{}, errors.New("dial tcp: connection refused")
}
func (failingCounter) RenewStream(context.Context, string, string, time.Duration) error { return nil }
func (failingCounter) ReleaseStream(context.Context, string, string) error              { return nil }

// TestStoreDownLetsThrough: a store outage must not stop a team's work;
// the lists, which need no store, still hold.
func TestStoreDownLetsThrough(t *testing.T) {
	var logged strings.Builder
	l := New(failingCounter{}, []config.ClientKey{{Name: "ci", Limits: config.KeyLimits{RequestsPerMinute: 1, Models: []string{"gpt-5*"}}}},
		Options{Logger: slogTo(&logged)})
	for range 3 {
		if _, err := l.Admit(context.Background(), "ci", "gpt-5"); err != nil {
			t.Fatalf("refused while the store is down: %v", err)
		}
	}
	if !strings.Contains(logged.String(), "limits not checked") {
		t.Errorf("the outage was not logged: %q", logged.String())
	}
	if _, err := l.Admit(context.Background(), "ci", "o3"); err == nil {
		t.Error("the models list did not hold while the store is down")
	}
}

func slogTo(b *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, nil))
}

func TestAccountFilter(t *testing.T) {
	l := New(nil, []config.ClientKey{
		{Name: "api-only", Limits: config.KeyLimits{Accounts: []string{"openai"}}},
		{Name: "team", Limits: config.KeyLimits{Accounts: []string{"team-*", "shared"}}},
		{Name: "all"},
	}, Options{})
	accounts := []*account.Account{
		{Name: "chatgpt-1", Type: account.OpenAIResponses, Tags: []string{"shared"}},
		{Name: "api-1", Type: account.OpenAI},
		{Name: "team-a", Type: account.OpenAIResponses},
	}
	tests := []struct {
		client string
		want   []string
	}{
		{"api-only", []string{"api-1"}},
		{"team", []string{"chatgpt-1", "team-a"}},
		{"all", []string{"chatgpt-1", "api-1", "team-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			f := l.AccountFilter(tt.client)
			var got []string
			for _, a := range accounts {
				if f.Allows(a) {
					got = append(got, a.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("allowed %v, want %v", got, tt.want)
			}
		})
	}
	got := answerOf(t, l.AccountFilter("api-only").Refuse("gpt-5.5"))
	want := answer{http.StatusForbidden, "", "account_not_allowed", "permission_error",
		`client key "api-only" may be served only by the accounts openai (client_keys[].limits.accounts), and none of them serves model "gpt-5.5"; use a model they serve, or ask the proxy's admin`}
	if got != want {
		t.Errorf("refusal:\n got %+v\nwant %+v", got, want)
	}
}
