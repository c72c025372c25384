package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/store"
	"github.com/proxy-dev/proxy/pkg/usagereport"
)

// usagePath is where the ledger is served.
const usagePath = "/_proxy/usage"

// minUsageDays is how far back a request may always read: the default
// retention. A longer configured retention allows as far as it keeps, so
// one request reads at most a day's hash per day kept.
const minUsageDays = 90

// UsageLine is one line of GET /_proxy/usage (see usagereport.Line).
type UsageLine = usagereport.Line

// UsageList is the body of GET /_proxy/usage.
type UsageList struct {
	Object string      `json:"object"` // "list"
	Since  string      `json:"since"`  // the first day read, 2006-01-02
	Today  string      `json:"today"`  // the server's UTC day, the last read
	Data   []UsageLine `json:"data"`
}

// Pricer prices what a model served; ok false when the model has none.
type Pricer interface {
	Cost(model string, u store.Usage) (usd float64, ok bool)
}

// serveUsage answers GET /_proxy/usage?since=7d (a number of days, or a
// date 2006-01-02; today when absent): the ledger's lines since then, a
// user key's own only.
func (a *Admin) serveUsage(w http.ResponseWriter, r *http.Request) {
	now := a.o.Now()
	since, err := parseSince(r.URL.Query().Get("since"), now, max(minUsageDays, int(a.o.UsageRetention/(24*time.Hour))))
	if err != nil {
		apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, err.Error()).WithParam("since").WithCode("invalid_since").Write(w)
		return
	}
	lines, err := a.o.Store.Ledger(r.Context(), since)
	if err != nil {
		apierror.New(http.StatusServiceUnavailable, apierror.TypeServer, "reading the usage ledger: "+err.Error()).WithCode("store_unavailable").Write(w)
		return
	}
	caller := identity.From(r.Context())
	out := UsageList{Object: "list", Since: since.UTC().Format("2006-01-02"), Today: now.UTC().Format("2006-01-02"), Data: make([]UsageLine, 0, len(lines))}
	for _, l := range lines {
		if !caller.Owns(l.Client) {
			continue
		}
		line := UsageLine{Day: l.Day.Format("2006-01-02"), Key: l.Client, Account: l.Account, Model: l.Model,
			Requests: l.Requests, InputTokens: l.InputTokens, CachedTokens: l.CachedTokens, OutputTokens: l.OutputTokens, ReasoningTokens: l.ReasoningTokens}
		if a.o.Prices != nil {
			if usd, ok := a.o.Prices.Cost(l.Model, l.Usage); ok {
				line.CostUSD = &usd
			}
		}
		out.Data = append(out.Data, line)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// parseSince reads since: "7d" (the last seven days, today included), a
// date, or "" for today.
func parseSince(v string, now time.Time, maxUsageDays int) (time.Time, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	switch {
	case v == "":
		return today, nil
	case strings.HasSuffix(v, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
		if err != nil || n < 1 || n > maxUsageDays {
			return time.Time{}, fmt.Errorf("since %q is not a number of days from 1 to %d, like 7d", v, maxUsageDays)
		}
		return today.AddDate(0, 0, 1-n), nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q is neither a number of days (7d) nor a date (2006-01-02)", v)
	}
	if today.Sub(d) > time.Duration(maxUsageDays)*24*time.Hour {
		return time.Time{}, fmt.Errorf("since %s is more than %d days ago, as far as the ledger keeps (usage.retention)", v, maxUsageDays)
	}
	return d, nil
}
