package health

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// Window is one rate-limit window an account reports. It is the store's
// type, so what one instance observed reads back the same everywhere.
type Window = store.Window

// Limits are the rate-limit windows from an account's last response.
type Limits = store.Limits

// windowsWriteEvery bounds how often one account's windows are written to
// the store: every response carries them, but numbers a few seconds old
// steer new conversations as well as fresh ones.
const windowsWriteEvery = 5 * time.Second

// WindowStore shares the accounts' observed windows between instances.
// *store.Store implements it; a Store without it keeps them local.
type WindowStore interface {
	SetWindows(ctx context.Context, account string, l store.Limits) error
	Windows(ctx context.Context) (map[string]store.Limits, error)
}

// ParseLimits reads the rate-limit windows a response reports; ok is false
// when it carries none. ChatGPT accounts send x-codex-primary-* and
// x-codex-secondary-* (used percent, window, reset time). API accounts send
// x-ratelimit-limit-*, -remaining-* and -reset-* for requests and tokens:
// the requests window becomes Primary and the tokens window Secondary, each
// as the share used.
func ParseLimits(h http.Header, now time.Time) (l Limits, ok bool) {
	l = Limits{Primary: codexWindow(h, "primary"), Secondary: codexWindow(h, "secondary")}
	if l.Primary == nil && l.Secondary == nil {
		l = Limits{Primary: apiWindow(h, "requests", now), Secondary: apiWindow(h, "tokens", now)}
	}
	if l.Primary == nil && l.Secondary == nil {
		return Limits{}, false
	}
	l.Observed = now
	return l, true
}

// ObserveLimits remembers the rate-limit windows of a response, if it
// carried any. They reach the store with the next Sync, not on the request
// path.
func (t *Tracker) ObserveLimits(name string, h http.Header) {
	l, ok := ParseLimits(h, t.now())
	if !ok {
		return
	}
	t.mu.Lock()
	t.limits[name] = l
	t.unwritten[name] = true
	t.mu.Unlock()
}

// Limits returns the account's last reported windows, observed here or by
// another instance sharing the store.
func (t *Tracker) Limits(name string) (Limits, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	l, ok := t.limits[name]
	return l, ok
}

// UsedPercent returns how much of its tightest window the account has used,
// as last observed: the larger of its windows, a window whose reset time
// has passed counting as unused. ok is false when nothing was observed.
// The scheduler steers new conversations by it.
func (t *Tracker) UsedPercent(name string) (float64, bool) {
	l, ok := t.Limits(name)
	if !ok {
		return 0, false
	}
	now := t.now()
	return max(l.Primary.UsedAt(now), l.Secondary.UsedAt(now)), true
}

// syncWindows writes the windows observed here since their last write (at
// most one write per account every windowsWriteEvery), then takes in what
// other instances wrote where it is newer than what this one saw.
func (t *Tracker) syncWindows(ctx context.Context, ws WindowStore) error {
	now := t.now()
	type write struct {
		name string
		l    Limits
	}
	var writes []write
	t.mu.RLock()
	for name := range t.unwritten {
		if last, ok := t.written[name]; !ok || now.Sub(last) >= windowsWriteEvery {
			writes = append(writes, write{name, t.limits[name]})
		}
	}
	t.mu.RUnlock()
	var firstErr error
	for _, w := range writes {
		if err := ws.SetWindows(ctx, w.name, w.l); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		t.mu.Lock()
		t.written[w.name] = now
		if t.limits[w.name].Observed.Equal(w.l.Observed) {
			delete(t.unwritten, w.name)
		}
		t.mu.Unlock()
	}
	all, err := ws.Windows(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	for name, l := range all {
		if mine, ok := t.limits[name]; !ok || l.Observed.After(mine.Observed) {
			t.limits[name] = l
		}
	}
	t.mu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("writing windows: %w", firstErr)
	}
	return nil
}

func codexWindow(h http.Header, which string) *Window {
	p := "X-Codex-" + which + "-"
	used, err := strconv.ParseFloat(h.Get(p+"Used-Percent"), 64)
	if err != nil || math.IsNaN(used) {
		return nil
	}
	w := &Window{UsedPercent: used}
	w.WindowMinutes, _ = strconv.Atoi(h.Get(p + "Window-Minutes"))
	if at, err := strconv.ParseInt(h.Get(p+"Reset-At"), 10, 64); err == nil {
		w.ResetsAt = time.Unix(at, 0).UTC()
	}
	return w
}

// apiWindow turns x-ratelimit-{limit,remaining,reset}-<what> into a window:
// the share of the limit used, and when it is whole again. The reset is a
// duration ("6m0s", "20ms") as OpenAI sends it, or seconds as some
// compatible APIs do.
func apiWindow(h http.Header, what string, now time.Time) *Window {
	limit, err := strconv.ParseFloat(h.Get("X-Ratelimit-Limit-"+what), 64)
	if err != nil || !(limit > 0) || math.IsInf(limit, 0) {
		return nil
	}
	remaining, err := strconv.ParseFloat(h.Get("X-Ratelimit-Remaining-"+what), 64)
	if err != nil || math.IsNaN(remaining) {
		return nil
	}
	used := 100 * (limit - min(max(remaining, 0), limit)) / limit
	w := &Window{UsedPercent: math.Round(used*10) / 10}
	if d, ok := parseReset(h.Get("X-Ratelimit-Reset-" + what)); ok {
		w.ResetsAt = now.Add(d).UTC()
	}
	return w
}

func parseReset(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, true
	}
	if sec, err := strconv.ParseFloat(s, 64); err == nil && sec >= 0 && sec < 1e9 {
		return time.Duration(sec * float64(time.Second)), true
	}
	return 0, false
}
