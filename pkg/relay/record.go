package relay

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/store"
)

// finish records a finished request: usage counters, one log line, and the
// decision event, each with its strings cut (event.Decision.Bounded).
func (rl *Relay) finish(rec *event.Decision) {
	// Cut before anything keeps it: the model (which an upstream's answer
	// may have replaced), and errors quoting an upstream, must not make a
	// log line or an event as large as what was sent.
	*rec = rec.Bounded()
	if rec.Account != "" && rec.Status/100 == 2 {
		model := rec.Model
		if rec.UpstreamModel != "" {
			// The ledger prices what was served.
			model = rec.UpstreamModel
		}
		rl.pool.AddUsage(store.LedgerKey{Client: rec.Client, Account: rec.Account, Model: model}, store.Usage{
			Requests:        1,
			InputTokens:     rec.Usage.InputTokens,
			CachedTokens:    rec.Usage.CachedTokens,
			OutputTokens:    rec.Usage.OutputTokens,
			ReasoningTokens: rec.Usage.ReasoningTokens,
		})
	}
	// The log line and the event are written off the request: the
	// client's last bytes (the chunked body's end, the next WebSocket
	// frame's read) wait for nothing but the answer. At most
	// RecordWriters are written at once; past that the request writes its
	// own, so records never pile up in memory. Wait waits for them too.
	select {
	case rl.writers <- struct{}{}:
		rl.active.Add(1)
		pending.Add(1)
		go func() {
			defer func() { <-rl.writers; pending.Add(-1); rl.active.Done() }()
			rl.record(rec)
		}()
	default:
		rl.record(rec)
	}
}

// pending counts the records being written off their requests, by every
// relay of the process.
var pending atomic.Int64

// Settle returns once no record is being written off its request: what
// was logged and published of every answer already given is then in the
// log and with the publisher. It is for a reader in the same process that
// looks at the log right after an answer (the end-to-end tests); the
// proxy itself never waits for it.
func Settle() {
	for pending.Load() > 0 {
		time.Sleep(50 * time.Microsecond)
	}
}

// RecordWriters bounds the requests' log lines and events being written
// off their requests at once.
const RecordWriters = 64

// record writes the request's log line and publishes its decision.
func (rl *Relay) record(rec *event.Decision) {
	rl.log(rec)
	if rl.pub != nil {
		rl.pub.Publish(*rec)
	}
}

// log writes the request's one structured line. It carries names and
// hashes only, never a key or token.
func (rl *Relay) log(rec *event.Decision) {
	level := slog.LevelInfo
	switch {
	case rec.Status >= 500 || rec.Status == 0:
		level = slog.LevelError
	case rec.Status >= 400 || rec.Error != "":
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !rl.o.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 25)
	attrs = append(attrs,
		slog.String("request_id", rec.RequestID),
		slog.String("path", rec.Path),
		slog.String("account", rec.Account),
		slog.String("target", rec.Target),
		slog.String("reason", rec.Reason),
		slog.String("session", rec.Session),
		slog.String("source", rec.Source),
		slog.String("model", rec.Model),
		slog.Int("status", rec.Status),
		slog.Int("attempts", len(rec.Attempts)),
		slog.Duration("ttfb", rec.TTFB),
		slog.Duration("duration", rec.Duration),
		slog.Int64("input_tokens", rec.Usage.InputTokens),
		slog.Int64("cached_tokens", rec.Usage.CachedTokens),
		slog.Int64("output_tokens", rec.Usage.OutputTokens),
		slog.Int64("reasoning_tokens", rec.Usage.ReasoningTokens),
	)
	// The fields a request may not have are written only when it does.
	for _, kv := range [...][2]string{
		{"transport", rec.Transport}, {"door", rec.Door}, {"api", rec.API}, {"translated", rec.Translated},
		{"upstream_model", rec.UpstreamModel}, {"client", rec.Client}, {"limit", rec.Limit}, {"detail", rec.Detail},
		{"items", rec.Items}, {"error", rec.Error},
	} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	// The record is built here rather than by LogAttrs, which walks the
	// stack for a source position no handler of ours prints: a tenth of
	// the line's cost, on every request.
	r := slog.NewRecord(time.Now(), level, "request", 0)
	r.AddAttrs(attrs...)
	_ = rl.o.Logger.Handler().Handle(ctx, r)
}
