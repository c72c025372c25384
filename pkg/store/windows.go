package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// windowsRetention is how long the windows outlive their last write: past
// the longest window an upstream reports (a week), numbers that old say
// nothing, and the accounts of a proxy stopped for good leave nothing behind.
const windowsRetention = 8 * 24 * time.Hour

// Window is one rate-limit window an account reported: how much of it was
// used and when it starts again.
type Window struct {
	UsedPercent   float64   `json:"used_percent"`
	WindowMinutes int       `json:"window_minutes,omitempty"`
	ResetsAt      time.Time `json:"resets_at,omitzero"`
}

// UsedAt is the used share of w at now: 0 once its reset time has passed,
// and 0 for a window not reported (nil).
func (w *Window) UsedAt(now time.Time) float64 {
	if w == nil || (!w.ResetsAt.IsZero() && !now.Before(w.ResetsAt)) {
		return 0
	}
	return w.UsedPercent
}

// Limits are the rate-limit windows of an account's last response that
// carried any, and when that response was seen.
type Limits struct {
	Primary   *Window   `json:"primary,omitempty"`
	Secondary *Window   `json:"secondary,omitempty"`
	Observed  time.Time `json:"observed"`
}

func (s *Store) windowsKey() string { return s.prefix + "windows" }

// SetWindows records the account's last observed windows, replacing what
// any instance wrote before, so every instance on one Redis steers new
// conversations by the same numbers.
func (s *Store) SetWindows(ctx context.Context, account string, l Limits) error {
	if account == "" {
		return errors.New("store: set windows: empty account")
	}
	v, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("store: set windows %s: %w", account, err)
	}
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.windowsKey(), account, v)
		p.Expire(ctx, s.windowsKey(), windowsRetention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set windows %s: %w", account, err)
	}
	return nil
}

// Windows returns every account's last recorded windows, in one round trip.
func (s *Store) Windows(ctx context.Context) (map[string]Limits, error) {
	all, err := s.client.HGetAll(ctx, s.windowsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("store: windows: %w", err)
	}
	out := make(map[string]Limits, len(all))
	for account, v := range all {
		var l Limits
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			continue // written by an incompatible version: ignore, it will be overwritten
		}
		out[account] = l
	}
	return out, nil
}
