package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/keylimit"
	"github.com/proxy-dev/proxy/pkg/pool"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// serve handles one API request from the client to its end.
func (rl *Relay) serve(w http.ResponseWriter, r *http.Request, suffix string) {
	if isWebSocket(r) {
		rl.serveWebSocket(w, r, suffix)
		return
	}
	rl.serveHTTP(w, r, "", suffix, session.Parse, (*Relay).relay)
}

// apiRequest serves a request for suffix whose body has been read and
// parsed. A method expression, so choosing one allocates nothing.
type apiRequest func(rl *Relay, w http.ResponseWriter, r *http.Request, suffix string, body []byte, req session.Request, rec *event.Decision, sent func())

// serveHTTP takes an API request in by a front door over HTTP (door names
// it in the record, "" for the Responses API) and hands it, read and
// parsed, to serve; its record is written once it has ended.
func (rl *Relay) serveHTTP(w http.ResponseWriter, r *http.Request, door, suffix string, parse func(http.Header, []byte) (session.Request, error), serve apiRequest) {
	rl.active.Add(1)
	defer rl.active.Done()
	rec := rl.newDecision(r)
	rec.Door = door
	defer rl.finishRequest(rec)
	w.Header().Set("X-Proxy-Request-Id", rec.RequestID)
	body, sent, ok := rl.intake(w, r, rec)
	if !ok {
		return
	}
	defer sent()
	req, err := parse(r.Header, body)
	if apiErr := refusedModel(err, req, rec); apiErr != nil {
		rl.fail(w, rec, apiErr)
		return
	}
	if err != nil {
		what := "Responses API"
		if door == event.DoorChat {
			what = "Chat Completions"
		}
		rl.fail(w, rec, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"the request body is not a valid JSON object; send the "+what+" request as JSON").WithCode("invalid_json"))
		return
	}
	rec.Session, rec.Source, rec.Model, rec.Stream = req.Key.Short(), string(req.Key.Source), req.Model, req.Stream
	serve(rl, w, r, suffix, body, req, rec, sent)
}

// newDecision starts the record of an HTTP request.
func (rl *Relay) newDecision(r *http.Request) *event.Decision {
	return &event.Decision{
		Time:      rl.o.Now(),
		RequestID: newRequestID(),
		Client:    ClientFrom(r.Context()),
		Path:      r.URL.Path,
		Source:    string(session.SourceNone),
	}
}

// finishRequest closes the record of an HTTP request once it has ended.
func (rl *Relay) finishRequest(rec *event.Decision) {
	rec.Duration = rl.o.Now().Sub(rec.Time)
	rl.finish(rec)
}

// intake takes in what every API request starts with: a POST, and its
// body within the body limits, answering the client itself when either is
// wrong (ok false). sent gives the body's share of the budget back: once an
// answer is passed on (no attempt needs the bytes any more), or, deferred
// by the caller, when the request ends.
func (rl *Relay) intake(w http.ResponseWriter, r *http.Request, rec *event.Decision) (body []byte, sent func(), ok bool) {
	if apiErr := rl.prepare(r); apiErr != nil {
		rl.fail(w, rec, apiErr)
		return nil, nil, false
	}
	body, held, apiErr := rl.body(w, r)
	if apiErr != nil {
		rl.fail(w, rec, apiErr)
		return nil, nil, false
	}
	if bodyRead != nil {
		bodyRead(body)
	}
	return body, sync.OnceFunc(func() { rl.o.Bodies.give(held) }), true
}

// bodyRead, when set (tests only), sees every request body the relay reads,
// so a test can check the bytes are let go once sent.
var bodyRead func([]byte)

// prepare refuses what is not a plain POST before the body is read.
func (rl *Relay) prepare(r *http.Request) *apierror.Error {
	if r.Method != http.MethodPost {
		return apierror.New(http.StatusMethodNotAllowed, apierror.TypeInvalidRequest,
			fmt.Sprintf("%s %s is not supported; use POST", r.Method, r.URL.Path)).WithCode("method_not_allowed")
	}
	return nil
}

// body reads the request body within the body-read deadline, turning read
// failures into client errors. held is what it reserved of the body
// budget, to give back when the request ends.
func (rl *Relay) body(w http.ResponseWriter, r *http.Request) (body []byte, held int64, _ *apierror.Error) {
	rc := http.NewResponseController(w)
	// A client trickling its body must not hold a connection for ever. The
	// deadline is real time, whatever clock the relay decides with.
	_ = rc.SetReadDeadline(time.Now().Add(rl.o.BodyRead))
	body, held, err := readBody(r, rl.o.MaxBodyBytes, rl.o.Bodies)
	// The stream may run for many minutes; only the body had a deadline.
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		// What is left of the body is not read: close the connection after
		// the answer instead of draining it.
		w.Header().Set("Connection", "close")
		_ = rc.SetReadDeadline(time.Now())
	}
	switch {
	case err == nil:
		return body, held, nil
	case errors.Is(err, errBodyTooLarge):
		return nil, 0, apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest,
			fmt.Sprintf("request body is larger than the proxy's limit of %d bytes; raise max_body_bytes in the proxy config or shorten the conversation", rl.o.MaxBodyBytes)).WithCode("request_too_large")
	case errors.Is(err, errBodyBudget):
		e := apierror.New(http.StatusServiceUnavailable, apierror.TypeServer,
			fmt.Sprintf("the proxy is holding as many request bodies as its memory budget allows (limits.body_memory, %d bytes); retry in a moment", rl.o.Bodies.Limit())).WithCode("proxy_busy")
		e.RetryAfter = time.Second
		return nil, 0, e
	case errors.Is(err, errEncoding):
		return nil, 0, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"cannot decode request body: "+err.Error()).WithCode("bad_content_encoding")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, 0, apierror.New(http.StatusRequestTimeout, apierror.TypeInvalidRequest,
			fmt.Sprintf("the request body did not arrive within %s (timeouts.body_read); check the client's connection", rl.o.BodyRead)).WithCode("request_timeout")
	default:
		return nil, 0, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"cannot read request body: "+err.Error()).WithCode("bad_request_body")
	}
}

// relay runs the loop of one request: lease an account, send, report the
// outcome, and either forward the answer or fail over. Failover happens
// only before any output reaches the client, so the client sees one
// ordinary response.
// sent is called once an answer is committed to the client: the body is
// not needed for another attempt after that.
func (rl *Relay) relay(w http.ResponseWriter, r *http.Request, suffix string, body []byte, req session.Request, rec *event.Decision, sent func()) {
	ctx := r.Context()
	admission, allow, refused := rl.admit(ctx, req, rec)
	if refused != nil {
		rl.fail(w, rec, refused)
		return
	}
	defer admission.Release()
	conv := rl.newConvItems(body, req.Key.Hash)
	exclude := map[string]bool{}
	// A turn whose stream failed after output was retried by the client:
	// serve the retry elsewhere if anything else can.
	avoiding := rl.avoid.get(req.Key.Hash)
	if avoiding != "" {
		exclude[avoiding] = true
	}
	var (
		held    *attempt       // the last failed answer, passed on if nothing better comes
		heldOut health.Outcome // its outcome
		why     string         // why the last attempt failed
		selErr  error
	)
	defer func() {
		if held != nil {
			held.close()
		}
	}()
	for len(rec.Attempts) < rl.o.MaxAttempts {
		lease, err := rl.pool.Lease(ctx, scheduler.Request{Session: req.Key, Model: req.Model, Client: rec.Client, Exclude: exclude, Owner: conv.ownerFunc(), API: neededAPI(ctx, suffix), Allow: allow}, rl.o.SlotWait)
		d := lease.Decision
		if err != nil && !errors.Is(err, pool.ErrBusy) && avoiding != "" {
			// Nothing else can serve, or everything else failed: the account
			// to avoid is the last resort, better than any other's refusal.
			delete(exclude, avoiding)
			lastResort := avoiding
			avoiding = ""
			if len(rec.Attempts) > 0 {
				why += "; back to " + lastResort + ", avoided since its last try of this turn failed mid-stream"
			}
			continue
		}
		if len(rec.Attempts) == 0 {
			rec.Candidates, rec.Reason, rec.Detail = d.Candidates, string(d.Reason), d.Detail
			if avoiding != "" {
				rec.Reason, rec.Detail = string(scheduler.ReasonFailover), "the last try of this turn on "+avoiding+" failed mid-stream"
			}
		}
		if errors.Is(err, pool.ErrBusy) {
			why = fmt.Sprintf("account busy (max_concurrency %d reached)", d.Account.MaxConcurrency)
			rec.Attempts = append(rec.Attempts, event.Attempt{Account: d.Account.Name, Class: "busy", Error: why})
			exclude[d.Account.Name] = true
			continue
		}
		if err != nil {
			selErr = err
			break
		}
		a := d.Account
		conv.decided(d)
		if len(rec.Attempts) > 0 {
			rec.Reason = string(scheduler.ReasonFailover)
			rec.Detail = "failover from " + rec.Attempts[len(rec.Attempts)-1].Account + ": " + why
		}
		rec.Account, rec.Type, rec.Target = a.Name, string(a.Type), a.DisplayTarget(upstreamSuffix(a, suffix))
		rec.API, rec.UpstreamModel = apiName(a), ""
		if m := a.MapModel(req.Model); m != req.Model {
			rec.UpstreamModel = m
		}
		own := len(rec.Attempts) == 0 && d.Reason == scheduler.ReasonSticky
		at := rl.try(ctx, a, suffix, r, body, req, own, conv)
		at.lease = lease
		rec.Translated = at.translated
		if at.refusal != nil {
			at.close()
			rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Class: string(health.ClientError), Error: at.refusal.Message})
			rl.fail(w, rec, at.refusal)
			return
		}
		if ctx.Err() != nil {
			at.close()
			rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Status: at.status(), Error: "client closed the request"})
			rec.Status, rec.Error = 499, "client closed the request"
			return
		}
		out := at.outcome(rl.o.Now())
		var h http.Header
		if at.resp != nil {
			h = at.resp.Header
		}
		rl.pool.Report(a, h, out)
		if !out.Class.Failover() {
			rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Status: at.status()})
			recordItems(rec, at.change)
			sent()
			rl.forward(w, at, rec, req.Key.Hash)
			return
		}
		at.failureReported = true
		why = rl.o.Redact.String(describe(out))
		rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Status: at.status(), Class: string(out.Class), Error: why})
		exclude[a.Name] = true
		if held != nil {
			held.close()
		}
		held, heldOut = at, out
	}
	if errors.Is(selErr, scheduler.ErrNotAllowed) {
		r := admission.Accounts.Refuse(req.Model)
		rec.Limit = r.Limit
		rl.fail(w, rec, r.APIError())
		return
	}
	// A held answer passed on is closed by forward; closing twice is safe.
	var unavailable *scheduler.UnavailableError
	if door := chatDoorFrom(ctx); door != nil && len(door.req.NativeOnly) > 0 && errors.Is(selErr, scheduler.ErrNoAccount) && !errors.As(selErr, &unavailable) && len(rec.Attempts) == 0 {
		rl.fail(w, rec, nativeOnlyError(door.req.NativeOnly))
		return
	}
	rl.giveUp(w, rec, held, heldOut, selErr, why, neededAPI(ctx, suffix))
}

// admit checks the client key's limits before any account is tried:
// refused is the answer when one refuses the request; allow keeps the
// request to the key's accounts (nil: any).
func (rl *Relay) admit(ctx context.Context, req session.Request, rec *event.Decision) (_ keylimit.Admission, allow func(*account.Account) bool, refused *apierror.Error) {
	if rl.o.Limits == nil {
		return keylimit.Admission{}, nil, nil
	}
	a, err := rl.o.Limits.Admit(ctx, rec.Client, req.Model)
	var r *keylimit.Refusal
	if errors.As(err, &r) {
		rec.Limit = r.Limit
		return a, nil, r.APIError()
	}
	if a.Accounts != nil {
		allow = a.Accounts.Allows
	}
	return a, allow, nil
}

// giveUp answers when no attempt produced an answer worth passing on.
// api is the API the request needed its account to speak, "" for any.
func (rl *Relay) giveUp(w http.ResponseWriter, rec *event.Decision, held *attempt, heldOut health.Outcome, selErr error, why, api string) {
	var unavailable *scheduler.UnavailableError
	switch {
	case errors.As(selErr, &unavailable) && (held == nil || unavailable.AllQuota || (held.resp == nil && outOrBack(unavailable))):
		// Every account is known to be out: say why each is, and until
		// when, so Codex tells the user when to come back instead of
		// retrying in vain.
		rl.fail(w, rec, unavailableError(unavailable, rec, rl.o.Now()))
	case held != nil && heldOut.Class == health.Unauthorized && held.account.Type == account.OpenAIResponses:
		// The upstream's own "token expired, sign in again" would send the
		// user to the wrong login: it is the proxy's account that needs one.
		rl.fail(w, rec, loginError(held.account, heldOut))
	case held != nil && heldOut.Class == health.NotAPI:
		// A page or a redirect is not an answer the client can use, and
		// a Location it followed would take the request body with it.
		rl.fail(w, rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
			fmt.Sprintf("every account tried answered something that is not the API (last: %s, %s): a captive portal, a CDN challenge or a redirect stands between the proxy and the upstream; check the account's base_url and network, and see `proxy accounts list`", rec.Account, rl.o.Redact.String(heldOut.Message))).WithCode("upstream_not_api"))
	case held != nil && held.resp != nil:
		// Every account tried failed: pass the last upstream answer on, so
		// the client sees the upstream's own error (and its Retry-After).
		rl.forward(w, held, rec, "")
	case held != nil:
		rl.fail(w, rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
			fmt.Sprintf("every account tried failed (last: %s: %s); retry later, and see `proxy accounts list` for each account's state", rec.Account, why)).WithCode("upstream_unreachable"))
	case busyAttempts(rec) > 0:
		e := apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount,
			"every account that can serve this request is at its max_concurrency; retry in a moment, or raise max_concurrency or add an account").WithCode("accounts_busy")
		e.RetryAfter = time.Second
		rl.fail(w, rec, e)
	case api == config.APIResponses:
		rl.fail(w, rec, apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount,
			"no available account: "+rec.Path+" is served only by accounts that speak the Responses API, and none in the proxy's config can serve it (an account with api: chat_completions compacts in /responses instead: a compaction_trigger gets a summary turn); run `proxy accounts list`").WithCode(apierror.TypeNoAvailableAccount))
	default:
		rl.fail(w, rec, apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount,
			noAccountMessage(rec.Model)).WithCode(apierror.TypeNoAvailableAccount))
	}
}

// busyAttempts counts the accounts a request found full.
func busyAttempts(rec *event.Decision) int {
	n := 0
	for _, a := range rec.Attempts {
		if a.Class == "busy" {
			n++
		}
	}
	return n
}

// noAccountMessage explains a pool with no account for the request.
func noAccountMessage(model string) string {
	if model == "" {
		return "no available account: no enabled account in the proxy's config can serve this request; run `proxy accounts list` to see why"
	}
	return fmt.Sprintf("no available account: no enabled account in the proxy's config serves model %q; check each account's models list with `proxy accounts list`", model)
}

// loginError tells the user which account's ChatGPT login needs them.
func loginError(a *account.Account, o health.Outcome) *apierror.Error {
	return apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount,
		fmt.Sprintf("the ChatGPT login of account %s has expired or was revoked (%s), and no other account can serve; run `proxy accounts login %s` (or `codex login`, then `proxy accounts import-codex --name %s`), then reload the proxy",
			a.Name, o.Message, a.Name, a.Name)).WithCode("account_login_expired")
}

// try sends the request to account a and reads ahead what classification
// needs. A ChatGPT token that has expired is refreshed first, and one
// refused as a credential (401, or a 403 that names the token) is
// refreshed once and the request sent again. own says the account is the
// conversation's own on its first try, so a turn state without the proxy's
// tag may go to it.
func (rl *Relay) try(ctx context.Context, a *account.Account, suffix string, r *http.Request, body []byte, req session.Request, own bool, conv *convItems) *attempt {
	if rl.pool.CanRefresh(a) && a.NeedsRefresh(rl.o.Now()) {
		if err := rl.pool.Refresh(ctx, a, a.AccessTag()); err != nil && ctx.Err() == nil {
			rl.o.Logger.Warn("refreshing token before request", "account", a.Name, "err", err)
			if errors.Is(err, account.ErrLoginExpired) {
				return &attempt{account: a, err: err, forced: &health.Outcome{Class: health.Unauthorized, Status: http.StatusUnauthorized, Message: err.Error()}}
			}
		}
	}
	// Only what a can read goes to it (its own items, kept as minted).
	clean, change, fail := conv.bodyFor(ctx, a, r, 0)
	if fail != nil {
		return fail
	}
	if clean != nil {
		body = clean
	}
	if ws := wsRequestFrom(ctx); ws != nil {
		ws.frame.cleaned = change != nil
	}
	at := rl.sendPrepared(ctx, a, suffix, r, body, req, own)
	at.conv, at.change = conv, change
	if kind, ok := at.refused(); ok && conv != nil {
		return rl.retryRefused(ctx, a, suffix, r, req, own, at, kind)
	}
	return at
}

// sendPrepared shapes body for a's API and sends it; a credential
// refused as such (a 401, or a 403 that names the token) is refreshed once
// and the request sent again.
func (rl *Relay) sendPrepared(ctx context.Context, a *account.Account, suffix string, r *http.Request, body []byte, req session.Request, own bool) *attempt {
	f, err := rl.formFor(ctx, a, suffix, body, req)
	var te *translate.Error
	if errors.As(err, &te) {
		// The request cannot be put in the account's API: the client's to
		// hear, not the account's fault.
		return &attempt{account: a, refusal: chatRequestError(err)}
	}
	if err != nil {
		return &attempt{account: a, err: err}
	}
	tag := a.AccessTag()
	at := rl.send(ctx, a, f, r, own)
	if !rl.pool.CanRefresh(a) || !at.credentialRefused(rl.o.Now()) {
		return at
	}
	err = rl.pool.Refresh(ctx, a, tag)
	if err != nil {
		if ctx.Err() == nil {
			rl.o.Logger.Warn("refreshing token after the upstream refused it", "account", a.Name, "status", at.status(), "err", err)
		}
		if !errors.Is(err, account.ErrLoginExpired) {
			// The token endpoint failed, not the login: a passing outage,
			// not a reason to mark the account invalid.
			at.forced = &health.Outcome{Class: health.Network, Status: at.status(), Message: "token refresh failed: " + err.Error()}
		} else {
			at.forced = &health.Outcome{Class: health.Unauthorized, Status: at.status(), Message: err.Error()}
		}
		return at
	}
	at.close()
	return rl.send(ctx, a, f, r, own)
}

// retryRefused answers an upstream that refused account-bound items it
// cannot read: the request goes once more to the same account, without
// every item of the refused kind (a foreign compaction replaced as
// usual), invisibly to the client. The conversation remembers it, so its
// next turns are cleaned before they are sent. A refusal is never the
// account's fault: it is not counted against its health and never
// rotates accounts; one that stands after the retry is passed on.
func (rl *Relay) retryRefused(ctx context.Context, a *account.Account, suffix string, r *http.Request, req session.Request, own bool, at *attempt, kind items.Kind) *attempt {
	conv := at.conv
	conv.ledger.NoteRefused(conv.session, a.Name, kind)
	rl.o.Logger.Info("the account refused conversation items it cannot read; sending again without them", "account", a.Name, "kind", kind.String(), "session", shortHash(conv.session))
	clean, change, fail := conv.bodyFor(ctx, a, r, kind)
	if fail != nil {
		at.close()
		return fail
	}
	if change.Empty() {
		at.forced = refusalStands(at)
		return at
	}
	at.close()
	change.Refused = kind
	if ws := wsRequestFrom(ctx); ws != nil {
		ws.frame.cleaned = true
	}
	at = rl.sendPrepared(ctx, a, suffix, r, clean, req, own)
	at.conv, at.change = conv, change
	if _, again := at.refused(); again {
		at.forced = refusalStands(at)
	}
	return at
}

// refusalStands is the outcome of a refusal the proxy cannot cure: the
// client's to see, as its request's own fault.
func refusalStands(at *attempt) *health.Outcome {
	return &health.Outcome{Class: health.ClientError, Status: at.status(), Code: items.CodeInvalidEncryptedContent,
		Message: "the account refused conversation items it cannot read, even without the ones another account minted"}
}

// send makes one upstream request in form f and reads ahead.
func (rl *Relay) send(ctx context.Context, a *account.Account, f sendForm, r *http.Request, own bool) *attempt {
	actx, cancel := context.WithCancel(ctx)
	at := &attempt{account: a, cancel: cancel, gather: f.gather, translated: f.translated}
	suffix, body := f.suffix, f.body
	up, err := http.NewRequestWithContext(actx, http.MethodPost, a.Target(suffix, r.URL.RawQuery), http.NoBody)
	if err != nil {
		at.err = err
		return at
	}
	// No GetBody: a replay is the relay's own failover, never the
	// transport's, and GetBody would keep the body alive for the stream.
	if len(body) > 0 {
		up.Body, up.ContentLength = newSentBody(body), int64(len(body))
	}
	up.Header = outgoingHeader(r.Header)
	turnStateFor(up.Header, a.Name, own)
	a.Authorize(up.Header)
	resp, err := rl.roundTrip(actx, a, suffix, up, body)
	if err != nil {
		at.err = err
		return at
	}
	if resp.StatusCode == http.StatusProxyAuthRequired {
		// No API answers 407 itself: a proxy on the way (the account's
		// proxy_url) refused its credentials. The account's path is
		// broken, not the client's request: fail over, and never pass the
		// proxy's challenge on.
		_ = resp.Body.Close()
		at.err = errors.New("the outbound proxy refused its credentials (407): check proxy_url")
		return at
	}
	f.answer(resp, rl)
	resp.Body, at.idle = watchIdle(resp.Body, rl.o.StreamIdle, cancel)
	at.resp = resp
	at.readAhead(rl.o.MaxEventBytes, rl.o.Hold, rl.o.Now, rl.o.Redact)
	if at.idle.Expired() && at.next == nil && at.nextErr != nil {
		at.nextErr = errors.New(idleCause(rl.o.StreamIdle))
	}
	return at
}

// roundTrip sends the request: over the client connection's upstream
// WebSocket when the request came as a WebSocket message and a is a
// ChatGPT account that takes one, else over HTTP.
func (rl *Relay) roundTrip(ctx context.Context, a *account.Account, suffix string, up *http.Request, body []byte) (*http.Response, error) {
	if ws := wsRequestFrom(ctx); ws != nil && a.Type == account.OpenAIResponses && suffix == "/responses" {
		resp, err := ws.up.roundTrip(ctx, a, up, body, &ws.frame)
		ws.overWS = !errors.Is(err, errUseHTTP)
		if ws.overWS {
			return resp, err
		}
	}
	return rl.clientFor(a).Do(up)
}

// fail answers the client with an error the proxy made itself.
func (rl *Relay) fail(w http.ResponseWriter, rec *event.Decision, e *apierror.Error) {
	rec.Status, rec.Error = e.Status, e.Message
	e.Write(w)
}
