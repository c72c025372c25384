package relay

import (
	"context"
	"log/slog"

	"github.com/proxy-dev/proxy/pkg/store"
)

// usageQueue is how many finished requests may wait for their counters to
// be written before further ones are dropped (and logged).
const usageQueue = 4096

// usageWriter writes usage counters off the request path: a chunked
// response ends only when its handler returns, so a store write there
// would delay the end of every stream by a round trip.
type usageWriter struct {
	rec  UsageRecorder
	log  *slog.Logger
	ch   chan usageItem
	done chan struct{}
}

type usageItem struct {
	account string
	usage   store.Usage
}

func newUsageWriter(rec UsageRecorder, log *slog.Logger) *usageWriter {
	u := &usageWriter{rec: rec, log: log, ch: make(chan usageItem, usageQueue), done: make(chan struct{})}
	go u.run()
	return u
}

func (u *usageWriter) run() {
	defer close(u.done)
	for it := range u.ch {
		ctx, cancel := context.WithTimeout(context.Background(), usageWriteTimeout)
		if err := u.rec.AddUsage(ctx, it.account, it.usage); err != nil {
			u.log.Warn("recording usage", "account", it.account, "err", err)
		}
		cancel()
	}
}

// add queues one request's usage; it never blocks.
func (u *usageWriter) add(account string, usage store.Usage) {
	select {
	case u.ch <- usageItem{account, usage}:
	default:
		u.log.Warn("usage queue full; a request's usage is not counted", "account", account)
	}
}

// close writes what is queued and stops.
func (u *usageWriter) close() {
	close(u.ch)
	<-u.done
}
