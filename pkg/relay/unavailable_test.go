package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/pool"
	"github.com/proxy-dev/proxy/pkg/scheduler"
)

// scriptedPool answers each Lease with the next of its results: an account
// found busy, or a selection error.
type scriptedPool struct {
	fakePool
	results []leaseResult
}

type leaseResult struct {
	busy *account.Account
	err  error
}

func (p *scriptedPool) Lease(context.Context, scheduler.Request, time.Duration) (*pool.Lease, error) {
	r := p.results[0]
	if len(p.results) > 1 {
		p.results = p.results[1:]
	}
	if r.busy != nil {
		return pool.NewLease(scheduler.Decision{Account: r.busy}, nil), fmt.Errorf("account %s: %w", r.busy.Name, pool.ErrBusy)
	}
	return &pool.Lease{}, r.err
}

// TestUnavailableNamesTheCause: a request no account can take is told
// each cause (cooling down and until when, invalid, busy), with a
// Retry-After when there is one, and "no account serves the model" only
// when that is so.
func TestUnavailableNamesTheCause(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	busy := testAccount(t, "busy", newUpstream(t, healthy("busy")))
	tests := []struct {
		name       string
		results    []leaseResult
		wantStatus int
		wantCode   string
		wantRetry  string
		want       []string // in the message
		notWant    []string
	}{
		{name: "cooling down", results: []leaseResult{{err: &scheduler.UnavailableError{Reasons: map[string]int{"rate_limit": 1, "overloaded": 1}, Until: now.Add(30 * time.Second)}}},
			wantStatus: 503, wantCode: "no_available_account", wantRetry: "30",
			want: []string{`no available account for model "gpt-5": 2 cooling down (1 overloaded, 1 rate_limit), the first back at ` + now.Add(30*time.Second).Local().Format(time.TimeOnly)}},
		{name: "cooling down and invalid", results: []leaseResult{{err: &scheduler.UnavailableError{Reasons: map[string]int{"rate_limit": 1, "invalid": 1}, Until: now.Add(time.Minute)}}},
			wantStatus: 503, wantCode: "no_available_account", wantRetry: "60",
			want: []string{"1 cooling down (rate_limit)", "1 invalid (its key or login was refused"}},
		{name: "busy and cooling down", results: []leaseResult{{busy: busy}, {err: &scheduler.UnavailableError{Reasons: map[string]int{"quota": 1}, Until: now.Add(time.Hour), Tried: 1}}},
			wantStatus: 503, wantCode: "no_available_account", wantRetry: "1",
			want: []string{"1 cooling down (quota)", "1 at max_concurrency"}, notWant: []string{"failed"}},
		{name: "cooldowns ended while placing the request", results: []leaseResult{{err: &scheduler.UnavailableError{Reasons: map[string]int{}, Back: 2}}},
			wantStatus: 503, wantCode: "no_available_account", wantRetry: "1",
			want: []string{"2 just out of a cooldown"}},
		{name: "every account busy", results: []leaseResult{{busy: busy}, {err: &scheduler.UnavailableError{Reasons: map[string]int{}, Tried: 1}}},
			wantStatus: 503, wantCode: "accounts_busy", wantRetry: "1",
			want: []string{"at its max_concurrency"}},
		{name: "every account out of quota", results: []leaseResult{{err: &scheduler.UnavailableError{AllQuota: true, Reasons: map[string]int{"quota": 2}, Until: now.Add(time.Hour)}}},
			wantStatus: 429, wantCode: "usage_limit_reached", wantRetry: "3600",
			want: []string{"all accounts are limited until"}},
		{name: "no account serves the model", results: []leaseResult{{err: scheduler.ErrNoAccount}},
			wantStatus: 503, wantCode: "no_available_account",
			want: []string{`no enabled account in the proxy's config serves model "gpt-5"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl := New(&scriptedPool{results: tt.results}, nil, Options{Now: func() time.Time { return now }})
			resp, body := post(t, rl.Handler("/responses"), "conv", nil)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, `"code":"`+tt.wantCode+`"`) {
				t.Fatalf("got %d, want %d %s:\n%s", resp.StatusCode, tt.wantStatus, tt.wantCode, body)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.wantRetry {
				t.Fatalf("Retry-After %q, want %q", got, tt.wantRetry)
			}
			var e struct {
				Error struct{ Message string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("not OpenAI-shaped: %v\n%s", err, body)
			}
			msg := e.Error.Message
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Fatalf("message lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(msg, w) {
					t.Fatalf("message has %q:\n%s", w, body)
				}
			}
		})
	}
}
