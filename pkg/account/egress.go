package account

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/proxy"
)

// socksHandshakeTimeout bounds dialing a SOCKS5 proxy and its handshake
// when the base transport sets no TLS handshake timeout to take instead
// (the relay's sets it to timeouts.connect).
const socksHandshakeTimeout = 10 * time.Second

// Egress hands each account the HTTP client its requests go out through.
// An account with a proxy_url gets a client of its own: a copy of the base
// client (its timeout and redirect policy) whose transport is a clone of
// the base transport (same timeouts and pooling) sent through that proxy,
// with no other. Accounts without one share the base client itself, so they
// keep what its transport does (the relay's honours HTTPS_PROXY from the
// environment). One client is made per distinct proxy_url and kept, so
// connections through a proxy are pooled like direct ones and survive a
// config reload that keeps the URL. The relay, the token refresher and
// `accounts test` each hold one. It is safe for concurrent use.
type Egress struct {
	base    *http.Client
	clients sync.Map // proxy URL as configured -> *http.Client
}

// NewEgress returns an Egress whose direct client is base (nil: a client
// with http.DefaultTransport). Proxied clients clone base's transport when
// it is an *http.Transport, else http.DefaultTransport: a custom
// RoundTripper cannot be pointed at a proxy.
func NewEgress(base *http.Client) *Egress {
	if base == nil {
		base = &http.Client{}
	}
	return &Egress{base: base}
}

// Client returns the client for a's requests: the base client for an
// account without a proxy_url, else the one through its proxy.
func (e *Egress) Client(a *Account) *http.Client {
	if a == nil || a.proxy == nil {
		return e.base
	}
	if c, ok := e.clients.Load(a.proxyURL); ok {
		return c.(*http.Client)
	}
	c, _ := e.clients.LoadOrStore(a.proxyURL, e.through(a.proxy))
	return c.(*http.Client)
}

// CloseIdleConnections closes the idle connections of the proxied
// clients; the base client's are its owner's to close.
func (e *Egress) CloseIdleConnections() {
	e.clients.Range(func(_, c any) bool {
		c.(*http.Client).CloseIdleConnections()
		return true
	})
}

// through makes a client that sends everything through the proxy at u.
func (e *Egress) through(u *url.URL) *http.Client {
	c := *e.base
	t, ok := e.base.Transport.(*http.Transport)
	if !ok {
		t = http.DefaultTransport.(*http.Transport)
	}
	t = t.Clone()
	switch u.Scheme {
	case "http", "https":
		// The user info becomes Proxy-Authorization, on CONNECT for
		// https targets and on each request for http ones.
		t.Proxy = http.ProxyURL(u)
	default: // socks5, socks5h: config.ParseProxyURL admits no other
		t.Proxy = nil
		dial, err := socksDial(u, t)
		if err != nil {
			c.Transport = failing{err}
			return &c
		}
		t.DialContext = dial
	}
	c.Transport = t
	return &c
}

// socksDial returns a DialContext that reaches each address through the
// SOCKS5 proxy at u, reaching the proxy itself with t's own dialer (its
// connect timeout and keep-alive). The proxy resolves host names.
func socksDial(u *url.URL, t *http.Transport) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	forward := t.DialContext
	if forward == nil {
		forward = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	d, err := proxy.FromURL(u, contextDialer(forward))
	if err != nil {
		// Never u itself: it may hold a password.
		return nil, fmt.Errorf("proxy_url: %s proxies are not supported", u.Scheme)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("proxy_url: the SOCKS5 dialer does not take a context")
	}
	handshake := t.TLSHandshakeTimeout
	if handshake <= 0 {
		handshake = socksHandshakeTimeout
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		// A proxy that accepts but never answers must not hold the
		// attempt until the request's own deadline.
		ctx, cancel := context.WithTimeout(ctx, handshake)
		defer cancel()
		return cd.DialContext(ctx, network, addr)
	}, nil
}

// contextDialer adapts a DialContext function to proxy.ContextDialer, so
// the SOCKS5 dialer reaches its proxy with the transport's dialer.
type contextDialer func(ctx context.Context, network, addr string) (net.Conn, error)

func (d contextDialer) Dial(network, addr string) (net.Conn, error) {
	return d(context.Background(), network, addr)
}

func (d contextDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d(ctx, network, addr)
}

// failing is the transport of an account whose proxy cannot be used: every
// request fails with why, as a network failure.
type failing struct{ err error }

func (f failing) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return nil, f.err
}
