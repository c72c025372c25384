package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis server at o.URL, or starts an embedded
// miniredis on 127.0.0.1 when o.URL is empty, and pings it once so a wrong
// address fails at startup rather than on the first request. Errors name the
// URL with its password redacted.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.URL == "" {
		return openEmbedded(ctx, o)
	}
	shown := redactURL(o.URL)
	opts, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("store: parsing redis url %s: %w", shown, stripURL(err))
	}
	s := New(redis.NewClient(opts), o)
	if err := s.client.Ping(ctx).Err(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: connecting to redis %s: %w", shown, err)
	}
	return s, nil
}

// redactURL returns raw fit for errors and logs: the password replaced, or
// nothing of it at all when it does not even parse, since we cannot tell
// where the password is then.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// stripURL drops the *url.Error wrapper that ParseURL may return, because
// its message quotes the whole URL, password included.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
