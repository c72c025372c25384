package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cooldown keeps an account out of rotation until a time, for a reason.
// Cooldowns live in the store so every instance on one Redis honours a
// limit that any of them saw.
type Cooldown struct {
	Account string    `json:"account"`
	Reason  string    `json:"reason"`  // quota, rate_limit, server_error, network, invalid, ...
	Message string    `json:"message"` // what happened and what to do, for status and the TUI
	Since   time.Time `json:"since"`
	// Until is when the account may be tried again; zero means until its
	// credential changes (an invalid key, a revoked login).
	Until time.Time `json:"until,omitzero"`
	// Credential is the fingerprint of the credential the cooldown is about,
	// so fixing the key in the config ends an "invalid" mark by itself.
	Credential string `json:"credential,omitempty"`
}

// Active reports whether c still keeps its account out at now.
func (c Cooldown) Active(now time.Time) bool {
	return c.Until.IsZero() || now.Before(c.Until)
}

func (s *Store) cooldownsKey() string { return s.prefix + "cooldowns" }

// cooldownsChannel is where every change of a cooldown is published, so the
// other instances learn of it at once instead of at their next sync.
func (s *Store) cooldownsChannel() string { return s.prefix + "cooldowns:changed" }

func (s *Store) failuresKey(account string) string { return s.prefix + "failures:" + account }

// SetCooldown records c, replacing the account's previous cooldown.
func (s *Store) SetCooldown(ctx context.Context, c Cooldown) error {
	if c.Account == "" {
		return errors.New("store: set cooldown: empty account")
	}
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: set cooldown %s: %w", c.Account, err)
	}
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.cooldownsKey(), c.Account, v)
		p.Publish(ctx, s.cooldownsChannel(), v)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set cooldown %s: %w", c.Account, err)
	}
	return nil
}

// ClearCooldown ends the account's cooldown and forgets its recent
// failures: it just served a request.
func (s *Store) ClearCooldown(ctx context.Context, account string) error {
	cleared, _ := json.Marshal(Cooldown{Account: account})
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, s.cooldownsKey(), account)
		p.Del(ctx, s.failuresKey(account))
		p.Publish(ctx, s.cooldownsChannel(), cleared)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: clear cooldown %s: %w", account, err)
	}
	return nil
}

// subscribeTimeout bounds the wait for a subscription to be confirmed, so
// a Redis that is down at start delays nothing for long.
const subscribeTimeout = 2 * time.Second

// WatchCooldowns calls fn with every cooldown any instance sets or clears
// (a cleared one has an empty Reason) until ctx ends. It returns once it is
// subscribed, so no change published after it returns is missed; fn runs
// on one goroutine, in the order the changes were published. A lost
// connection is re-established by the client; what was published meanwhile
// is picked up by the periodic sync.
func (s *Store) WatchCooldowns(ctx context.Context, fn func(Cooldown)) error {
	sub := s.client.Subscribe(ctx, s.cooldownsChannel())
	rctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	if _, err := sub.Receive(rctx); err != nil {
		_ = sub.Close()
		return fmt.Errorf("store: watching cooldowns: %w", err)
	}
	go func() {
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-ch:
				if !ok {
					return
				}
				var c Cooldown
				if json.Unmarshal([]byte(msg.Payload), &c) == nil && c.Account != "" {
					fn(c)
				}
			}
		}
	}()
	return nil
}

// Cooldowns returns every account's cooldown that is still active, in one
// round trip.
func (s *Store) Cooldowns(ctx context.Context) (map[string]Cooldown, error) {
	all, err := s.client.HGetAll(ctx, s.cooldownsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("store: cooldowns: %w", err)
	}
	now := s.now()
	out := make(map[string]Cooldown, len(all))
	for account, v := range all {
		var c Cooldown
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			continue // written by an incompatible version: ignore, it will be overwritten
		}
		if c.Active(now) {
			out[account] = c
		}
	}
	return out, nil
}

// CountFailure counts a failure of the account and returns how many it has
// had with no more than window between one and the next.
func (s *Store) CountFailure(ctx context.Context, account string, window time.Duration) (int64, error) {
	var incr *redis.IntCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, s.failuresKey(account))
		p.PExpire(ctx, s.failuresKey(account), window)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count failure %s: %w", account, err)
	}
	return incr.Val(), nil
}
