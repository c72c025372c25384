package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/store"
)

// fixedPrices prices gpt-5 only: a dollar a request.
type fixedPrices struct{}

func (fixedPrices) Cost(model string, u store.Usage) (float64, bool) {
	if model != "gpt-5" {
		return 0, false
	}
	return float64(u.Requests), true
}

// TestUsage: the ledger's lines since a day, priced where the model has a
// price and null where not; a user key gets its own lines only.
func TestUsage(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	st, err := store.Open(ctx, store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.AddLedger(ctx, map[store.LedgerKey]store.Usage{
		{Client: "ci", Account: "api", Model: "gpt-5"}:       {Requests: 2, InputTokens: 100},
		{Client: "lead", Account: "chatgpt", Model: "o-new"}: {Requests: 1, OutputTokens: 7},
	}, 0); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Store: st, Bus: event.NewBus(), Prices: fixedPrices{}, Now: func() time.Time { return now }})
	srv := httptest.NewServer(asCaller(a))
	t.Cleanup(func() { a.Close(); srv.Close() })
	get := func(query, caller string) (int, UsageList) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+usagePath+query, nil)
		if caller != "" {
			req.Header.Set("X-Test-Caller", caller)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var l UsageList
		_ = json.NewDecoder(resp.Body).Decode(&l)
		return resp.StatusCode, l
	}
	code, all := get("?since=7d", "lead/admin")
	if code != 200 || all.Since != "2026-12-01" || len(all.Data) != 2 {
		t.Fatalf("admin: %d %+v", code, all)
	}
	for _, l := range all.Data {
		switch l.Model {
		case "gpt-5":
			if l.CostUSD == nil || *l.CostUSD != 2 || l.Key != "ci" || l.InputTokens != 100 || l.Day != "2026-12-07" {
				t.Errorf("priced line = %+v", l)
			}
		default:
			if l.CostUSD != nil {
				t.Errorf("an unknown model is priced: %+v", l)
			}
		}
	}
	if _, own := get("", "ci/user"); len(own.Data) != 1 || own.Data[0].Key != "ci" {
		t.Errorf("user key sees %+v; want its own line", own.Data)
	}
	for _, q := range []string{"?since=0d", "?since=400d", "?since=yesterday", "?since=2020-01-01"} {
		if code, _ := get(q, "lead/admin"); code != http.StatusBadRequest {
			t.Errorf("%s = %d, want 400", q, code)
		}
	}
}
