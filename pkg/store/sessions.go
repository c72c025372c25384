package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scanBatch is the SCAN COUNT hint and so the size of each HGETALL pipeline.
const scanBatch = 200

// Sessions lists every binding under the store's prefix, most recently used
// first. It SCANs the keyspace, so it is for listings, never the hot path.
// Bindings that expire mid-scan are left out.
func (s *Store) Sessions(ctx context.Context) ([]Binding, error) {
	var out []Binding
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		// A cluster's SCAN sees one node only: walk every master. The
		// callbacks run concurrently, so collect under a lock.
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			bs, err := s.scanSessions(ctx, c)
			mu.Lock()
			out = append(out, bs...)
			mu.Unlock()
			return err
		})
	} else {
		out, err = s.scanSessions(ctx, s.client)
	}
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastUsed.Equal(out[j].LastUsed) {
			return out[i].LastUsed.After(out[j].LastUsed)
		}
		return out[i].Session < out[j].Session
	})
	return out, nil
}

// scanSessions lists the bindings on one server.
func (s *Store) scanSessions(ctx context.Context, c redis.UniversalClient) ([]Binding, error) {
	prefix := s.sessionKey("")
	match := globEscape(prefix) + "*"
	var out []Binding
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, scanBatch).Result()
		if err != nil {
			return out, err
		}
		bs, err := s.readBindings(ctx, c, prefix, keys)
		out = append(out, bs...)
		if err != nil {
			return out, err
		}
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

// readBindings fetches the given binding keys in one pipeline.
func (s *Store) readBindings(ctx context.Context, c redis.UniversalClient, prefix string, keys []string) ([]Binding, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Binding, 0, len(keys))
	for i, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 {
			continue // expired between SCAN and HGETALL
		}
		session := strings.TrimPrefix(keys[i], prefix)
		b, err := bindingFromMap(session, m)
		if err != nil {
			return out, fmt.Errorf("session %s: %w", session, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// globEscape quotes the glob metacharacters of s for SCAN MATCH, so a key
// prefix like "a*" matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
