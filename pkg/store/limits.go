package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The limits of a client key are counted here, so every instance sharing
// the store counts the same requests, streams and spending. A key's
// counters share a hash tag, so one script reaches them all on a cluster.

// LimitCheck is what one request of a client key must stay within. A zero
// field is no limit.
type LimitCheck struct {
	RequestsPerMinute int64
	TokensPerDay      int64
	TokensPerWeek     int64
	MicroUSDPerMonth  int64
	Concurrent        int64
	// Lease names the stream a Concurrent check admits; it holds one of
	// the key's slots until ReleaseStream, or LeaseTTL after the last
	// RenewStream (so a crashed instance frees its slots by itself).
	Lease    string
	LeaseTTL time.Duration
	// At is the time the request is checked at, on the caller's clock;
	// zero is the store's clock. It picks the minute counted; the day,
	// week and month are the store's, as AddSpend writes them.
	At time.Time
}

// The limits a LimitVerdict may name; each is the key of its field under
// client_keys[].limits.
const (
	LimitRequestsPerMinute = "requests_per_minute"
	LimitTokensPerDay      = "tokens_per_day"
	LimitTokensPerWeek     = "tokens_per_week"
	LimitUSDPerMonth       = "usd_per_month"
	LimitConcurrent        = "concurrent"
)

// LimitVerdict is the store's answer to a LimitCheck.
type LimitVerdict struct {
	// Refused names the limit the request would exceed, "" when it was
	// admitted (and counted: a request in the minute, a stream leased).
	Refused string
	// Used is what the refused limit had counted already: requests this
	// minute, tokens today or this week, micro-dollars this month, streams
	// open.
	Used int64
}

// Spend is what a client key's requests cost, added to its day, week and
// month.
type Spend struct {
	Tokens   int64 // input and output tokens (cached input and reasoning included)
	MicroUSD int64 // the price table's cost, in millionths of a dollar
}

// Spent is a client key's spending in the current day, week and month.
type Spent struct {
	TokensToday, TokensThisWeek int64
	MicroUSDThisMonth           int64
}

// Periods a client's spending is counted in, all in UTC: the day, the ISO
// week (Monday to Sunday) and the calendar month. PeriodEnd says when each
// resets.
const (
	periodDay   = "d"
	periodWeek  = "w"
	periodMonth = "m"
)

// PeriodEnd is when the UTC day, ISO week or month holding t ends: when
// the limit counted over it resets.
func PeriodEnd(limit string, t time.Time) time.Time {
	t = t.UTC()
	day := dayOf(t)
	switch limit {
	case LimitRequestsPerMinute:
		return t.Truncate(time.Minute).Add(time.Minute)
	case LimitTokensPerDay:
		return day.AddDate(0, 0, 1)
	case LimitTokensPerWeek:
		// Monday is day 1 of the ISO week; Sunday, Go's 0, is day 7.
		wd := (int(day.Weekday()) + 6) % 7
		return day.AddDate(0, 0, 7-wd)
	case LimitUSDPerMonth:
		return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	default:
		return time.Time{}
	}
}

func (s *Store) limitKey(client, what string) string {
	return s.prefix + "limit:{" + client + "}:" + what
}

func (s *Store) spendKey(client, period string, t time.Time) string {
	t = t.UTC()
	var when string
	switch period {
	case periodDay:
		when = t.Format("20060102")
	case periodWeek:
		y, w := t.ISOWeek()
		when = fmt.Sprintf("%04dW%02d", y, w)
	default:
		when = t.Format("200601")
	}
	return s.limitKey(client, "spend:"+period+":"+when)
}

// spendTTL keeps each period's counter a little past its end, for a reader
// whose clock is a moment behind.
var spendTTL = map[string]time.Duration{periodDay: 48 * time.Hour, periodWeek: 8 * 24 * time.Hour, periodMonth: 32 * 24 * time.Hour}

// limitScript checks and counts a request in one round trip, so two
// instances admitting at once cannot both take the last slot. Spending is
// only read (it is added when requests end); the minute's count and the
// stream lease are taken only if every limit admits the request.
var limitScript = redis.NewScript(`
local function spent(key, field, limit)
  if limit <= 0 then return nil end
  local v = tonumber(redis.call('HGET', key, field) or '0')
  if v >= limit then return v end
  return nil
end
local v = spent(KEYS[1], 'tokens', tonumber(ARGV[1]))
if v then return {'tokens_per_day', v} end
v = spent(KEYS[2], 'tokens', tonumber(ARGV[2]))
if v then return {'tokens_per_week', v} end
v = spent(KEYS[3], 'usd_micro', tonumber(ARGV[3]))
if v then return {'usd_per_month', v} end
local conc = tonumber(ARGV[6])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[7])
  local open = redis.call('ZCARD', KEYS[5])
  if open >= conc then return {'concurrent', open} end
end
local rpm = tonumber(ARGV[4])
if rpm > 0 then
  local n = tonumber(redis.call('GET', KEYS[4]) or '0')
  if n >= rpm then return {'requests_per_minute', n} end
  redis.call('INCR', KEYS[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
if conc > 0 then
  redis.call('ZADD', KEYS[5], ARGV[8], ARGV[9])
  redis.call('PEXPIRE', KEYS[5], ARGV[10])
end
return {'', 0}
`)

// CheckLimits checks one request of client against c and, when every
// limit admits it, counts it: in the current minute, and as an open
// stream under c.Lease. One round trip.
func (s *Store) CheckLimits(ctx context.Context, client string, c LimitCheck) (LimitVerdict, error) {
	now := s.now()
	at := c.At
	if at.IsZero() {
		at = now
	}
	if c.Concurrent > 0 && (c.Lease == "" || c.LeaseTTL <= 0) {
		return LimitVerdict{}, errors.New("store: check limits: a concurrent limit needs a lease and its TTL")
	}
	minute := at.UTC().Truncate(time.Minute)
	keys := []string{
		s.spendKey(client, periodDay, now),
		s.spendKey(client, periodWeek, now),
		s.spendKey(client, periodMonth, now),
		s.limitKey(client, "rpm:"+strconv.FormatInt(minute.Unix()/60, 10)),
		s.limitKey(client, "streams"),
	}
	args := []any{
		c.TokensPerDay, c.TokensPerWeek, c.MicroUSDPerMonth,
		c.RequestsPerMinute, (2 * time.Minute).Milliseconds(),
		c.Concurrent, now.UnixMilli(), now.Add(c.LeaseTTL).UnixMilli(), c.Lease, (2 * c.LeaseTTL).Milliseconds(),
	}
	res, err := limitScript.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return LimitVerdict{}, fmt.Errorf("store: check limits of %s: %w", client, err)
	}
	if len(res) != 2 {
		return LimitVerdict{}, fmt.Errorf("store: check limits of %s: unexpected answer %v", client, res)
	}
	name, _ := res[0].(string)
	used, _ := res[1].(int64)
	return LimitVerdict{Refused: name, Used: used}, nil
}

// RenewStream keeps lease open for ttl more; a lease already gone (it
// expired, or was released) is not brought back.
func (s *Store) RenewStream(ctx context.Context, client, lease string, ttl time.Duration) error {
	key := s.limitKey(client, "streams")
	err := s.client.ZAddXX(ctx, key, redis.Z{Score: float64(s.now().Add(ttl).UnixMilli()), Member: lease}).Err()
	if err != nil {
		return fmt.Errorf("store: renew stream of %s: %w", client, err)
	}
	return nil
}

// ReleaseStream frees the slot lease held.
func (s *Store) ReleaseStream(ctx context.Context, client, lease string) error {
	if err := s.client.ZRem(ctx, s.limitKey(client, "streams"), lease).Err(); err != nil {
		return fmt.Errorf("store: release stream of %s: %w", client, err)
	}
	return nil
}

// AddSpend adds each client's spending to its current day, week and month,
// in one round trip.
func (s *Store) AddSpend(ctx context.Context, spend map[string]Spend) error {
	if len(spend) == 0 {
		return nil
	}
	now := s.now()
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for client, sp := range spend {
			for _, period := range []string{periodDay, periodWeek, periodMonth} {
				key := s.spendKey(client, period, now)
				if sp.Tokens != 0 {
					p.HIncrBy(ctx, key, "tokens", sp.Tokens)
				}
				if sp.MicroUSD != 0 {
					p.HIncrBy(ctx, key, "usd_micro", sp.MicroUSD)
				}
				p.Expire(ctx, key, spendTTL[period])
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add spend: %w", err)
	}
	return nil
}

// Spending returns client's spending in the current day, week and month.
func (s *Store) Spending(ctx context.Context, client string) (Spent, error) {
	now := s.now()
	var day, week, month *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		day = p.HGet(ctx, s.spendKey(client, periodDay, now), "tokens")
		week = p.HGet(ctx, s.spendKey(client, periodWeek, now), "tokens")
		month = p.HGet(ctx, s.spendKey(client, periodMonth, now), "usd_micro")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Spent{}, fmt.Errorf("store: spending of %s: %w", client, err)
	}
	n := func(c *redis.StringCmd) int64 { v, _ := c.Int64(); return v }
	return Spent{TokensToday: n(day), TokensThisWeek: n(week), MicroUSDThisMonth: n(month)}, nil
}
