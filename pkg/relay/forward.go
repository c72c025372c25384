package relay

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/sse"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// maxJSONResponse bounds how much of a non-streaming answer is held to read
// its usage; a larger one is passed through without it.
const maxJSONResponse = 64 << 20

// forward passes the attempt's answer to the client: headers, then the
// stream event by event, each flushed as it arrives, or the JSON body.
// session is the conversation's key hash, "" when there is none.
func (rl *Relay) forward(w http.ResponseWriter, at *attempt, rec *event.Decision, session string) {
	defer at.close()
	copyResponseHeader(w.Header(), at.resp.Header, rl.o.Redact)
	tagTurnState(w.Header(), at.account.Name)
	rec.Status = at.resp.StatusCode
	wd := newWriteDeadline(w, rl.o.StreamIdle)
	defer wd.clear()
	switch {
	case at.stream != nil && at.gather:
		rl.gather(w, at, rec)
		return
	case at.stream != nil:
		rl.stream(w, wd, at, rec, session)
		return
	}
	w.WriteHeader(at.resp.StatusCode)
	rec.TTFB = rl.o.Now().Sub(rec.Time)
	if at.resp.StatusCode/100 != 2 {
		rec.Error = rl.o.Redact.String(fmt.Sprintf("upstream answered %d", at.resp.StatusCode))
		wd.extend()
		_, _ = w.Write(at.errBody)
		return
	}
	buf, err := io.ReadAll(io.LimitReader(at.resp.Body, maxJSONResponse))
	full := err == nil && len(buf) == maxJSONResponse
	if !full {
		// A larger answer goes on unread, as it came: no real one is.
		buf = rl.o.Redact.Answer(buf)
	}
	wd.extend()
	if _, werr := w.Write(buf); werr != nil {
		rec.Error = "client went away: " + werr.Error()
		return
	}
	if full {
		_, err = io.Copy(w, at.resp.Body)
	} else if at.account.ChatCompletions() {
		// A chat request passed through to an account that speaks it: its
		// usage is in Chat Completions' terms.
		if u, ok := translate.ChatUsage(buf); ok {
			rec.Usage = event.Usage{InputTokens: u.InputTokens, CachedTokens: u.CachedTokens, OutputTokens: u.OutputTokens, ReasoningTokens: u.ReasoningTokens}
		}
	} else if res, ok := sse.ResponseJSON(buf); ok {
		rec.Usage = usageOf(res)
		if rec.Model == "" {
			rec.Model = res.Model
		}
		if at.conv != nil {
			at.watch.Response(buf)
			rl.noteMinted(at)
		}
	}
	if err != nil {
		rec.Error = "reading upstream answer: " + err.Error()
	}
}

// stream copies events as they arrive: first the held opening, then each
// event as it completes. It never holds more than one event beyond the
// opening. A client that does not take a write within the stream idle
// timeout is dropped, which ends the upstream request and frees the slot.
func (rl *Relay) stream(w http.ResponseWriter, wd *writeDeadline, at *attempt, rec *event.Decision, session string) {
	w.WriteHeader(at.resp.StatusCode)
	rec.TTFB = rl.o.Now().Sub(rec.Time)
	if len(at.opening) > 0 {
		// Redacted here, once the hold is over, rather than event by
		// event while it lasts.
		at.opening = rl.o.Redact.Answer(at.opening)
		wd.extend()
		if _, werr := w.Write(at.opening); werr != nil {
			rec.Error = "client went away: " + werr.Error()
			return
		}
		at.opening = nil
	}
	ev, err := at.next, at.nextErr
	if ev == nil && err == nil {
		ev, err = at.nextEvent()
	}
	for {
		if len(ev) > 0 {
			// Usage and items are read from the event as the client gets
			// it: redaction keeps numbers and encrypted items as they are.
			ev = rl.o.Redact.Answer(ev)
			wd.extend()
			if _, werr := w.Write(ev); werr != nil {
				rec.Error = clientGone(werr)
				return
			}
			if !at.stream.Buffered() {
				if ferr := wd.rc.Flush(); ferr != nil {
					rec.Error = clientGone(ferr)
					return
				}
			}
			typ := sse.Type(ev)
			if at.conv != nil && items.Watched(typ) {
				// After the flush: noting who minted what never holds an
				// event back.
				at.watch.Event(typ, sse.Data(ev))
			}
			switch typ {
			case "response.completed", "response.incomplete":
				if res, ok := sse.Completion(ev); ok {
					rec.Usage = usageOf(res)
					if res.Model != "" {
						rec.Model = res.Model
					}
				}
				rl.avoid.clear(session)
				rl.noteMinted(at)
				return
			case "response.failed", "error":
				// Output already reached the client, so this failure is
				// its to see; the account's health hears of it, and the
				// client's retry goes to the conversation's next account.
				out := streamFailure(ev)
				rec.Error = rl.o.Redact.String("stream failed after output: " + describe(out))
				if !at.failureReported {
					rl.pool.Report(at.account, nil, out)
				}
				if out.Class.Failover() {
					rl.avoid.add(session, at.account.Name)
				}
				return
			}
		}
		if err != nil {
			break
		}
		ev, err = at.nextEvent()
	}
	if !at.idle.Expired() && at.resp.Request.Context().Err() != nil && !errors.Is(err, sse.ErrEventTooLarge) {
		rec.Error = "client closed the request"
		return // the client went away; nothing to tell it
	}
	// The stream broke after bytes reached the client, so no failover is
	// possible. Say so in the protocol: Codex retries promptly on
	// response.failed, while a bare cut costs it a longer wait.
	code, cause := "upstream_stream_interrupted", "upstream closed the stream"
	switch {
	case at.idle.Expired():
		cause = idleCause(rl.o.StreamIdle)
	case errors.Is(err, errMidEvent):
		cause = errMidEvent.Error()
	case errors.Is(err, sse.ErrEventTooLarge):
		code, cause = "upstream_event_too_large", fmt.Sprintf("upstream sent an event larger than %d bytes (limits.max_event_bytes)", rl.o.MaxEventBytes)
	case err != nil && !errors.Is(err, io.EOF):
		cause = "upstream stream failed: " + err.Error()
	}
	rec.Error = cause + " before response.completed"
	if !at.failureReported {
		rl.pool.Report(at.account, nil, health.Outcome{Class: health.ServerError, Status: at.resp.StatusCode, Message: rec.Error})
	}
	rl.avoid.add(session, at.account.Name)
	wd.extend()
	_, _ = w.Write(failedEvent(code, rec.Error+"; retry the request"))
	_ = wd.rc.Flush()
}

// clientGone describes a write the client did not take.
func clientGone(err error) string {
	return "client went away or stopped reading: " + err.Error()
}

// writeDeadline bounds each write to the client by the stream idle
// timeout, moving the deadline only every few seconds so a fast stream
// does not pay for a deadline per event.
type writeDeadline struct {
	rc   *http.ResponseController
	idle time.Duration
	set  time.Time // when the deadline was last moved; zero: never
}

func newWriteDeadline(w http.ResponseWriter, idle time.Duration) *writeDeadline {
	return &writeDeadline{rc: http.NewResponseController(w), idle: idle}
}

// extend makes the next write's deadline at least idle*7/8 away.
func (d *writeDeadline) extend() {
	now := time.Now()
	if !d.set.IsZero() && now.Sub(d.set) < d.idle/8 {
		return
	}
	if d.rc.SetWriteDeadline(now.Add(d.idle)) == nil {
		d.set = now
	}
}

// clear removes the deadline, which would otherwise outlive the request on
// a keep-alive connection.
func (d *writeDeadline) clear() {
	if !d.set.IsZero() {
		_ = d.rc.SetWriteDeadline(time.Time{})
	}
}

func usageOf(r sse.Result) event.Usage {
	return event.Usage{
		InputTokens:     r.Usage.InputTokens,
		CachedTokens:    r.Usage.CachedTokens,
		OutputTokens:    r.Usage.OutputTokens,
		ReasoningTokens: r.Usage.ReasoningTokens,
	}
}
