package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultLedgerRetention is how long a day of the usage ledger is kept
// unless the config says otherwise.
const DefaultLedgerRetention = 90 * 24 * time.Hour

// LedgerKey is what one line of the usage ledger counts for, within a UTC
// day: the client key that sent the requests ("" when the proxy checks no
// keys), the account that served them and the model they named.
type LedgerKey struct {
	Client, Account, Model string
}

// LedgerEntry is one line of the ledger: a day, what it counts for, and
// what was served.
type LedgerEntry struct {
	Day time.Time // midnight UTC
	LedgerKey
	Usage
}

// ledgerSep joins a line's names in its hash field: a byte no key, account
// or model name holds (the config and the model bound refuse control
// characters).
const ledgerSep = "\x1f"

// AddLedger adds each line's usage to the ledger of the current UTC day, in
// one round trip (MULTI/EXEC: a reader never sees half a flush). The day
// lives retention past its last write.
func (s *Store) AddLedger(ctx context.Context, lines map[LedgerKey]Usage, retention time.Duration) error {
	if len(lines) == 0 {
		return nil
	}
	if retention <= 0 {
		retention = DefaultLedgerRetention
	}
	key := s.ledgerKey(s.now())
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for k, u := range lines {
			if k.Account == "" {
				return errors.New("store: add ledger: empty account")
			}
			base := k.Client + ledgerSep + k.Account + ledgerSep + k.Model + ledgerSep
			for i, v := range u.values() {
				if v != 0 {
					p.HIncrBy(ctx, key, base+usageFields[i], v)
				}
			}
		}
		// A day is kept its retention past its last write; the day
		// itself is in the key, so nothing later moves it.
		p.Expire(ctx, key, retention+24*time.Hour)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add ledger: %w", err)
	}
	return nil
}

// Ledger returns the ledger's lines from the UTC day of since to today, in
// one round trip, ordered by day, then client, account and model. Days
// past their retention are gone and give nothing.
func (s *Store) Ledger(ctx context.Context, since time.Time) ([]LedgerEntry, error) {
	today := dayOf(s.now())
	first := dayOf(since)
	if first.After(today) {
		return nil, nil
	}
	var days []time.Time
	for d := first; !d.After(today); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	cmds := make([]*redis.MapStringStringCmd, len(days))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HGetAll(ctx, s.ledgerKey(d))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: ledger: %w", err)
	}
	var out []LedgerEntry
	for i, d := range days {
		fields, err := cmds[i].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("store: ledger %s: %w", d.Format("2006-01-02"), err)
		}
		lines := map[LedgerKey]*Usage{}
		for f, v := range fields {
			parts := strings.Split(f, ledgerSep)
			if len(parts) != 4 {
				continue // not a field this version writes
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("store: ledger %s field %q: %w", d.Format("2006-01-02"), f, err)
			}
			k := LedgerKey{Client: parts[0], Account: parts[1], Model: parts[2]}
			u := lines[k]
			if u == nil {
				u = &Usage{}
				lines[k] = u
			}
			u.set(parts[3], n)
		}
		start := len(out)
		for k, u := range lines {
			out = append(out, LedgerEntry{Day: d, LedgerKey: k, Usage: *u})
		}
		day := out[start:]
		sort.Slice(day, func(a, b int) bool {
			x, y := day[a].LedgerKey, day[b].LedgerKey
			if x.Client != y.Client {
				return x.Client < y.Client
			}
			if x.Account != y.Account {
				return x.Account < y.Account
			}
			return x.Model < y.Model
		})
	}
	return out, nil
}

// set sets the counter named field.
func (u *Usage) set(field string, n int64) {
	switch field {
	case "requests":
		u.Requests = n
	case "input":
		u.InputTokens = n
	case "cached":
		u.CachedTokens = n
	case "output":
		u.OutputTokens = n
	case "reasoning":
		u.ReasoningTokens = n
	}
}

// dayOf is t's UTC day, at midnight.
func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *Store) ledgerKey(day time.Time) string {
	return s.prefix + "ledger:" + day.UTC().Format("20060102")
}
