package usage_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/usage"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/store"
	"github.com/proxy-dev/proxy/pkg/usagereport"
)

// perMillion prices gpt-5-mini and gpt-5.5 by the million tokens; any
// other model is unpriced.
type perMillion struct{}

func (perMillion) Cost(model string, u store.Usage) (float64, bool) {
	in, out := map[string]float64{"gpt-5-mini": 0.25, "gpt-5.5": 1.25}[model], map[string]float64{"gpt-5-mini": 2, "gpt-5.5": 10}[model]
	if in == 0 {
		return 0, false
	}
	return (float64(u.InputTokens)*in + float64(u.OutputTokens)*out) / 1e6, true
}

// ledgerServer serves the real usage endpoint over a ledger of three days
// of two keys; the bearer names the caller (lead is an admin, ci a user).
func ledgerServer(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	now := cmdtest.TestClock.AddDate(0, 0, -2)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, err := store.Open(ctx, store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	days := []map[store.LedgerKey]store.Usage{
		{{Client: "ci", Account: "api", Model: "gpt-5-mini"}: {Requests: 40, InputTokens: 400_000, CachedTokens: 300_000, OutputTokens: 20_000},
			{Client: "lead", Account: "chatgpt", Model: "gpt-5.5"}: {Requests: 12, InputTokens: 900_000, CachedTokens: 800_000, OutputTokens: 30_000, ReasoningTokens: 9000}},
		nil,
		{{Client: "ci", Account: "api", Model: "gpt-5-mini"}: {Requests: 10, InputTokens: 100_000, OutputTokens: 5000},
			{Client: "lead", Account: "chatgpt", Model: "gpt-5.5"}: {Requests: 30, InputTokens: 2_400_000, CachedTokens: 2_000_000, OutputTokens: 80_000, ReasoningTokens: 20_000},
			{Client: "lead", Account: "api", Model: "local-llama"}: {Requests: 3, InputTokens: 3000, OutputTokens: 300}},
	}
	for _, lines := range days {
		if err := st.AddLedger(ctx, lines, 0); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.AddDate(0, 0, 1)
		mu.Unlock()
	}
	mu.Lock()
	now = cmdtest.TestClock
	mu.Unlock()
	a := admin.New(admin.Options{Store: st, Bus: event.NewBus(), Prices: perMillion{}, Now: clock})
	t.Cleanup(a.Close)
	callers := map[string]identity.Caller{"Bearer lead-key": {Name: "lead", Role: identity.Admin}, "Bearer ci-key": {Name: "ci", Role: identity.User}}
	return cmdtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := callers[r.Header.Get("Authorization")]
		if !ok {
			http.Error(w, `{"error":{"message":"invalid client key"}}`, http.StatusUnauthorized)
			return
		}
		a.ServeHTTP(w, r.WithContext(identity.With(r.Context(), c)))
	})).URL
}

func TestUsageGolden(t *testing.T) {
	url := ledgerServer(t)
	tests := []struct {
		name, key string
		tty       bool
		opts      usage.Options
	}{
		{name: "usage-by-key-tty", key: "lead-key", tty: true},
		{name: "usage-by-account-model-piped", key: "lead-key", opts: usage.Options{By: []string{"account,model"}}},
		{name: "usage-by-day-key-json", key: "lead-key", opts: usage.Options{By: []string{"day", "key"}, JSON: true}},
		{name: "usage-by-model-csv", key: "lead-key", opts: usage.Options{By: []string{"model"}, CSV: true}},
		{name: "usage-user-key-tty", key: "ci-key", tty: true, opts: usage.Options{By: []string{"key,model"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, _ := cmdtest.IO(map[string]string{"PROXY_API_KEY": tt.key}, tt.tty)
			opts := tt.opts
			opts.IO, opts.Addr, opts.Since, opts.ChartWidth = ios, url, "7d", 40
			if err := usage.RunUsage(context.Background(), &opts); err != nil {
				t.Fatal(err)
			}
			cmdtest.AssertGolden(t, tt.name+".golden", out.String())
		})
	}
}

// TestUserKeySeesItsOwn: a user key's JSON holds its own rows only, and
// an admin's holds both keys'.
func TestUserKeySeesItsOwn(t *testing.T) {
	url := ledgerServer(t)
	rows := func(key string) []usagereport.Row {
		t.Helper()
		ios, out, _ := cmdtest.IO(map[string]string{"PROXY_API_KEY": key}, false)
		if err := usage.RunUsage(context.Background(), &usage.Options{IO: ios, Addr: url, Since: "7d", JSON: true}); err != nil {
			t.Fatal(err)
		}
		var rs []usagereport.Row
		if err := json.Unmarshal([]byte(out.String()), &rs); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return rs
	}
	if rs := rows("ci-key"); len(rs) != 1 || *rs[0].Key != "ci" || rs[0].Requests != 50 {
		t.Errorf("ci sees %+v", rs)
	}
	if rs := rows("lead-key"); len(rs) != 2 {
		t.Errorf("lead sees %d rows, want both keys'", len(rs))
	}
}

func TestUsageRefusals(t *testing.T) {
	url := ledgerServer(t)
	tests := []struct {
		name string
		opts usage.Options
		want string
	}{
		{"unknown grouping", usage.Options{By: []string{"user"}}, `--by "user" is not one of key, account, model, day`},
		{"bad since", usage.Options{Since: "last week"}, `since "last week" is neither a number of days (7d) nor a date (2006-01-02)`},
		{"two formats", usage.Options{JSON: true, CSV: true}, "--json and --csv are two formats: choose one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _ := cmdtest.IO(map[string]string{"PROXY_API_KEY": "lead-key"}, false)
			opts := tt.opts
			opts.IO, opts.Addr = ios, url
			if opts.Since == "" {
				opts.Since = "7d"
			}
			err := usage.RunUsage(context.Background(), &opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
