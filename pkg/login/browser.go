package login

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultPorts are the callback ports Codex uses, in order: the issuer only
// accepts redirect URIs on the ports registered for Codex's client id, so
// the proxy must listen on one of them.
var DefaultPorts = []int{1455, 1457}

// Scope is what the browser flow asks for: an id token naming the account
// and a refresh token to keep the login alive.
const Scope = "openid profile email offline_access"

// callbackPath is where the issuer sends the browser back.
const callbackPath = "/auth/callback"

// BrowserLogin is a started browser sign-in: a callback server listens on
// 127.0.0.1 while the user signs in at URL.
type BrowserLogin struct {
	// URL is the authorize URL to open in a browser.
	URL string
	// RedirectURI is where the issuer sends the browser back.
	RedirectURI string

	c      *Client
	pkce   pkce
	state  string
	srv    *http.Server
	ctx    context.Context // ends the token exchange when the login is closed
	cancel context.CancelFunc
	once   sync.Once
	done   chan result
}

type result struct {
	tokens Tokens
	err    error
}

// StartBrowser starts the callback server on the first free port of ports
// (DefaultPorts when empty; 0 picks any, for tests) and builds the authorize
// URL with the parameters Codex sends.
func (c *Client) StartBrowser(ports []int) (*BrowserLogin, error) {
	if len(ports) == 0 {
		ports = DefaultPorts
	}
	var ln net.Listener
	var err error
	for _, p := range ports {
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			break
		}
	}
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("the callback port is in use (%v; another `codex login` or `proxy accounts login` running?): finish or stop it, or sign in with --device", ports)
		}
		return nil, fmt.Errorf("listening for the sign-in callback: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	b := &BrowserLogin{
		// localhost, not 127.0.0.1: the redirect URIs registered for
		// Codex's client id are written so.
		RedirectURI: "http://localhost:" + strconv.Itoa(port) + callbackPath,
		c:           c,
		pkce:        newPKCE(),
		state:       randomString(32),
		ctx:         ctx,
		cancel:      cancel,
		done:        make(chan result, 1),
	}
	q := url.Values{
		"response_type":              {"code"},
		"client_id":                  {c.ClientID},
		"redirect_uri":               {b.RedirectURI},
		"scope":                      {Scope},
		"code_challenge":             {b.pkce.challenge},
		"code_challenge_method":      {"S256"},
		"id_token_add_organizations": {"true"},
		"codex_cli_simplified_flow":  {"true"},
		"state":                      {b.state},
		"originator":                 {"codex_cli_rs"},
	}
	b.URL = c.issuer() + "/oauth/authorize?" + q.Encode()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+callbackPath, b.callback)
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

// callback handles the browser's return. A callback whose state is not
// this login's (a stale tab, another page) is answered 400 and ignored, as
// Codex does; the login keeps waiting for the right one.
func (b *BrowserLogin) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("state") != b.state {
		page(w, http.StatusBadRequest, "State mismatch", "This answer does not belong to the sign-in the proxy is waiting for (an old tab?). Use the link the terminal printed last.")
		return
	}
	if e := q.Get("error"); e != "" {
		msg := e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		msg = clip(msg)
		page(w, http.StatusForbidden, "Sign-in denied", msg)
		b.finish(Tokens{}, fmt.Errorf("%w: %s", ErrDenied, msg))
		return
	}
	code := q.Get("code")
	if code == "" {
		page(w, http.StatusBadRequest, "Sign-in failed", "The answer carries no authorization code.")
		b.finish(Tokens{}, errors.New("the sign-in callback carried no authorization code"))
		return
	}
	tokens, err := b.c.exchange(b.ctx, code, b.RedirectURI, b.pkce.verifier)
	if err != nil {
		page(w, http.StatusBadGateway, "Sign-in failed", err.Error())
		b.finish(Tokens{}, err)
		return
	}
	page(w, http.StatusOK, "Signed in", "The proxy has the login. You can close this tab and go back to the terminal.")
	b.finish(tokens, nil)
}

// finish records the first outcome; later callbacks change nothing.
func (b *BrowserLogin) finish(t Tokens, err error) {
	b.once.Do(func() { b.done <- result{t, err} })
}

// Wait waits for the browser to come back, for timeout on the client's
// Sleep, or for ctx. It returns ErrTimeout when nobody signed in in time.
func (b *BrowserLogin) Wait(ctx context.Context, timeout time.Duration) (Tokens, error) {
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	expired := make(chan struct{})
	go func() {
		if b.c.sleep(tctx, timeout) == nil {
			close(expired)
		}
	}()
	select {
	case r := <-b.done:
		return r.tokens, r.err
	case <-expired:
		return Tokens{}, fmt.Errorf("%w: nobody finished signing in within %s", ErrTimeout, timeout)
	case <-ctx.Done():
		return Tokens{}, ctx.Err()
	}
}

// Close stops the callback server and any exchange under way.
func (b *BrowserLogin) Close() error {
	b.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return b.srv.Shutdown(ctx)
}

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>proxy: %s</title><h1>%s</h1><p>%s</p>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}
