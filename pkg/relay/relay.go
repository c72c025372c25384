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

	"github.com/proxy-dev/proxy/pkg/event"
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

// Options tune a Relay; zero values take the defaults.
type Options struct {
	MaxBodyBytes int64             // decoded request body limit; default 32 MiB
	MaxAttempts  int               // distinct accounts tried per request; default 3
	Transport    http.RoundTripper // default: a pooled transport tuned for streaming
	Logger       *slog.Logger      // default slog.Default()
	Now          func() time.Time  // default time.Now
}

// Relay forwards API requests. It is safe for concurrent use.
type Relay struct {
	sel    Selector
	usage  UsageRecorder
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
		o.Transport = NewTransport()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Relay{
		sel:   sel,
		usage: usage,
		pub:   pub,
		// No client timeout: a healthy stream may run for many minutes.
		client: &http.Client{Transport: o.Transport, CheckRedirect: noRedirects},
		o:      o,
	}
}

// NewTransport returns the transport used for upstreams: pooled keep-alive
// connections, HTTP/2 where offered, and bounded connect and header waits
// (the stream itself has no total limit).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
	}
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
