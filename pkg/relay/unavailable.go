package relay

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/scheduler"
)

// outOrBack reports whether any account is cooling down or just came back:
// then the pool's state, not the last attempt's failure, explains the
// answer.
func outOrBack(e *scheduler.UnavailableError) bool {
	return len(e.Reasons) > 0 || e.Back > 0
}

// unavailableError is the answer when no account serving the request's
// model can take it: each cause is named with how many accounts it holds
// (cooling down and until when, invalid, busy, failed by this request), so
// the user is never told that no account serves the model when some do.
func unavailableError(e *scheduler.UnavailableError, rec *event.Decision, now time.Time) *apierror.Error {
	if e.AllQuota {
		out := apierror.New(http.StatusTooManyRequests, "usage_limit_reached",
			"all accounts are limited until "+e.Until.Local().Format(time.RFC1123)+"; try again then, or add an account to the proxy").WithCode("usage_limit_reached")
		out.ResetsAt = e.Until.Unix()
		out.RetryAfter = max(e.Until.Sub(now), time.Second)
		return out
	}
	busy := min(busyAttempts(rec), e.Tried)
	failed := e.Tried - busy
	if busy > 0 && failed == 0 && !outOrBack(e) {
		out := apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount,
			"every account that can serve this request is at its max_concurrency; retry in a moment, or raise max_concurrency or add an account").WithCode("accounts_busy")
		out.RetryAfter = time.Second
		return out
	}

	var parts []string
	invalid := e.Reasons["invalid"]
	if cooling := coolingReasons(e.Reasons); cooling != "" {
		part := fmt.Sprintf("%d cooling down (%s)", count(e.Reasons)-invalid, cooling)
		if !e.Until.IsZero() {
			part += ", the first back at " + e.Until.Local().Format(time.TimeOnly)
		}
		parts = append(parts, part)
	}
	if invalid > 0 {
		parts = append(parts, fmt.Sprintf("%d invalid (its key or login was refused; fix it and reload the proxy)", invalid))
	}
	if busy > 0 {
		parts = append(parts, fmt.Sprintf("%d at max_concurrency", busy))
	}
	if failed > 0 {
		part := fmt.Sprintf("%d failed this request", failed)
		if last := lastFailure(rec); last != "" {
			part += " (last: " + last + ")"
		}
		parts = append(parts, part)
	}
	if e.Back > 0 {
		parts = append(parts, fmt.Sprintf("%d just out of a cooldown (retry now)", e.Back))
	}
	msg := fmt.Sprintf("no available account for %s: %s; run `proxy accounts list` to see why, and `proxy accounts test` to check them",
		modelWords(rec.Model), strings.Join(parts, "; "))
	out := apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount, msg).WithCode(apierror.TypeNoAvailableAccount)
	if !e.Until.IsZero() {
		out.RetryAfter = max(e.Until.Sub(now), time.Second)
	}
	if busy > 0 || e.Back > 0 {
		// A slot or an account is free again in a moment, sooner than any
		// cooldown ends.
		out.RetryAfter = time.Second
	}
	return out
}

// lastFailure names the last attempt that failed other than busy, with
// its (redacted) error.
func lastFailure(rec *event.Decision) string {
	for i := len(rec.Attempts) - 1; i >= 0; i-- {
		if a := rec.Attempts[i]; a.Class != "busy" {
			return a.Account + ": " + a.Error
		}
	}
	return ""
}

// coolingReasons lists the cooldowns' reasons other than invalid, with
// their counts, in a stable order: "rate_limit", or "1 overloaded, 2 quota".
func coolingReasons(reasons map[string]int) string {
	var keys []string
	for k := range reasons {
		if k != "invalid" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 1 {
		return keys[0]
	}
	words := make([]string, len(keys))
	for i, k := range keys {
		words[i] = fmt.Sprintf("%d %s", reasons[k], k)
	}
	return strings.Join(words, ", ")
}

// count sums the accounts counted by reason.
func count(reasons map[string]int) int {
	n := 0
	for _, c := range reasons {
		n += c
	}
	return n
}

// modelWords names the request's model in a message.
func modelWords(model string) string {
	if model == "" {
		return "this request"
	}
	return fmt.Sprintf("model %q", model)
}
