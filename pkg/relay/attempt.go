package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/pool"
	"github.com/proxy-dev/proxy/pkg/sse"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// maxErrorBody bounds how much of an upstream error answer is held to
// classify it; error bodies are small.
const maxErrorBody = 64 << 10

// HoldLimits bound the opening of a stream the relay holds back. Real
// upstreams report overload after response.created and
// response.in_progress, so the opening is held until the first event that
// carries output (or ends the stream): a failure before it fails over, and
// the client never sees it. Past any bound the held events go to the
// client and the stream flows on; silence during the hold is bounded by
// the stream idle timeout, as any silence is.
type HoldLimits struct {
	Events int           // events held at most; default 32
	Bytes  int           // bytes held at most; default 256 KiB
	Time   time.Duration // how long events may be held; default 30 s
}

func (h HoldLimits) withDefaults() HoldLimits {
	if h.Events <= 0 {
		h.Events = 32
	}
	if h.Bytes <= 0 {
		h.Bytes = 256 << 10
	}
	if h.Time <= 0 {
		h.Time = 30 * time.Second
	}
	return h
}

// attempt is one try of a request on one account, read up to the point
// where the relay must decide between passing it on and failing over: the
// response headers, the body of an error, and for a stream its opening up
// to the first output.
type attempt struct {
	account *account.Account
	cancel  context.CancelFunc // ends this attempt's upstream request
	lease   *pool.Lease        // the account's concurrency slot
	idle    *idleTimer

	resp   *http.Response
	err    error           // no response: connection refused, TLS, timeout
	forced *health.Outcome // an outcome decided without sending (a dead login)
	// refusal: the request could not be put in the account's API; the
	// client gets this 400, and the account is not to blame.
	refusal *apierror.Error

	// gather: the client asked for JSON but the upstream only streams, so
	// the stream is gathered into the JSON answer.
	gather bool
	// failureReported: the loop already told the pool this attempt failed;
	// passing the failed answer on must not count it twice.
	failureReported bool

	translated string // what translating the request for the account left out or changed

	conv   *convItems    // the request's account-bound items; nil without a ledger
	change *items.Change // what cleaning did to the body this attempt sent
	watch  items.Watch   // the account-bound items the answer mints

	errBody []byte      // the held body of a non-2xx answer, redacted, to classify it
	head    []byte      // the first bytes of a 2xx answer that is not a stream, to sniff it
	stream  *sse.Reader // set for a 2xx event stream
	opening []byte      // the held opening events (copies), not yet forwarded
	next    []byte      // the event that ended the hold, not yet forwarded; nil if none
	nextErr error       // the error that ended the stream during the hold
}

// readAhead reads what classification needs: an error body, or a stream's
// opening up to its first output-bearing or terminal event.
func (at *attempt) readAhead(maxEvent int, hold HoldLimits, now func() time.Time, red Redactor) {
	resp := at.resp
	switch {
	case resp.StatusCode/100 != 2:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		// An upstream may quote the credential back ("Incorrect API key
		// provided: sk-..."): it goes no further than here.
		at.errBody = red.Bytes(body)
		resp.Body = io.NopCloser(bytes.NewReader(at.errBody))
	case isEventStream(resp.Header):
		at.idle.perEvent()
		at.stream = sse.NewReader(resp.Body)
		at.stream.SetMax(maxEvent)
		start := now()
		for n := 0; ; n++ {
			ev, err := at.nextEvent()
			if len(ev) > 0 {
				kind := eventKind(ev)
				full := n >= hold.Events || len(at.opening)+len(ev) > hold.Bytes || now().Sub(start) >= hold.Time
				if kind != opening || full {
					if kind == failure {
						ev = red.Bytes(ev)
					}
					at.next = ev
					return
				}
				at.opening = append(at.opening, ev...)
			}
			if err != nil {
				at.nextErr = err
				return
			}
		}
	case resp.StatusCode/100 == 2 && !health.IsAPIAnswer(resp.Header, nil):
		// Only an answer its type does not vouch for is sniffed.
		at.head = peekHead(resp)
	}
}

// maxHead bounds what is read ahead of a 2xx answer that is not a stream:
// enough to tell JSON from a page that is not the API's.
const maxHead = 512

// peekHead reads the first bytes of resp's body, up to its first byte
// that is not white space, and puts them back in front of the body.
func peekHead(resp *http.Response) []byte {
	buf := make([]byte, 0, maxHead)
	// Like bufio, give up on a body that keeps returning nothing.
	for range 100 {
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil || len(buf) == cap(buf) || len(bytes.TrimLeft(buf, " \t\r\n")) > 0 {
			break
		}
	}
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	return buf
}

// readCloser is a body read from r and closed through c.
type readCloser struct {
	io.Reader
	io.Closer
}

// errMidEvent ends a stream whose last event arrived without the blank
// line that completes it: the SSE spec discards such an event, and its
// data may stop inside its JSON, so it is never passed on.
var errMidEvent = errors.New("upstream ended the stream in the middle of an event")

// nextEvent is the stream's next complete event; an event cut off by the
// end of the stream is errMidEvent instead. Each event that carries a
// field restarts the idle clock; a blank line or a comment says nothing,
// so a trickle of them is still silence.
func (at *attempt) nextEvent() ([]byte, error) {
	ev, err := at.stream.Next()
	if len(ev) > 0 {
		if !sse.Terminated(ev) {
			return nil, errMidEvent
		}
		if c := ev[0]; c != '\n' && c != '\r' && c != ':' {
			at.idle.progress()
		}
	}
	return ev, err
}

// The kinds of stream event, as the hold sees them.
const (
	opening = iota // says the response exists, carries no output
	output         // carries output, or completes the response
	failure        // ends the response with an error
)

// eventKind sorts an event for the hold.
func eventKind(ev []byte) int {
	switch sse.Type(ev) {
	case "", "response.created", "response.in_progress", "response.queued", "codex.rate_limits", "keepalive",
		// An upstream chat chunk riding beside the events rebuilt from it:
		// those events say whether it carried output.
		translate.PassthroughEvent:
		return opening
	case "response.failed", "error":
		return failure
	}
	return output
}

// outcome classifies the attempt.
func (at *attempt) outcome(now time.Time) health.Outcome {
	switch {
	case at.forced != nil:
		return *at.forced
	case at.resp == nil:
		return health.Classify(now, 0, nil, nil, at.err)
	case at.stream != nil:
		if at.next == nil {
			msg := "stream ended before its first output"
			switch {
			case errors.Is(at.nextErr, sse.ErrEventTooLarge):
				msg = "stream sent an event larger than the proxy's limit (limits.max_event_bytes)"
			case at.nextErr != nil && at.nextErr != io.EOF:
				msg += ": " + at.nextErr.Error()
			}
			return health.Outcome{Class: health.ServerError, Status: at.resp.StatusCode, Message: msg}
		}
		if eventKind(at.next) == failure {
			return streamFailure(at.next)
		}
		return health.Outcome{Class: health.OK, Status: at.resp.StatusCode}
	}
	body := at.errBody
	if at.resp.StatusCode/100 == 2 {
		body = at.head
	}
	return health.Classify(now, at.resp.StatusCode, at.resp.Header, body, nil)
}

// streamFailure classifies a response.failed or error event.
func streamFailure(ev []byte) health.Outcome {
	code, msg, typ, _ := sse.Failure(ev)
	return health.ClassifyStreamFailure(code, msg, typ)
}

// credentialRefused reports an answer that refuses the credential itself
// (a 401, or a 403 that names it), which a fresh token may cure.
func (at *attempt) credentialRefused(now time.Time) bool {
	switch at.status() {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		return at.outcome(now).Class == health.Unauthorized
	}
	return false
}

// status is the upstream's HTTP status, 0 when none arrived.
func (at *attempt) status() int {
	if at.resp == nil {
		return 0
	}
	return at.resp.StatusCode
}

// close ends the attempt: its upstream request, its slot. Calling it again
// does nothing more.
func (at *attempt) close() {
	if at.resp != nil {
		_ = at.resp.Body.Close()
	}
	if at.idle != nil {
		at.idle.stop()
	}
	if at.cancel != nil {
		at.cancel()
	}
	at.lease.Release()
	at.opening = nil
}

// isEventStream reports an SSE response.
func isEventStream(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "text/event-stream"
}

// describe says in a few words how an attempt failed, for logs and events.
func describe(o health.Outcome) string {
	if o.Status == 0 {
		return fmt.Sprintf("%s: %s", o.Class, o.Message)
	}
	return fmt.Sprintf("%s (%s)", o.Class, o.Message)
}
