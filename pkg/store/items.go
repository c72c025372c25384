package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The records of account-bound conversation items (package items owns
// what they mean; the store only keeps them):
//
//	{prefix}item:{sum}            who minted the item whose content has that
//	                              fingerprint (a small JSON), with its TTL
//	{prefix}minters:{session}     a SET: the conversation's notes (who minted
//	                              items in it, who refused what), beside its
//	                              binding and read with it
//	{prefix}kept:{sum}            the compressed request that asked for the
//	                              compaction item sum, with its TTL
//	{prefix}kept                  a ZSET of the kept requests by the time
//	                              they were kept (unix ms), and
//	{prefix}kept:size             a HASH of their sizes, and
//	{prefix}kept:bytes            their total: the budget's count
//	{prefix}remade:{sum}:{acct}   acct's own compaction item of the history
//	                              the compaction sum stood for

func (s *Store) itemKey(sum string) string        { return s.prefix + "item:" + sum }
func (s *Store) mintersKey(session string) string { return s.prefix + "minters:" + session }
func (s *Store) keptKey(sum string) string        { return s.prefix + "kept:" + sum }
func (s *Store) keptIndexKey() string             { return s.prefix + "kept" }
func (s *Store) keptSizeKey() string              { return s.prefix + "kept:size" }
func (s *Store) keptBytesKey() string             { return s.prefix + "kept:bytes" }
func (s *Store) remadeKey(sum, account string) string {
	return s.prefix + "remade:" + sum + ":" + account
}

// membersOf is an SMEMBERS reply, nil for an empty set or an error (the
// notes are advice: without them a request is looked at more closely).
func membersOf(c *redis.StringSliceCmd) []string {
	if c == nil {
		return nil
	}
	v, err := c.Result()
	if err != nil || len(v) == 0 {
		return nil
	}
	return v
}

// ItemRecords returns the records kept under sums, nil where none: one
// round trip (MGET).
func (s *Store) ItemRecords(ctx context.Context, sums []string) ([][]byte, error) {
	if len(sums) == 0 {
		return nil, nil
	}
	keys := make([]string, len(sums))
	for i, sum := range sums {
		keys[i] = s.itemKey(sum)
	}
	out := make([][]byte, len(sums))
	if _, ok := s.client.(*redis.ClusterClient); ok {
		// MGET must stay in one slot on a cluster: one GET each instead,
		// pipelined per node.
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("store: item records: %w", err)
		}
		for i, c := range cmds {
			if v, err := c.Bytes(); err == nil {
				out[i] = v
			}
		}
		return out, nil
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: item records: %w", err)
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[i] = []byte(str)
		}
	}
	return out, nil
}

// SetItemRecords keeps records by sum for ttl: one pipelined round trip.
func (s *Store) SetItemRecords(ctx context.Context, records map[string][]byte, ttl time.Duration) error {
	if len(records) == 0 {
		return nil
	}
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for sum, v := range records {
			p.Set(ctx, s.itemKey(sum), v, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: item records: %w", err)
	}
	return nil
}

// NoteConversation adds member to the conversation's notes and keeps them
// for ttl from now. A binding read after it (Lookup, Bind) carries the
// member in Minters; the embedded store's own copy of the binding hears of
// it at once.
func (s *Store) NoteConversation(ctx context.Context, session, member string, ttl time.Duration) error {
	if session == "" || member == "" {
		return errors.New("store: note conversation: empty session or member")
	}
	key := s.mintersKey(session)
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, key, member)
		p.PExpire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: note conversation %s: %w", session, err)
	}
	if l := s.local; l != nil {
		l.mu.Lock()
		if e, ok := l.entries[session]; ok && !slices.Contains(e.b.Minters, member) {
			e.b.Minters = append(append([]string(nil), e.b.Minters...), member)
			l.entries[session] = e
		}
		l.mu.Unlock()
	}
	return nil
}

// KeepCompaction keeps data under sum for ttl and counts it in the kept
// compactions' budget. While they take more than budget bytes, or the
// oldest has outlived ttl, the oldest are let go; it returns how many.
// data larger than the whole budget is refused.
// Eviction pops entries one at a time (ZPOPMIN), so two instances keeping
// at once never evict the same one twice.
func (s *Store) KeepCompaction(ctx context.Context, sum string, data []byte, ttl time.Duration, budget int64) (int, error) {
	if int64(len(data)) > budget {
		// It would evict every other one and then itself.
		return 0, fmt.Errorf("store: keep compaction: %d bytes is more than the whole budget of %d", len(data), budget)
	}
	now := s.now()
	var old *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		old = p.HGet(ctx, s.keptSizeKey(), sum)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("store: keep compaction: %w", err)
	}
	grow := int64(len(data))
	if prev, err := old.Int64(); err == nil {
		grow -= prev // kept again: count the difference
	}
	var total *redis.IntCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keptKey(sum), data, ttl)
		p.ZAdd(ctx, s.keptIndexKey(), redis.Z{Score: float64(now.UnixMilli()), Member: sum})
		p.HSet(ctx, s.keptSizeKey(), sum, len(data))
		total = p.IncrBy(ctx, s.keptBytesKey(), grow)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: keep compaction: %w", err)
	}
	bytes := total.Val()
	evicted := 0
	stale := float64(now.Add(-ttl).UnixMilli())
	for {
		oldest, err := s.client.ZRangeWithScores(ctx, s.keptIndexKey(), 0, 0).Result()
		if err != nil {
			return evicted, fmt.Errorf("store: keep compaction: evicting: %w", err)
		}
		if len(oldest) == 0 || (bytes <= budget && oldest[0].Score >= stale) {
			return evicted, nil
		}
		popped, err := s.client.ZPopMin(ctx, s.keptIndexKey(), 1).Result()
		if err != nil || len(popped) == 0 {
			return evicted, err
		}
		victim, _ := popped[0].Member.(string)
		size, _ := s.client.HGet(ctx, s.keptSizeKey(), victim).Int64()
		_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HDel(ctx, s.keptSizeKey(), victim)
			p.Del(ctx, s.keptKey(victim))
			total = p.DecrBy(ctx, s.keptBytesKey(), size)
			return nil
		})
		if err != nil {
			return evicted, fmt.Errorf("store: keep compaction: evicting: %w", err)
		}
		bytes = total.Val()
		evicted++
	}
}

// KeptCompaction is what KeepCompaction kept under sum; nil when gone.
func (s *Store) KeptCompaction(ctx context.Context, sum string) ([]byte, error) {
	v, err := s.client.Get(ctx, s.keptKey(sum)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: kept compaction: %w", err)
	}
	return v, nil
}

// KeptCompactionBytes is what the kept compactions take, as their budget
// counts it.
func (s *Store) KeptCompactionBytes(ctx context.Context) (int64, error) {
	v, err := s.client.Get(ctx, s.keptBytesKey()).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: kept compactions: %w", err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// SetRemade keeps account's compaction item for the history of the
// compaction sum, for ttl.
func (s *Store) SetRemade(ctx context.Context, sum, account string, item []byte, ttl time.Duration) error {
	if err := s.client.Set(ctx, s.remadeKey(sum, account), item, ttl).Err(); err != nil {
		return fmt.Errorf("store: remade compaction: %w", err)
	}
	return nil
}

// Remade is what SetRemade kept; nil when none.
func (s *Store) Remade(ctx context.Context, sum, account string) ([]byte, error) {
	v, err := s.client.Get(ctx, s.remadeKey(sum, account)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: remade compaction: %w", err)
	}
	return v, nil
}
