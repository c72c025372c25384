package relay

import (
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/sse"
)

// attempt is one try of a request on one account, read up to the point
// where the relay must decide between passing it on and failing over: the
// response headers and, for a stream, the first event (some upstreams send
// an overload error as the first event of a 200 stream).
type attempt struct {
	account string
	sent    time.Time
	headers time.Time

	resp *http.Response
	err  error // no response: connection refused, TLS, timeout

	stream   *sse.Reader // set for a 2xx event stream
	first    []byte      // the stream's first event, not yet forwarded
	firstErr error       // the error that ended the stream at or before its first event
}

// readFirstEvent reads ahead to the first event of a stream.
func (at *attempt) readFirstEvent() {
	at.stream = sse.NewReader(at.resp.Body)
	at.first, at.firstErr = at.stream.Next()
}

// firstType is the type of the stream's first event, "" when there is none.
func (at *attempt) firstType() string {
	if len(at.first) == 0 {
		return ""
	}
	return sse.Type(at.first)
}

// ok reports an answer to pass on as a success.
func (at *attempt) ok() bool {
	if at.resp == nil || at.resp.StatusCode/100 != 2 {
		return false
	}
	if at.stream == nil {
		return true
	}
	return len(at.first) > 0 && at.firstType() != "response.failed" && at.firstType() != "error"
}

// retryable reports a failure that another account might not have: the
// upstream was unreachable, limited, down, refused the credential, did not
// serve the endpoint, or failed its stream before sending anything useful.
// A 400 is the request's own fault and goes back to the client as is.
func (at *attempt) retryable() bool {
	if at.resp == nil {
		return true
	}
	switch code := at.resp.StatusCode; {
	case code == http.StatusUnauthorized, code == http.StatusForbidden,
		code == http.StatusNotFound, code == http.StatusRequestTimeout,
		code == http.StatusTooManyRequests, code >= 500:
		return true
	case code/100 == 2:
		return !at.ok()
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

// why says in a few words why the attempt failed.
func (at *attempt) why() string {
	switch {
	case at == nil:
		return ""
	case at.resp == nil:
		return at.errText()
	case at.resp.StatusCode/100 != 2:
		return fmt.Sprintf("status %d", at.resp.StatusCode)
	case len(at.first) == 0:
		return "stream ended before its first event"
	default:
		return "first event " + at.firstType()
	}
}

// errText is the transport error or stream failure, "" when there was none.
func (at *attempt) errText() string {
	switch {
	case at.err != nil:
		return at.err.Error()
	case at.stream != nil && !at.ok():
		return at.why()
	}
	return ""
}

func (at *attempt) close() {
	if at.resp != nil {
		_ = at.resp.Body.Close()
	}
}

// isEventStream reports an SSE response.
func isEventStream(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "text/event-stream"
}
