package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/session"
)

// serve handles one API request from the client to its end.
func (rl *Relay) serve(w http.ResponseWriter, r *http.Request, suffix string) {
	start := rl.o.Now()
	rec := &event.Decision{
		Time:      start,
		RequestID: newRequestID(),
		Client:    ClientFrom(r.Context()),
		Path:      r.URL.Path,
		Source:    string(session.SourceNone),
	}
	defer func() {
		rec.Duration = rl.o.Now().Sub(start)
		rl.finish(rec)
	}()
	w.Header().Set("X-Proxy-Request-Id", rec.RequestID)

	if apiErr := rl.prepare(r, rec); apiErr != nil {
		rl.fail(w, rec, apiErr)
		return
	}
	body, apiErr := rl.body(r)
	if apiErr != nil {
		rl.fail(w, rec, apiErr)
		return
	}
	req, err := session.Parse(r.Header, body)
	if err != nil {
		rl.fail(w, rec, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"request body is not a valid JSON object: "+err.Error()).WithCode("invalid_json"))
		return
	}
	rec.Session, rec.Source, rec.Model, rec.Stream = req.Key.Short(), string(req.Key.Source), req.Model, req.Stream

	rl.relay(w, r, suffix, body, req, rec)
}

// prepare refuses what is not a plain POST before the body is read.
func (rl *Relay) prepare(r *http.Request, rec *event.Decision) *apierror.Error {
	if isWebSocket(r) {
		// Codex's built-in provider tries a WebSocket first; 426 makes it
		// fall back to HTTP at once (404 costs ~6.5 s of retries).
		return apierror.New(http.StatusUpgradeRequired, apierror.TypeInvalidRequest,
			"WebSocket is not supported by this proxy; send the request as an HTTP POST").WithCode("websocket_not_supported")
	}
	if r.Method != http.MethodPost {
		return apierror.New(http.StatusMethodNotAllowed, apierror.TypeInvalidRequest,
			fmt.Sprintf("%s %s is not supported; use POST", r.Method, r.URL.Path)).WithCode("method_not_allowed")
	}
	return nil
}

// body reads the request body, turning read failures into client errors.
func (rl *Relay) body(r *http.Request) ([]byte, *apierror.Error) {
	body, err := readBody(r, rl.o.MaxBodyBytes)
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, errBodyTooLarge):
		return nil, apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest,
			fmt.Sprintf("request body is larger than the proxy's limit of %d bytes; raise max_body_bytes in the proxy config or shorten the conversation", rl.o.MaxBodyBytes)).WithCode("request_too_large")
	case errors.Is(err, errEncoding):
		return nil, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"cannot decode request body: "+err.Error()).WithCode("bad_content_encoding")
	default:
		return nil, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"cannot read request body: "+err.Error()).WithCode("bad_request_body")
	}
}

// relay tries accounts until one answers with something worth passing on,
// then streams it to the client. Failover happens only before the first
// byte reaches the client, so the client sees one ordinary response.
func (rl *Relay) relay(w http.ResponseWriter, r *http.Request, suffix string, body []byte, req session.Request, rec *event.Decision) {
	ctx := r.Context()
	exclude := map[string]bool{}
	var (
		held   *attempt // the last failed answer, passed on if nothing better comes
		why    string   // why the last attempt failed
		selErr error
	)
	defer func() {
		if held != nil {
			held.close()
		}
	}()
	for len(rec.Attempts) < rl.o.MaxAttempts {
		d, err := rl.sel.Select(ctx, scheduler.Request{Session: req.Key, Model: req.Model, Client: rec.Client, Exclude: exclude})
		if len(rec.Attempts) == 0 {
			rec.Candidates, rec.Reason, rec.Detail = d.Candidates, string(d.Reason), d.Detail
		}
		if err != nil {
			selErr = err
			break
		}
		a := d.Account
		if len(rec.Attempts) > 0 {
			rec.Reason = string(scheduler.ReasonFailover)
			rec.Detail = "failover from " + rec.Attempts[len(rec.Attempts)-1].Account + ": " + why
		}
		rec.Account, rec.Type, rec.Target = a.Name, string(a.Type), a.Target(suffix, "")

		wait := time.Duration(0)
		if d.Reason == scheduler.ReasonSticky {
			wait = rl.o.SlotWait // a short wait beats moving the conversation
		}
		release, ok := rl.o.Health.Acquire(ctx, a, wait)
		if !ok {
			why = fmt.Sprintf("account busy (max_concurrency %d reached)", a.MaxConcurrency)
			rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Class: "busy", Error: why})
			exclude[a.Name] = true
			continue
		}
		at := rl.try(ctx, a, suffix, r, body, req)
		at.release = release
		if ctx.Err() != nil {
			at.close()
			rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Status: at.status(), Error: "client closed the request"})
			rec.Status, rec.Error = 499, "client closed the request"
			return
		}
		if at.resp != nil {
			rl.o.Health.ObserveLimits(a.Name, at.resp.Header)
		}
		out := at.outcome(rl.o.Now())
		rl.o.Health.Report(ctx, a, out)
		if !out.Class.Failover() {
			rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Status: at.status()})
			rl.forward(w, at, rec)
			return
		}
		why = describe(out)
		rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Status: at.status(), Class: string(out.Class), Error: why})
		exclude[a.Name] = true
		if held != nil {
			held.close()
		}
		held = at
	}

	var unavailable *scheduler.UnavailableError
	switch {
	case errors.As(selErr, &unavailable) && (held == nil || held.resp == nil || unavailable.AllQuota):
		// Every account is known to be out: say until when, so Codex tells
		// the user when to come back instead of retrying in vain.
		rl.fail(w, rec, unavailableError(unavailable, rl.o.Now()))
	case held != nil && held.resp != nil:
		// Every account tried failed: pass the last upstream answer on, so
		// the client sees the upstream's own error (and its Retry-After).
		at := held
		held = nil
		rl.forward(w, at, rec)
	case held != nil:
		rl.fail(w, rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
			fmt.Sprintf("no upstream account answered (last: %s: %s); the proxy will retry other accounts on your next request", rec.Account, why)).WithCode("upstream_unreachable"))
	default:
		rl.fail(w, rec, apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount,
			"no available account").WithCode(apierror.TypeNoAvailableAccount))
	}
}

// unavailableError is the answer when every account is cooling down.
func unavailableError(e *scheduler.UnavailableError, now time.Time) *apierror.Error {
	var out *apierror.Error
	if e.AllQuota {
		out = apierror.New(http.StatusTooManyRequests, "usage_limit_reached",
			"all accounts are limited until "+e.Until.Local().Format(time.RFC1123)+"; try again then, or add an account to the proxy").WithCode("usage_limit_reached")
		out.ResetsAt = e.Until.Unix()
	} else {
		msg := "no available account: every account is cooling down or invalid"
		if !e.Until.IsZero() {
			msg += "; the first is back at " + e.Until.Local().Format(time.TimeOnly)
		} else {
			msg += "; see `proxy accounts list` for why and fix the config"
		}
		out = apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount, msg).WithCode(apierror.TypeNoAvailableAccount)
	}
	if !e.Until.IsZero() {
		out.RetryAfter = max(e.Until.Sub(now), time.Second)
	}
	return out
}

// try sends the request to account a and reads ahead what classification
// needs. A ChatGPT token that has expired is refreshed first, and one
// refused with 401 is refreshed once and the request sent again.
func (rl *Relay) try(ctx context.Context, a *account.Account, suffix string, r *http.Request, body []byte, req session.Request) *attempt {
	body, gather, err := a.Prepare(suffix, body, req)
	if err != nil {
		return &attempt{account: a, err: err}
	}
	if rl.o.Refresher != nil && a.NeedsRefresh(rl.o.Now()) {
		if err := rl.o.Refresher.Refresh(ctx, a, a.AccessTag()); err != nil {
			rl.o.Logger.Warn("refreshing token before request", "account", a.Name, "err", err)
			if errors.Is(err, account.ErrLoginExpired) {
				return &attempt{account: a, err: err, forced: &health.Outcome{Class: health.Unauthorized, Status: http.StatusUnauthorized, Message: err.Error()}}
			}
		}
	}
	tag := a.AccessTag()
	at := rl.send(ctx, a, suffix, r, body)
	at.gather = gather
	if at.status() != http.StatusUnauthorized || rl.o.Refresher == nil || !a.CanRefresh() {
		return at
	}
	err = rl.o.Refresher.Refresh(ctx, a, tag)
	if err != nil {
		rl.o.Logger.Warn("refreshing token after 401", "account", a.Name, "err", err)
		if !errors.Is(err, account.ErrLoginExpired) {
			// The token endpoint failed, not the login: a passing outage,
			// not a reason to mark the account invalid.
			at.forced = &health.Outcome{Class: health.Network, Status: http.StatusUnauthorized, Message: "token refresh failed: " + err.Error()}
		}
		return at
	}
	at.close()
	at = rl.send(ctx, a, suffix, r, body)
	at.gather = gather
	return at
}

// send makes one upstream request and reads ahead.
func (rl *Relay) send(ctx context.Context, a *account.Account, suffix string, r *http.Request, body []byte) *attempt {
	actx, cancel := context.WithCancel(ctx)
	at := &attempt{account: a, cancel: cancel}
	up, err := http.NewRequestWithContext(actx, http.MethodPost, a.Target(suffix, r.URL.RawQuery), bytes.NewReader(body))
	if err != nil {
		at.err = err
		return at
	}
	up.Header = outgoingHeader(r.Header)
	up.ContentLength = int64(len(body))
	a.Authorize(up.Header)
	resp, err := rl.client.Do(up)
	if err != nil {
		at.err = err
		return at
	}
	resp.Body, at.idle = watchIdle(resp.Body, rl.o.StreamIdle, cancel)
	at.resp = resp
	at.readAhead()
	if at.idle.Expired() && len(at.first) == 0 {
		at.firstErr = fmt.Errorf("upstream sent nothing for %s", rl.o.StreamIdle)
	}
	return at
}

// fail answers the client with an error the proxy made itself.
func (rl *Relay) fail(w http.ResponseWriter, rec *event.Decision, e *apierror.Error) {
	rec.Status, rec.Error = e.Status, e.Message
	e.Write(w)
}
