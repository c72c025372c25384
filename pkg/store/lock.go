package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// unlockScript deletes a lock only if the caller still holds it, so a lock
// that expired and was taken by another instance is not released by mistake.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`)

// TryLock takes the named lock for at most ttl, across every instance on
// this Redis. It returns ok=false at once when another holder has it; the
// returned unlock releases it.
func (s *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (unlock func(), ok bool, err error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	key := s.prefix + "lock:" + name
	ok, err = s.client.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("store: lock %s: %w", name, err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = unlockScript.Run(ctx, s.client, []string{key}, token).Err()
	}, true, nil
}

// SetSecret keeps a value that other instances need (rotated OAuth tokens)
// under name.
func (s *Store) SetSecret(ctx context.Context, name string, value []byte) error {
	if err := s.client.Set(ctx, s.prefix+"secret:"+name, value, 0).Err(); err != nil {
		return fmt.Errorf("store: set %s: %w", name, err)
	}
	return nil
}

// Secret returns the value SetSecret kept under name; nil when none.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	v, err := s.client.Get(ctx, s.prefix+"secret:"+name).Bytes()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", name, err)
	}
	return v, nil
}
