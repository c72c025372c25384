package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// usageRetention is how long a day's counters outlive their last write:
// long enough to show yesterday's totals in any time zone, short enough that
// counters of removed accounts do not pile up.
const usageRetention = 72 * time.Hour

// Usage is what an account served: requests and tokens.
type Usage struct {
	Requests        int64
	InputTokens     int64
	CachedTokens    int64
	OutputTokens    int64
	ReasoningTokens int64
}

// Hash fields of a usage key, in Usage's order.
var usageFields = [...]string{"requests", "input", "cached", "output", "reasoning"}

func (u Usage) values() [len(usageFields)]int64 {
	return [...]int64{u.Requests, u.InputTokens, u.CachedTokens, u.OutputTokens, u.ReasoningTokens}
}

// AddUsage adds u to the account's counters for the current UTC day. It adds
// exactly what it is given: a caller recording one request sets Requests to 1.
// One round trip; MULTI/EXEC so a reader never sees half a request.
func (s *Store) AddUsage(ctx context.Context, account string, u Usage) error {
	if account == "" {
		return errors.New("store: add usage: empty account")
	}
	if u == (Usage{}) {
		return nil
	}
	key := s.usageKey(account, s.now())
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, v := range u.values() {
			if v != 0 {
				p.HIncrBy(ctx, key, usageFields[i], v)
			}
		}
		p.Expire(ctx, key, usageRetention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add usage %s: %w", account, err)
	}
	return nil
}

// UsageToday returns the account's counters for the current UTC day; zero
// when it served nothing yet.
func (s *Store) UsageToday(ctx context.Context, account string) (Usage, error) {
	vals, err := s.client.HMGet(ctx, s.usageKey(account, s.now()), usageFields[:]...).Result()
	if err != nil {
		return Usage{}, fmt.Errorf("store: usage %s: %w", account, err)
	}
	var n [len(usageFields)]int64
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // field never incremented
		}
		if n[i], err = strconv.ParseInt(str, 10, 64); err != nil {
			return Usage{}, fmt.Errorf("store: usage %s field %s: %w", account, usageFields[i], err)
		}
	}
	return Usage{n[0], n[1], n[2], n[3], n[4]}, nil
}
