// Package admin serves the proxy's own endpoints on its listener:
// GET /_proxy/status (the pool's live state), GET /_proxy/events (routing
// decisions as server-sent events, recent ones first) and GET /metrics
// (Prometheus). Everything it serves is built from names, hashes and
// counts: no key or token ever reaches it.
package admin

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/metrics"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/store"
)

// DefaultBacklog is how many recent decisions a new /_proxy/events client
// gets before the live ones: enough to fill a screen with history.
const DefaultBacklog = 200

// busBuffer is the admin's own subscription buffer on the relay's bus. It
// is large because the admin feeds metrics: a drop here is a request the
// counters miss.
const busBuffer = 4096

// clientBuffer is each /_proxy/events client's buffer; a client further
// behind than this loses decisions (counted) rather than slowing anyone.
const clientBuffer = 256

// Options is what the admin endpoints read.
type Options struct {
	// Accounts returns the running pool (it changes on reload).
	Accounts func() []*account.Account
	Health   *health.Tracker
	Store    *store.Store
	// Bus is the relay's decision bus; New subscribes to it.
	Bus *event.Bus
	// SessionTTL is the sessions' configured TTL, for /_proxy/sessions.
	SessionTTL time.Duration
	Version    string
	Started    time.Time
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Backlog is how many decisions /_proxy/events replays; DefaultBacklog
	// when 0.
	Backlog int
	Logger  *slog.Logger
	// Redact holds the process's secrets (keys, tokens, URL passwords):
	// they are hidden from the status document and from every decision
	// before it is kept or streamed. nil hides keys and tokens by shape
	// only.
	Redact *redact.Set
	// PID is the server's process id and Demo whether it runs --demo; the
	// status document carries both for `proxy accounts list`.
	PID  int
	Demo bool
	// WebSockets counts the client WebSocket connections open now; nil:
	// no gauge.
	WebSockets func() int
	// Prices prices the usage ledger's lines and proxy_cost_usd_total;
	// nil: every line unpriced.
	Prices Pricer
	// UsageRetention is how long the ledger keeps a day: how far back
	// GET /_proxy/usage may read. Below 90 days, 90.
	UsageRetention time.Duration
}

// Admin is the handler of the admin endpoints. It runs one goroutine that
// reads the relay's bus; Close stops it and ends every event stream.
type Admin struct {
	o       Options
	mux     *http.ServeMux
	handler http.Handler // mux behind the role check
	metrics *metrics.Metrics

	sub *event.Subscription
	// live re-publishes each decision to /_proxy/events clients after it is
	// in the ring, so a client joining gets the backlog and the live stream
	// with no gap and no repeat (see events.go).
	live *event.Bus

	mu   sync.Mutex
	ring *ring

	done      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

// New returns the admin handler and starts reading o.Bus. Call Close when
// the server stops.
func New(o Options) *Admin {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backlog <= 0 {
		o.Backlog = DefaultBacklog
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Accounts == nil {
		o.Accounts = func() []*account.Account { return nil }
	}
	a := &Admin{
		o:       o,
		mux:     http.NewServeMux(),
		live:    event.NewBus(),
		ring:    newRing(o.Backlog),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	a.metrics = metrics.New(metrics.Sources{Accounts: o.Accounts, Health: o.Health, Dropped: a.Dropped, WebSockets: o.WebSockets, Prices: o.Prices})
	a.sub = o.Bus.Subscribe(busBuffer)
	go a.run()

	a.mux.HandleFunc("GET /_proxy/status", a.serveStatus)
	a.mux.HandleFunc("GET /_proxy/events", a.serveEvents)
	a.mux.HandleFunc("GET "+usagePath, a.serveUsage)
	a.mux.Handle("GET /metrics", a.metrics.Handler())
	sessions := Sessions(o.Store, SessionsTTL(o.SessionTTL), SessionsClock(o.Now))
	a.mux.Handle("/_proxy/sessions", sessions)
	a.mux.Handle("/_proxy/sessions/", sessions)
	a.mux.HandleFunc("/", notFound)
	a.handler = requireRole(a.mux)
	return a
}

// ServeHTTP implements http.Handler.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Close stops reading the bus and ends every open event stream, so the
// server's graceful shutdown does not wait on watchers that never leave.
// It is safe to call more than once.
func (a *Admin) Close() {
	a.closeOnce.Do(func() {
		close(a.done)
		a.sub.Cancel()
		<-a.stopped
	})
}

// Dropped counts decisions lost anywhere between the relay and a watcher:
// on the relay's bus (the admin's own reader included) and on the stream to
// each /_proxy/events client.
func (a *Admin) Dropped() uint64 { return a.o.Bus.Dropped() + a.live.Dropped() }

// run feeds each decision to the metrics, then to the ring and the event
// clients: in that order, so a watcher that has seen a decision can scrape
// metrics that count it.
func (a *Admin) run() {
	defer close(a.stopped)
	for d := range a.sub.C {
		d = a.redact(d)
		a.metrics.Observe(d)
		a.mu.Lock()
		a.ring.add(d)
		a.live.Publish(d)
		a.mu.Unlock()
	}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "no admin route "+r.Method+" "+r.URL.Path+"; see /_proxy/status, /_proxy/events, /metrics", http.StatusNotFound)
}

// redact hides secrets in the text of a decision: the relay records an
// upstream's error in words, and an upstream may quote the key it was
// sent; a target may carry a base URL's password. The relay is meant to
// record neither; this is the last check before the decision is kept and
// streamed to watchers.
func (a *Admin) redact(d event.Decision) event.Decision {
	s := a.o.Redact
	d.Target, d.Detail, d.Error = s.String(d.Target), s.String(d.Detail), s.String(d.Error)
	copied := false // the attempts are shared with the bus's other readers
	for i, at := range d.Attempts {
		if e := s.String(at.Error); e != at.Error {
			if !copied {
				d.Attempts, copied = append([]event.Attempt(nil), d.Attempts...), true
			}
			d.Attempts[i].Error = e
		}
	}
	return d
}
