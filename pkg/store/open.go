package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

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
	client, err := newClient(o.URL)
	if err != nil {
		return nil, fmt.Errorf("store: parsing redis url %s: %w", shown, stripURL(err))
	}
	s := New(client, o)
	if err := s.client.Ping(ctx).Err(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: connecting to redis %s: %w", shown, err)
	}
	return s, nil
}

// Short timeouts: a proxy must keep serving when Redis stops answering, so
// no request may wait on it for long. A URL's own query parameters
// (dial_timeout=..., read_timeout=...) win.
const (
	dialTimeout = time.Second
	ioTimeout   = time.Second
)

// newClient builds the client for a URL: a Sentinel-managed master when
// the query names master_name, a Cluster when it lists more nodes with
// addr=, else one server (redis://, rediss://, unix://).
func newClient(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, err
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = orDefault(o.DialTimeout, dialTimeout), orDefault(o.ReadTimeout, ioTimeout), orDefault(o.WriteTimeout, ioTimeout)
		return redis.NewFailoverClient(o), nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, err
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = orDefault(o.DialTimeout, dialTimeout), orDefault(o.ReadTimeout, ioTimeout), orDefault(o.WriteTimeout, ioTimeout)
		return redis.NewClusterClient(o), nil
	default:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = orDefault(o.DialTimeout, dialTimeout), orDefault(o.ReadTimeout, ioTimeout), orDefault(o.WriteTimeout, ioTimeout)
		return redis.NewClient(o), nil
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
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
