package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// slogLogger sends go-redis's own messages (dial failures, pool events)
// to the proxy's log at debug level: the store's callers already report
// outages once, in words, and the raw lines would flood a terminal or the
// watch screen while Redis is down.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(ctx context.Context, format string, v ...any) {
	s.l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

var setLoggerOnce sync.Once

// SetLogger routes the Redis client library's messages to l. The library
// has one logger per process, read without locking by its goroutines, so
// only the first call takes effect.
func SetLogger(l *slog.Logger) {
	setLoggerOnce.Do(func() { redis.SetLogger(slogLogger{l}) })
}
