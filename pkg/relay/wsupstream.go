package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// errUseHTTP says: send this request over HTTP instead (the account does
// not take WebSockets, or its connection could not be made).
var errUseHTTP = errors.New("send over HTTP")

// httpOnlyFor is how long an account that refused a WebSocket upgrade is
// served over HTTP before the proxy tries again.
const httpOnlyFor = time.Hour

// httpOnly remembers the accounts that refused a WebSocket upgrade.
type httpOnly struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (h *httpOnly) refused(name string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.Before(h.until[name])
}

func (h *httpOnly) remember(name string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.until == nil {
		h.until = map[string]time.Time{}
	}
	h.until[name] = until
}

// upstreamWS is a client connection's WebSocket to its current ChatGPT
// account, at most one at a time. Requests that continue the last
// response it answered go as increments (previous_response_id and the new
// items); any other request goes complete. A move to another account
// closes it.
type upstreamWS struct {
	rl      *Relay
	conn    *websocket.Conn
	account string      // whose connection conn is
	header  http.Header // its upgrade answer's headers
	lastID  string      // the last response it completed
}

// close ends the connection, if any.
func (u *upstreamWS) close() {
	if u.conn != nil {
		_ = u.conn.CloseNow()
	}
	u.conn, u.account, u.header, u.lastID = nil, "", nil, ""
}

// roundTrip sends one request to a over its WebSocket, opening one if
// needed, and returns the answer as an event stream (so the relay's loop
// reads it as it reads HTTP). Before the first event, a connection that
// failed or reached its age limit is replaced once and the request sent
// complete; errUseHTTP when no WebSocket serves.
func (u *upstreamWS) roundTrip(ctx context.Context, a *account.Account, up *http.Request, body []byte, f *wsFrame) (*http.Response, error) {
	now := u.rl.o.Now()
	if u.rl.httpOnly.refused(a.Name, now) {
		return nil, errUseHTTP
	}
	if u.conn != nil && u.account != a.Name {
		u.close()
	}
	for try := 0; try < 2; try++ {
		fresh := u.conn == nil
		if fresh {
			if err := u.dial(ctx, a, up); err != nil {
				return nil, err
			}
		}
		msg, err := u.request(body, f)
		if err != nil {
			return nil, err
		}
		first, err := u.send(ctx, msg)
		if err == nil && sse.JSONType(first) == "error" {
			switch {
			case jsonscan.Equal(jsonscan.Member(jsonscan.Member(first, "error"), "code"), "websocket_connection_limit_reached"):
				err = errors.New("websocket_connection_limit_reached")
			case refusesCredential(first):
				// The token the connection was opened with is no longer
				// good: HTTP serves this request, with its refresh.
				u.close()
				return nil, errUseHTTP
			}
		}
		if err != nil {
			u.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if fresh {
				// A new connection failed before answering: HTTP serves
				// this request, with its own classification.
				u.rl.o.Logger.Info("upstream WebSocket failed before its first event; sending over HTTP", "account", a.Name, "err", err)
				return nil, errUseHTTP
			}
			continue // an old connection: open a new one, send complete
		}
		h := u.header.Clone()
		h.Set("Content-Type", "text/event-stream")
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     h,
			Body:       &wsEvents{u: u, conn: u.conn, ctx: ctx, first: first},
			Request:    up,
		}, nil
	}
	return nil, errUseHTTP
}

// dial opens a WebSocket to a with the request's headers and a's
// credential, through a's egress. A refused upgrade makes the account
// HTTP-only for a while.
func (u *upstreamWS) dial(ctx context.Context, a *account.Account, up *http.Request) error {
	h := up.Header.Clone()
	h.Set("OpenAI-Beta", account.WebSocketBeta)
	h.Del("Content-Type")
	h.Del("Accept")
	c, resp, err := websocket.Dial(ctx, a.Target("/responses", up.URL.RawQuery), &websocket.DialOptions{
		HTTPClient:      u.rl.clientFor(a),
		HTTPHeader:      h,
		CompressionMode: websocket.CompressionNoContextTakeover,
	})
	if err != nil {
		if resp != nil {
			switch resp.StatusCode {
			case http.StatusUpgradeRequired, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusNotImplemented:
				u.rl.httpOnly.remember(a.Name, u.rl.o.Now().Add(httpOnlyFor))
				u.rl.o.Logger.Info("account refused the WebSocket upgrade; serving it over HTTP", "account", a.Name, "status", resp.StatusCode, "for", httpOnlyFor)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errUseHTTP
	}
	c.SetReadLimit(int64(u.rl.o.MaxEventBytes))
	u.conn, u.account, u.header, u.lastID = c, a.Name, resp.Header.Clone(), ""
	return nil
}

// request is the message to send: an increment when the connection
// answered the response the frame continues, else the complete request.
func (u *upstreamWS) request(body []byte, f *wsFrame) ([]byte, error) {
	msg := body
	var err error
	if f.prevID != "" && f.prevID == u.lastID && !(f.cleaned && items.MayHold(f.newInput)) {
		if msg, err = jsonscan.Set(msg, "input", nonNull(f.newInput)); err != nil {
			return nil, fmt.Errorf("building the incremental request: %w", err)
		}
		if msg, err = jsonscan.Set(msg, "previous_response_id", quoteString(f.prevID)); err != nil {
			return nil, fmt.Errorf("building the incremental request: %w", err)
		}
	}
	if msg, err = jsonscan.Set(msg, "type", `"response.create"`); err != nil {
		return nil, fmt.Errorf("building the WebSocket request: %w", err)
	}
	return msg, nil
}

func nonNull(v []byte) string {
	if len(v) == 0 {
		return "[]"
	}
	return string(v)
}

func quoteString(s string) string { return string(appendJSONString(nil, []byte(s))) }

// send writes the request and reads the answer's first message.
// Both are bounded by the stream idle timeout, as silence is on HTTP.
func (u *upstreamWS) send(ctx context.Context, msg []byte) ([]byte, error) {
	u.lastID = ""
	ctx, cancel := context.WithTimeout(ctx, u.rl.o.StreamIdle)
	defer cancel()
	if err := u.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return nil, fmt.Errorf("sending over the upstream WebSocket: %w", err)
	}
	first, err := u.read(ctx, u.conn)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("upstream sent nothing for %s", u.rl.o.StreamIdle)
	}
	return first, err
}

// read reads one text message from c.
func (u *upstreamWS) read(ctx context.Context, c *websocket.Conn) ([]byte, error) {
	for {
		typ, data, err := c.Read(ctx)
		if errors.Is(err, websocket.ErrMessageTooBig) {
			// The same bound, and the same answer, as an SSE event's.
			return nil, fmt.Errorf("upstream WebSocket: %w", sse.ErrEventTooLarge)
		}
		if err != nil {
			return nil, fmt.Errorf("upstream WebSocket: %w", err)
		}
		if typ == websocket.MessageText {
			return data, nil
		}
	}
}

// errNotJSONMessage ends an upstream WebSocket answer one of whose
// messages is not a JSON object.
var errNotJSONMessage = errors.New("upstream WebSocket sent a message that is not a JSON event")

// jsonObject reports whether msg looks like a JSON object: its first and
// last bytes past white space are braces. That much is checked on every
// message for nearly nothing; the event's own parse finds the rest.
func jsonObject(msg []byte) bool {
	msg = bytes.TrimSpace(msg)
	return len(msg) >= 2 && msg[0] == '{' && msg[len(msg)-1] == '}'
}

// refusesCredential reports an in-band error event with status 401 or 403.
func refusesCredential(ev []byte) bool {
	s := jsonscan.Member(ev, "status")
	if s == nil {
		s = jsonscan.Member(ev, "status_code")
	}
	return string(s) == "401" || string(s) == "403"
}

// wsEvents is an upstream WebSocket answer read as an SSE stream: each
// message becomes one event, and the answer ends after its terminal event.
// Closed before that, the connection is mid-answer and is let go.
type wsEvents struct {
	u     *upstreamWS
	conn  *websocket.Conn // the connection the answer comes on
	ctx   context.Context
	first []byte
	buf   []byte
	done  bool // the terminal event was read
	err   error
}

func (b *wsEvents) Read(p []byte) (int, error) {
	for len(b.buf) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.done {
			return 0, io.EOF
		}
		data := b.first
		b.first = nil
		if data == nil {
			var err error
			if data, err = b.u.read(b.ctx, b.conn); err != nil {
				b.err = err
				b.drop()
				continue
			}
		}
		if !jsonObject(data) {
			// A gateway's page or a stray line is no event of the API:
			// before output the turn fails over, after it the client gets
			// the proxy's own response.failed, never the bytes.
			b.err = errNotJSONMessage
			b.drop()
			continue
		}
		typ := sse.JSONType(data)
		switch typ {
		case "response.completed":
			if b.u.conn == b.conn {
				b.u.lastID = responseID(data)
			}
			b.done = true
		case "response.incomplete", "response.failed", "error":
			b.done = true
		}
		b.buf = appendSSE(b.buf[:0], typ, data)
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// Close lets a connection that is mid-answer go.
func (b *wsEvents) Close() error {
	if !b.done {
		b.drop()
	}
	return nil
}

// drop ends the answer's connection, which may no longer be the client
// connection's current one (a failover moved on while this answer was
// held).
func (b *wsEvents) drop() {
	if b.u.conn == b.conn {
		b.u.close()
		return
	}
	_ = b.conn.CloseNow()
}

// appendSSE frames data as one SSE event.
func appendSSE(out []byte, typ string, data []byte) []byte {
	if typ != "" && !strings.ContainsAny(typ, "\r\n") {
		out = append(out, "event: "...)
		out = append(out, typ...)
		out = append(out, '\n')
	}
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		out = append(out, "data: "...)
		out = append(out, bytes.TrimSuffix(line, []byte{'\r'})...)
		out = append(out, '\n')
		if !more {
			break
		}
		data = rest
	}
	return append(out, '\n')
}
