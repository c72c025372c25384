package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/event"
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
	var held *attempt // the last failed answer, passed on if nothing better comes
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
			break
		}
		a := d.Account
		if len(rec.Attempts) > 0 {
			rec.Reason = string(scheduler.ReasonFailover)
			rec.Detail = "failover from " + rec.Attempts[len(rec.Attempts)-1].Account + ": " + held.why()
		}
		rec.Account, rec.Type, rec.Target = a.Name, string(a.Type), a.Target(suffix, "")
		at := rl.try(ctx, a, suffix, r, body)
		rec.Attempts = append(rec.Attempts, event.Attempt{Account: a.Name, Status: at.status(), Error: at.errText()})
		if ctx.Err() != nil {
			at.close()
			rec.Status, rec.Error = 499, "client closed the request"
			return
		}
		if at.ok() || !at.retryable() {
			if held != nil {
				held.close()
				held = nil
			}
			rl.forward(w, at, rec)
			return
		}
		exclude[a.Name] = true
		if held != nil {
			held.close()
		}
		held = at
	}
	switch {
	case held != nil && held.resp != nil:
		// Every account tried failed: pass the last upstream answer on, so
		// the client sees the upstream's own error (and its Retry-After).
		at := held
		held = nil
		rl.forward(w, at, rec)
	case held != nil:
		rl.fail(w, rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
			fmt.Sprintf("upstream account %s did not answer: %s", rec.Account, held.errText())).WithCode("upstream_unreachable"))
	default:
		rl.fail(w, rec, apierror.New(http.StatusServiceUnavailable, apierror.TypeNoAvailableAccount,
			"no available account").WithCode(apierror.TypeNoAvailableAccount))
	}
}

// try sends the request to account a and waits for its response headers
// and, for a stream, its first event.
func (rl *Relay) try(ctx context.Context, a *account.Account, suffix string, r *http.Request, body []byte) *attempt {
	at := &attempt{account: a.Name, sent: rl.o.Now()}
	up, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Target(suffix, r.URL.RawQuery), bytes.NewReader(body))
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
	at.resp = resp
	at.headers = rl.o.Now()
	if resp.StatusCode/100 == 2 && isEventStream(resp.Header) {
		at.readFirstEvent()
	}
	return at
}

// fail answers the client with an error the proxy made itself.
func (rl *Relay) fail(w http.ResponseWriter, rec *event.Decision, e *apierror.Error) {
	rec.Status, rec.Error = e.Status, e.Message
	e.Write(w)
}
