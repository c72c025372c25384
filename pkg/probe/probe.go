// Package probe checks upstream accounts for real, for `proxy accounts
// test`: it sends each account the smallest streaming request the Responses
// API accepts and reads the answer to its end, so a wrong base URL, a
// refused key, a used-up quota or a broken stream shows before a user's
// conversation runs into it. Every failure is put in words with what to do.
package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/sse"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// DefaultModel is asked for when neither the caller nor the account's
// allow-list names a model.
const DefaultModel = "gpt-5"

// DefaultTimeout bounds one account's whole check.
const DefaultTimeout = 20 * time.Second

// maxErrorBody bounds how much of an error reply is read: enough for any
// OpenAI-shaped error, not an HTML page of unbounded size.
const maxErrorBody = 64 << 10

// Options configure a check.
type Options struct {
	// Client sends the requests; nil uses a client that follows no
	// redirects (a redirect is reported, since the relay does not follow
	// them either) and honours HTTPS_PROXY like the relay. An account with
	// a proxy_url is checked through its proxy with a copy of it, as the
	// relay sends its requests (see account.Egress).
	Client *http.Client
	// Timeout bounds each account's check; 0 is DefaultTimeout.
	Timeout time.Duration
	// Model, when set, is asked for instead of the account's first literal
	// allowed model.
	Model string
	// Now is the clock for latencies and reset times; nil is time.Now.
	// Tests fix it so the output is stable.
	Now func() time.Time
	// Location is where reset times are shown; nil is time.Local.
	Location *time.Location
	// Refresher, when set, renews the access token of a ChatGPT account
	// that has expired or that the upstream refuses, and the check is made
	// again with the new one, as a running proxy would; so a login is
	// called dead only when its refresh token is. nil checks the token as
	// it is.
	Refresher TokenRefresher

	// egress picks each account's client from Client; CheckAll makes one
	// for all its checks, so they share connections to a proxy.
	egress *account.Egress
}

// TokenRefresher renews ChatGPT access tokens; *account.Refresher is one.
// It writes the renewed tokens back where they came from, so a check that
// refreshed leaves a fresh login behind.
type TokenRefresher interface {
	Refresh(ctx context.Context, a *account.Account, seenTag string) error
}

// Result is the outcome of checking one account.
type Result struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// API is "chat_completions" for an account checked on Chat
	// Completions; absent for the Responses API.
	API   string `json:"api,omitempty"`
	OK    bool   `json:"ok"`
	Model string `json:"model,omitempty"`
	// Status is the upstream's HTTP status; 0 when none arrived.
	Status int `json:"status"`
	// Error is the cause in words with what to do; "" when OK.
	Error string `json:"error,omitempty"`
	// TTFB is the time to the first stream event, Total to the end of the
	// check; zero when they were not reached.
	TTFB  time.Duration `json:"-"`
	Total time.Duration `json:"-"`
	// Limits are the x-codex-* rate-limit windows the upstream reported.
	Limits *health.Limits `json:"limits,omitempty"`
	// Refreshed reports that the account's access token was renewed (and
	// saved) during the check.
	Refreshed bool `json:"refreshed,omitempty"`
	// Sent reports whether a request went out (false when the account's
	// credentials could not even be read, or its token not refreshed).
	Sent bool `json:"-"`
	// Outcome is the classified result, in the terms the proxy's health
	// tracking uses, so a caller can record it as a running proxy would.
	Outcome health.Outcome `json:"-"`
	// WebSocket says whether a ChatGPT account that passed takes the
	// Responses WebSocket the proxy prefers for it: "ok", or why not (the
	// proxy then serves it over HTTP); "" when not checked.
	WebSocket string `json:"websocket,omitempty"`
}

// MarshalJSON adds the latencies in milliseconds, the unit scripts expect.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		Error   string `json:"error"`
		TTFBMs  int64  `json:"ttfb_ms"`
		TotalMs int64  `json:"total_ms"`
	}{plain(r), r.Error, r.TTFB.Milliseconds(), r.Total.Milliseconds()})
}

// Failed returns the result of an account that could not even be built
// (its credentials are missing or unreadable), so it is listed with the
// others instead of stopping the run.
func Failed(name, typ string, err error) Result {
	var shapes redact.Set // the account's secrets are unknown: by shape only
	msg := shapes.String(err.Error())
	return Result{Name: name, Type: typ, Error: "credentials: " + msg,
		Outcome: health.Outcome{Class: health.Unauthorized, Message: msg}}
}

// CheckAll checks every account concurrently and returns the results in the
// accounts' order.
func CheckAll(ctx context.Context, accounts []*account.Account, o Options) []Result {
	o = o.withDefaults()
	out := make([]Result, len(accounts))
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Go(func() { out[i] = Check(ctx, a, o) })
	}
	wg.Wait()
	return out
}

// Check sends a one-word streaming request to the account and reads the
// answer until response.completed. A ChatGPT account's expired access
// token is refreshed first, and a refused one refreshed and tried once more,
// when o.Refresher is set. What the result says about the answer is cleared
// of the account's secrets, old and renewed (and of anything shaped like a
// key or a token): an upstream that refuses a key may quote it.
func Check(ctx context.Context, a *account.Account, o Options) Result {
	secrets := a.Secrets()
	r := check(ctx, a, o)
	hide := redact.New(append(secrets, a.Secrets()...))
	r.Error = hide.String(r.Error)
	r.Outcome.Message = hide.String(r.Outcome.Message)
	r.WebSocket = hide.String(r.WebSocket)
	return r
}

func check(ctx context.Context, a *account.Account, o Options) Result {
	o = o.withDefaults()
	model := ModelFor(a, o.Model)
	r := Result{Name: a.Name, Type: string(a.Type), Model: model}
	if a.ChatCompletions() {
		r.API = config.APIChatCompletions
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	start := o.Now()
	refresh := o.Refresher != nil && a.CanRefresh()
	if refresh && a.NeedsRefresh(o.Now()) {
		// The relay would not send an expired token either.
		if err := o.Refresher.Refresh(ctx, a, a.AccessTag()); err != nil {
			r.Total = o.Now().Sub(start)
			refreshFailed(ctx, o, a, &r, err)
			return r
		}
		r.Refreshed = true
	}
	tag := a.AccessTag()
	attempt(ctx, o, a, model, start, &r)
	if !refresh || r.Refreshed || r.Outcome.Class != health.Unauthorized {
		checkWebSocket(ctx, o, a, &r)
		return r
	}
	// Refused: the token may have been revoked early, or replaced by
	// another program; a refresh tells a dead login from a stale token.
	if err := o.Refresher.Refresh(ctx, a, tag); err != nil {
		r.Total = o.Now().Sub(start)
		refreshFailed(ctx, o, a, &r, err)
		return r
	}
	retry := Result{Name: r.Name, Type: r.Type, API: r.API, Model: model, Refreshed: true}
	attempt(ctx, o, a, model, start, &retry)
	checkWebSocket(ctx, o, a, &retry)
	return retry
}

// checkWebSocket opens and closes a Responses WebSocket to a ChatGPT
// account that passed, as the proxy would for a client on a WebSocket.
func checkWebSocket(ctx context.Context, o Options, a *account.Account, r *Result) {
	if !r.OK || a.Type != account.OpenAIResponses {
		return
	}
	h := http.Header{"Openai-Beta": {account.WebSocketBeta}}
	a.Authorize(h)
	c, resp, err := websocket.Dial(ctx, a.Target("/responses", ""), &websocket.DialOptions{HTTPClient: o.egress.Client(a), HTTPHeader: h})
	switch {
	case err == nil:
		_ = c.CloseNow()
		r.WebSocket = "ok"
	case resp != nil:
		r.WebSocket = fmt.Sprintf("refused (%d): the proxy serves it over HTTP", resp.StatusCode)
	default:
		r.WebSocket = "failed (" + describeNetError(err, o.Timeout) + "): the proxy serves it over HTTP"
	}
}

// attempt sends the request once and fills r with the answer.
func attempt(ctx context.Context, o Options, a *account.Account, model string, start time.Time, r *Result) {
	r.Sent = true
	resp, err := send(ctx, o.egress.Client(a), a, a.BaseURL, model)
	if err != nil {
		r.Total = o.Now().Sub(start)
		r.Outcome = health.Outcome{Class: health.Network, Message: err.Error()}
		r.Error = describeNetError(err, o.Timeout)
		return
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	r.Limits = limitsOf(resp.Header, o.Now())
	if resp.StatusCode == http.StatusProxyAuthRequired {
		// The account's proxy answered, not its upstream: its path is
		// broken, as the relay counts it.
		r.Total = o.Now().Sub(start)
		r.Error = "407 the proxy refused the user name and password in proxy_url"
		r.Outcome = health.Outcome{Class: health.Network, Status: resp.StatusCode, Message: r.Error}
		return
	}

	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		r.Total = o.Now().Sub(start)
		r.Outcome = health.Classify(o.Now(), resp.StatusCode, resp.Header, body, nil)
		r.Error = describeStatus(ctx, o, a, model, resp, body, r.Outcome, r.Refreshed)
		return
	}
	readStream(ctx, o, resp, start, r)
}

// readStream reads events until response.completed, filling in the
// latencies and, when the stream does not complete, the cause.
func readStream(ctx context.Context, o Options, resp *http.Response, start time.Time, r *Result) {
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		r.Total = o.Now().Sub(start)
		r.Error = fmt.Sprintf("answered %q, not an event stream: base_url does not point at a Responses API", ct)
		r.Outcome = health.Outcome{Class: health.ServerError, Status: resp.StatusCode, Message: r.Error}
		return
	}
	rd := sse.NewReader(resp.Body)
	first := true
	for {
		ev, err := rd.Next()
		if err != nil {
			r.Total = o.Now().Sub(start)
			switch {
			case ctx.Err() != nil:
				r.Error = fmt.Sprintf("timed out after %s waiting for response.completed (raise --timeout?)", o.Timeout)
			default:
				r.Error = "stream ended before response.completed: the upstream or a proxy in between cut it"
			}
			r.Outcome = health.Outcome{Class: health.ServerError, Status: resp.StatusCode, Message: r.Error}
			return
		}
		if first && len(bytes.TrimSpace(ev)) > 0 {
			r.TTFB, first = o.Now().Sub(start), false
		}
		res, done := sse.Completion(ev)
		if !done {
			continue
		}
		r.Total = o.Now().Sub(start)
		switch sse.Type(ev) {
		case "response.completed":
			r.OK = true
			r.Outcome = health.Outcome{Class: health.OK, Status: resp.StatusCode}
		case "response.incomplete":
			// A one-word answer cut by a token limit still proves the
			// account serves; say so rather than fail it.
			r.OK = true
			r.Outcome = health.Outcome{Class: health.OK, Status: resp.StatusCode}
		default:
			r.Outcome = health.ClassifyFailedStream(res.ErrorCode, res.ErrorMessage)
			r.Error = "response.failed: " + strings.TrimSpace(res.ErrorCode+" "+res.ErrorMessage)
		}
		return
	}
}

// ModelFor is the model a check asks for: the caller's, else the account's
// first allow-list entry that is a plain name rather than a glob, else
// DefaultModel.
func ModelFor(a *account.Account, model string) string {
	if model != "" {
		return model
	}
	for _, m := range a.Models {
		if !strings.ContainsAny(m, `*?[\`) {
			return m
		}
	}
	return DefaultModel
}

// send posts the smallest request that makes a stream to the API base
// (base_url, or base_url+"/v1" for a suggestion) in the API the account
// speaks, under the account's name for the model: for the Responses API
// one word of input, stream:true and store:false (the ChatGPT backend
// refuses anything else); for Chat Completions one user message.
func send(ctx context.Context, c *http.Client, a *account.Account, base, model string) (*http.Response, error) {
	model = a.MapModel(model)
	url := base + apiPath(a)
	var body []byte
	if a.ChatCompletions() {
		body, _ = json.Marshal(map[string]any{ // cannot fail: plain values
			"model":    model,
			"messages": []any{map[string]any{"role": "user", "content": "ping"}},
			"stream":   true,
		})
	} else {
		body, _ = json.Marshal(map[string]any{ // cannot fail: plain values
			"model": model,
			"input": []any{map[string]any{
				"type": "message", "role": "user",
				"content": []any{map[string]any{"type": "input_text", "text": "ping"}},
			}},
			"stream": true,
			"store":  false,
		})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	a.Authorize(req.Header)
	resp, err := c.Do(req)
	if err == nil && a.ChatCompletions() && resp.StatusCode == http.StatusOK && health.IsAPIAnswer(resp.Header, nil) {
		// The proxy reads a chat account's answer as Responses events:
		// the check reads what the proxy would.
		resp.Body = translate.Rebuild(resp.Body, resp.Header.Get("Content-Type"), nil, translate.RebuildOptions{})
		resp.Header.Set("Content-Type", "text/event-stream")
	}
	return resp, err
}

// apiPath is the path of the account's API under its base URL.
func apiPath(a *account.Account) string {
	if a.ChatCompletions() {
		return "/chat/completions"
	}
	return "/responses"
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = &http.Client{
			Transport:     &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.egress == nil {
		o.egress = account.NewEgress(o.Client)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	return o
}
