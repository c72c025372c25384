// Package relay is the HTTP handler that forwards a Responses API request to
// the account the scheduler chose, fails over before the first byte reaches
// the client, streams the answer event by event and records usage.
package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/store"
)

// Selector chooses the account for a request. *scheduler.Scheduler
// implements it.
type Selector interface {
	Select(ctx context.Context, r scheduler.Request) (scheduler.Decision, error)
}

// UsageRecorder keeps per-account token counters. *store.Store implements it.
type UsageRecorder interface {
	AddUsage(ctx context.Context, account string, u store.Usage) error
}

// Publisher receives the decision record of every request. *event.Bus
// implements it.
type Publisher interface {
	Publish(d event.Decision)
}

// Health learns from every attempt and hands out concurrency slots.
// *health.Tracker implements it.
type Health interface {
	Report(ctx context.Context, a *account.Account, o health.Outcome) (store.Cooldown, bool)
	ObserveLimits(name string, h http.Header)
	Acquire(ctx context.Context, a *account.Account, wait time.Duration) (release func(), ok bool)
}

// Refresher renews ChatGPT access tokens. *account.Refresher implements it.
type Refresher interface {
	Refresh(ctx context.Context, a *account.Account, seenTag string) error
}

// Options tune a Relay; zero values take the defaults.
type Options struct {
	MaxBodyBytes int64             // decoded request body limit; default 32 MiB
	MaxAttempts  int               // distinct accounts tried per request; default 3
	Transport    http.RoundTripper // default: NewTransport(10s, 2m)
	Logger       *slog.Logger      // default slog.Default()
	Now          func() time.Time  // default time.Now
	Health       Health            // default: every account always available
	Refresher    Refresher         // default: tokens are never refreshed
	// StreamIdle ends an upstream answer that sends nothing for this long;
	// default 5 minutes.
	StreamIdle time.Duration
	// SlotWait is how long a sticky request waits for its account's free
	// concurrency slot before failing over; default 2 s.
	SlotWait time.Duration
}

// Relay forwards API requests. It is safe for concurrent use.
type Relay struct {
	sel    Selector
	usage  *usageWriter // nil when usage is not recorded
	pub    Publisher
	client *http.Client
	o      Options
}

// New returns a relay choosing accounts with sel, counting usage in usage
// and publishing decisions to pub.
func New(sel Selector, usage UsageRecorder, pub Publisher, o Options) *Relay {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Transport == nil {
		o.Transport = NewTransport(10*time.Second, 2*time.Minute)
	}
	if o.Health == nil {
		o.Health = nopHealth{}
	}
	if o.StreamIdle <= 0 {
		o.StreamIdle = 5 * time.Minute
	}
	if o.SlotWait <= 0 {
		o.SlotWait = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rl := &Relay{
		sel: sel,
		pub: pub,
		// No client timeout: a healthy stream may run for many minutes.
		client: &http.Client{Transport: o.Transport, CheckRedirect: noRedirects},
		o:      o,
	}
	if usage != nil {
		rl.usage = newUsageWriter(usage, o.Logger)
	}
	return rl
}

// Close writes the usage still queued. Call it once the server has stopped
// handing requests to the relay.
func (rl *Relay) Close() {
	if rl.usage != nil {
		rl.usage.close()
	}
}

// NewTransport returns the transport used for upstreams: pooled keep-alive
// connections, HTTP/2 where offered, connect (dial and TLS) bounded by
// connect and the wait for response headers by header. The stream itself
// has no total limit.
func NewTransport(connect, header time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: header,
	}
}

// nopHealth is the Health of a relay without tracking.
type nopHealth struct{}

func (nopHealth) Report(context.Context, *account.Account, health.Outcome) (store.Cooldown, bool) {
	return store.Cooldown{}, false
}
func (nopHealth) ObserveLimits(string, http.Header) {}
func (nopHealth) Acquire(context.Context, *account.Account, time.Duration) (func(), bool) {
	return func() {}, true
}

// noRedirects hands a redirect back to the relay as a response: following
// it would re-send the credential to wherever it points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Handler serves the API path suffix ("/responses" or "/responses/compact")
// on the account chosen for each request.
func (rl *Relay) Handler(suffix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rl.serve(w, r, suffix)
	})
}

type clientKey struct{}

// WithClient records the authenticated client key's name in ctx, for
// bindings and logs.
func WithClient(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, clientKey{}, name)
}

// ClientFrom returns the client key name recorded by WithClient, or "".
func ClientFrom(ctx context.Context) string {
	name, _ := ctx.Value(clientKey{}).(string)
	return name
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}
