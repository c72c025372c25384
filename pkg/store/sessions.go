package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scanBatch is the SCAN COUNT hint and so the size of each GET pipeline.
const scanBatch = 200

// Sessions lists every binding under the store's prefix, most recently used
// first. It SCANs the keyspace, so it is for listings, never the hot path.
// Bindings that expire mid-scan are left out. On the embedded store, the
// refreshes its sticky hits still owe Redis are written first, so the
// listing shows every Lookup that returned before it.
func (s *Store) Sessions(ctx context.Context) ([]Binding, error) {
	if s.local != nil {
		s.writeOwed(ctx)
	}
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
		bs, err := s.readBindings(ctx, prefix, keys)
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

// readBindings fetches the given binding keys and their lastused keys in one
// pipeline. It reads through the store's own client even when c is one node
// of a cluster, since a binding's lastused key may live on another node.
func (s *Store) readBindings(ctx context.Context, prefix string, keys []string) ([]Binding, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	type pair struct{ v, used *redis.StringCmd }
	cmds := make([]pair, len(keys))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			session := strings.TrimPrefix(k, prefix)
			cmds[i] = pair{p.Get(ctx, k), p.Get(ctx, s.lastUsedKey(session))}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]Binding, 0, len(keys))
	for i, c := range cmds {
		v, err := c.v.Bytes()
		if errors.Is(err, redis.Nil) {
			continue // expired between SCAN and GET
		}
		session := strings.TrimPrefix(keys[i], prefix)
		if err != nil {
			return out, fmt.Errorf("session %s: %w", session, err)
		}
		used, err := c.used.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return out, fmt.Errorf("session %s: %w", session, err)
		}
		b, err := decodeBinding(session, v, used)
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

// CountSessions counts live bindings, for status. It scans keys, so it is
// not for the request path.
func (s *Store) CountSessions(ctx context.Context) (int, error) {
	bs, err := s.Sessions(ctx)
	if err != nil {
		return 0, err
	}
	return len(bs), nil
}
