package health

import (
	"net/http"
	"strconv"
	"time"
)

// Window is one rate-limit window a ChatGPT account reports.
type Window struct {
	UsedPercent   float64   `json:"used_percent"`
	WindowMinutes int       `json:"window_minutes,omitempty"`
	ResetsAt      time.Time `json:"resets_at,omitzero"`
}

// Limits are the rate-limit windows from an account's last response.
type Limits struct {
	Primary   *Window   `json:"primary,omitempty"`
	Secondary *Window   `json:"secondary,omitempty"`
	Observed  time.Time `json:"observed"`
}

// ParseLimits reads the x-codex-* rate-limit windows a ChatGPT account
// reports on a response; ok is false when it carries none.
func ParseLimits(h http.Header, now time.Time) (l Limits, ok bool) {
	l = Limits{Primary: window(h, "primary"), Secondary: window(h, "secondary")}
	if l.Primary == nil && l.Secondary == nil {
		return Limits{}, false
	}
	l.Observed = now
	return l, true
}

// ObserveLimits remembers the x-codex-* rate-limit windows of a response,
// if it carried any.
func (t *Tracker) ObserveLimits(name string, h http.Header) {
	l, ok := ParseLimits(h, t.now())
	if !ok {
		return
	}
	t.mu.Lock()
	t.limits[name] = l
	t.mu.Unlock()
}

// Limits returns the account's last reported windows.
func (t *Tracker) Limits(name string) (Limits, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	l, ok := t.limits[name]
	return l, ok
}

func window(h http.Header, which string) *Window {
	p := "X-Codex-" + which + "-"
	used, err := strconv.ParseFloat(h.Get(p+"Used-Percent"), 64)
	if err != nil {
		return nil
	}
	w := &Window{UsedPercent: used}
	w.WindowMinutes, _ = strconv.Atoi(h.Get(p + "Window-Minutes"))
	if at, err := strconv.ParseInt(h.Get(p+"Reset-At"), 10, 64); err == nil {
		w.ResetsAt = time.Unix(at, 0).UTC()
	}
	return w
}
