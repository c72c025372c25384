package relay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// maxErrorBody bounds how much of an upstream error answer is held to
// classify it; error bodies are small.
const maxErrorBody = 64 << 10

// attempt is one try of a request on one account, read up to the point
// where the relay must decide between passing it on and failing over: the
// response headers, the body of an error, and for a stream its first event
// (some upstreams send an overload error as the first event of a 200).
type attempt struct {
	account *account.Account
	cancel  context.CancelFunc // ends this attempt's upstream request
	release func()             // frees the account's concurrency slot
	idle    *idleTimer

	resp   *http.Response
	err    error           // no response: connection refused, TLS, timeout
	forced *health.Outcome // an outcome decided without sending (a dead login)

	// gather: the client asked for JSON but the upstream only streams, so
	// the stream is gathered into the JSON answer.
	gather bool

	errBody  []byte      // the held body of a non-2xx answer, to classify it
	stream   *sse.Reader // set for a 2xx event stream
	first    []byte      // the stream's first event, not yet forwarded
	firstErr error       // the error that ended the stream at or before its first event
}

// readAhead reads what classification needs: an error body, or a stream's
// first event.
func (at *attempt) readAhead() {
	resp := at.resp
	switch {
	case resp.StatusCode/100 != 2:
		at.errBody, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(at.errBody))
	case isEventStream(resp.Header):
		at.stream = sse.NewReader(resp.Body)
		at.first, at.firstErr = at.stream.Next()
	}
}

// outcome classifies the attempt.
func (at *attempt) outcome(now time.Time) health.Outcome {
	switch {
	case at.forced != nil:
		return *at.forced
	case at.resp == nil:
		return health.Classify(now, 0, nil, nil, at.err)
	case at.stream != nil:
		if len(at.first) == 0 {
			msg := "stream ended before its first event"
			if at.firstErr != nil && at.firstErr != io.EOF {
				msg += ": " + at.firstErr.Error()
			}
			return health.Outcome{Class: health.ServerError, Status: at.resp.StatusCode, Message: msg}
		}
		if t := sse.Type(at.first); t == "response.failed" || t == "error" {
			res, _ := sse.Completion(at.first)
			return health.ClassifyFailedStream(res.ErrorCode, res.ErrorMessage)
		}
	}
	return health.Classify(now, at.resp.StatusCode, at.resp.Header, at.errBody, nil)
}

// status is the upstream's HTTP status, 0 when none arrived.
func (at *attempt) status() int {
	if at.resp == nil {
		return 0
	}
	return at.resp.StatusCode
}

// close ends the attempt: its upstream request, its slot.
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
	if at.release != nil {
		at.release()
		at.release = nil
	}
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
