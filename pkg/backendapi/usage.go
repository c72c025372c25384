package backendapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/status"
)

// Usage is GET /wham/usage's answer in the ChatGPT backend's shape, as
// Codex decodes it (plan_type is required; an unknown value is accepted).
type Usage struct {
	PlanType  string    `json:"plan_type"`
	RateLimit RateLimit `json:"rate_limit"`
	// Credits is always null: the pool has no credits to offer.
	Credits *struct{} `json:"credits"`
}

// RateLimit is the pool's two windows: the five hours and the week of its
// ChatGPT accounts.
type RateLimit struct {
	Allowed      bool    `json:"allowed"`
	LimitReached bool    `json:"limit_reached"`
	Primary      *Window `json:"primary_window"`
	Secondary    *Window `json:"secondary_window"`
}

// Window is one window of the pool. Reset times are absent when no
// account has used any of it: nothing then frees room.
type Window struct {
	UsedPercent        float64 `json:"used_percent"`
	LimitWindowSeconds int64   `json:"limit_window_seconds,omitempty"`
	ResetAfterSeconds  *int64  `json:"reset_after_seconds,omitempty"`
	ResetAt            *int64  `json:"reset_at,omitempty"`
}

// unknownPlan is plan_type when the pool's accounts do not share one.
const unknownPlan = "unknown"

// PoolUsage is what the pool has left as Usage: the ChatGPT accounts that
// can serve, from status.Pool, so Codex shows the numbers `proxy accounts
// list` prints (the share used is 100 minus the share left as shown
// there). It names no account. An API account's windows are not Codex's
// to show; with no ChatGPT account reporting, both windows are null and
// Codex says it has no data yet.
func PoolUsage(entries []status.Account, now time.Time) Usage {
	u := Usage{PlanType: plan(entries), RateLimit: RateLimit{Allowed: true}}
	for _, w := range status.Pool(entries, now) {
		if w.Kind != status.KindChatGPT {
			continue
		}
		out := &Window{UsedPercent: 100 - w.LeftPercent, LimitWindowSeconds: int64(w.WindowMinutes) * 60}
		if !w.ResetsAt.IsZero() {
			at, after := w.ResetsAt.Unix(), int64(w.ResetsAt.Sub(now)/time.Second)
			out.ResetAt, out.ResetAfterSeconds = &at, &after
		}
		if w.Full {
			u.RateLimit.LimitReached, u.RateLimit.Allowed = true, false
		}
		if w.Secondary {
			u.RateLimit.Secondary = out
		} else {
			u.RateLimit.Primary = out
		}
	}
	return u
}

// plan is the plan every ChatGPT account that can serve names, or
// unknownPlan when they name none or several.
func plan(entries []status.Account) string {
	p := ""
	for _, e := range entries {
		if e.Type == config.TypeOpenAI || !e.Counts() {
			continue
		}
		switch {
		case e.Plan == "":
			return unknownPlan
		case p == "":
			p = e.Plan
		case p != e.Plan:
			return unknownPlan
		}
	}
	if p == "" {
		return unknownPlan
	}
	return p
}

func serveUsage(w http.ResponseWriter, _ *http.Request, o Options) {
	writeJSON(w, PoolUsage(o.Accounts(), o.Now()))
}

// ResetCredits is GET /wham/rate-limit-reset-credits's answer: the pool
// offers none (an account's credits are its owner's to spend, not a
// proxy user's), in the shape Codex decodes without a warning.
type ResetCredits struct {
	AvailableCount int        `json:"available_count"`
	Credits        []struct{} `json:"credits"`
}

func serveResetCredits(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, ResetCredits{Credits: []struct{}{}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
