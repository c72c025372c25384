// Package relay is the HTTP handler that forwards a Responses API request to
// the account the scheduler chose, fails over before the first byte reaches
// the client, streams the answer event by event and records usage.
package relay

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/keylimit"
	"github.com/proxy-dev/proxy/pkg/pool"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/sse"
	"github.com/proxy-dev/proxy/pkg/store"
)

// Pool is the accounts as the relay uses them: lease one for an attempt,
// report how the attempt went, renew a token, count usage. Everything a
// Pool sets off that must outlive the request runs on its own lifetime.
// *pool.Pool implements it.
type Pool interface {
	// Lease chooses an account for r and takes one of its concurrency
	// slots, waiting up to stickyWait when the choice is the
	// conversation's own account; pool.ErrBusy when none freed.
	Lease(ctx context.Context, r scheduler.Request, stickyWait time.Duration) (*pool.Lease, error)
	// Report records an attempt's outcome and the rate-limit windows its
	// answer carried (h may be nil).
	Report(a *account.Account, h http.Header, o health.Outcome)
	// Refresh renews a ChatGPT token unless it changed since seenTag; it
	// completes even when ctx ends first.
	Refresh(ctx context.Context, a *account.Account, seenTag string) error
	// CanRefresh reports whether a's token can be renewed.
	CanRefresh(a *account.Account) bool
	// AddUsage counts a finished request's tokens against its account and
	// its ledger line; it never blocks.
	AddUsage(k store.LedgerKey, u store.Usage)
}

// KeyLimits checks a client key's limits before any account is tried.
// *keylimit.Limiter implements it; a nil one limits nothing.
type KeyLimits interface {
	// Admit admits one request of client for model, or refuses it with a
	// *keylimit.Refusal; the admission keeps the request to the key's
	// accounts and is released when the request ends.
	Admit(ctx context.Context, client, model string) (keylimit.Admission, error)
}

// Publisher receives the decision record of every request. *event.Bus
// implements it.
type Publisher interface {
	Publish(d event.Decision)
}

// Redactor hides secrets in what the relay passes on from an upstream (an
// error body or an event that quotes the key, a header that echoes it) and
// in what it records. *redact.Set implements it. Each returns its input
// itself when there is nothing to hide.
type Redactor interface {
	Bytes(b []byte) []byte
	String(s string) string
	// Answer is Bytes for a successful answer (an event, a JSON body),
	// which leaves encrypted items byte for byte.
	Answer(b []byte) []byte
}

// Options tune a Relay; zero values take the defaults.
type Options struct {
	MaxBodyBytes int64             // decoded request body limit; default 32 MiB
	MaxAttempts  int               // distinct accounts tried per request; default 3
	Transport    http.RoundTripper // default: NewTransport(10s, 2m); cloned per proxy_url (account.Egress)
	Logger       *slog.Logger      // default slog.Default()
	Now          func() time.Time  // default time.Now
	// StreamIdle ends an upstream answer that sends nothing for this long,
	// and drops a client that takes longer than this to accept one write;
	// default 5 minutes.
	StreamIdle time.Duration
	// SlotWait is how long a sticky request waits for its account's free
	// concurrency slot before failing over; default 2 s.
	SlotWait time.Duration
	// BodyRead bounds the time a client may take to send its request body;
	// default 60 s.
	BodyRead time.Duration
	// MaxEventBytes bounds one upstream SSE event; default sse.DefaultMaxEvent.
	MaxEventBytes int
	// Bodies is the process-wide budget for request bodies held in memory;
	// nil: no budget beyond MaxBodyBytes per request.
	Bodies *Budget
	// Hold bounds how much of a stream's opening is held back before its
	// first output, so a failure there can still fail over.
	Hold HoldLimits
	// Redact hides secrets in upstream answers and records; default none.
	Redact Redactor
	// WebSocket bounds the WebSocket gateway.
	WebSocket WebSocketLimits
	// Items is the ledger of account-bound conversation items; nil: no
	// request is cleaned for its account and nothing is recorded.
	Items Items
	// Limits are the client keys' limits; nil: none.
	Limits KeyLimits
}

// Relay forwards API requests. It is safe for concurrent use.
type Relay struct {
	pool    Pool
	pub     Publisher
	egress  *account.Egress // each account's client: direct, or through its proxy_url
	o       Options
	avoid   *avoidList
	active  sync.WaitGroup // requests being served and their records being written, for Wait
	writers chan struct{}  // one per record being written off its request

	ws       *wsGate  // client WebSocket connections
	httpOnly httpOnly // accounts that refused an upstream WebSocket
}

// New returns a relay leasing accounts from p and publishing decisions to
// pub.
func New(p Pool, pub Publisher, o Options) *Relay {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Transport == nil {
		o.Transport = NewTransport(10*time.Second, 2*time.Minute)
	}
	if o.StreamIdle <= 0 {
		o.StreamIdle = 5 * time.Minute
	}
	if o.SlotWait <= 0 {
		o.SlotWait = 2 * time.Second
	}
	if o.BodyRead <= 0 {
		o.BodyRead = 60 * time.Second
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = sse.DefaultMaxEvent
	}
	o.Hold = o.Hold.withDefaults()
	o.WebSocket = o.WebSocket.withDefaults()
	if o.WebSocket.Message <= 0 || o.WebSocket.Message > o.MaxBodyBytes {
		o.WebSocket.Message = o.MaxBodyBytes
	}
	if o.Redact == nil {
		o.Redact = noRedact{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Relay{
		pool: p,
		pub:  pub,
		// No client timeout: a healthy stream may run for many minutes.
		egress:  account.NewEgress(&http.Client{Transport: o.Transport, CheckRedirect: noRedirects}),
		o:       o,
		avoid:   newAvoidList(o.Now),
		ws:      newWSGate(o.WebSocket),
		writers: make(chan struct{}, RecordWriters),
	}
}

// clientFor is the client a's requests go out through: its proxy_url's,
// else the relay's own.
func (rl *Relay) clientFor(a *account.Account) *http.Client {
	return rl.egress.Client(a)
}

// CloseIdleConnections closes the idle connections kept to accounts'
// proxies (those of Options.Transport are its owner's to close).
func (rl *Relay) CloseIdleConnections() { rl.egress.CloseIdleConnections() }

// Wait returns once every request the relay is serving has ended and its
// log line and event are written. Call it
// after the HTTP server has stopped (and, past its grace, closed its
// connections), before closing the pool.
func (rl *Relay) Wait() { rl.active.Wait() }

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

type noRedact struct{}

func (noRedact) Bytes(b []byte) []byte  { return b }
func (noRedact) String(s string) string { return s }
func (noRedact) Answer(b []byte) []byte { return b }

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

// WithClient records the authenticated client key's name in ctx, for
// bindings and logs (an admin's: the server records the role itself, see
// package identity).
func WithClient(ctx context.Context, name string) context.Context {
	return identity.With(ctx, identity.Caller{Name: name, Role: identity.Admin})
}

// ClientFrom returns the name of the client key the request was admitted
// by, or "".
func ClientFrom(ctx context.Context) string { return identity.From(ctx).Name }

func newRequestID() string { return "req_" + randomHex(8) }
