package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// maxJSONResponse bounds how much of a non-streaming answer is held to read
// its usage; a larger one is passed through without it.
const maxJSONResponse = 64 << 20

// forward passes the attempt's answer to the client: headers, then the
// stream event by event, each flushed as it arrives, or the JSON body.
func (rl *Relay) forward(w http.ResponseWriter, at *attempt, rec *event.Decision) {
	defer at.close()
	copyResponseHeader(w.Header(), at.resp.Header)
	rec.Status = at.resp.StatusCode
	switch {
	case at.stream != nil && at.gather:
		rl.gather(w, at, rec)
		return
	case at.stream != nil:
		rl.stream(w, at, rec)
		return
	}
	w.WriteHeader(at.resp.StatusCode)
	rec.TTFB = rl.o.Now().Sub(rec.Time)
	if at.resp.StatusCode/100 != 2 {
		rec.Error = fmt.Sprintf("upstream answered %d", at.resp.StatusCode)
		_, _ = io.Copy(w, at.resp.Body)
		return
	}
	buf, err := io.ReadAll(io.LimitReader(at.resp.Body, maxJSONResponse))
	if _, werr := w.Write(buf); werr != nil {
		rec.Error = "client went away: " + werr.Error()
		return
	}
	if err == nil && len(buf) == maxJSONResponse {
		_, err = io.Copy(w, at.resp.Body)
	} else if res, ok := sse.ResponseJSON(buf); ok {
		rec.Usage = usageOf(res)
		if rec.Model == "" {
			rec.Model = res.Model
		}
	}
	if err != nil {
		rec.Error = "reading upstream answer: " + err.Error()
	}
}

// stream copies events as they arrive. It never holds more than one event.
func (rl *Relay) stream(w http.ResponseWriter, at *attempt, rec *event.Decision) {
	w.WriteHeader(at.resp.StatusCode)
	rc := http.NewResponseController(w)
	ev, err := at.first, at.firstErr
	terminal := false
	for {
		if len(ev) > 0 {
			if rec.TTFB == 0 {
				rec.TTFB = rl.o.Now().Sub(rec.Time)
			}
			if _, werr := w.Write(ev); werr != nil {
				rec.Error = "client went away: " + werr.Error()
				return
			}
			if !at.stream.Buffered() {
				_ = rc.Flush()
			}
			switch sse.Type(ev) {
			case "response.completed", "response.incomplete", "response.failed":
				terminal = true
				if res, ok := sse.Completion(ev); ok {
					rec.Usage = usageOf(res)
					if res.Model != "" {
						rec.Model = res.Model
					}
					if res.ErrorCode != "" {
						rec.Error = "response.failed: " + res.ErrorCode
					}
				}
			}
		}
		if err != nil {
			break
		}
		ev, err = at.stream.Next()
	}
	if terminal {
		return
	}
	if !at.idle.Expired() && errors.Is(at.resp.Request.Context().Err(), context.Canceled) {
		return // the client went away; nothing to tell it
	}
	// The stream broke after bytes reached the client, so no failover is
	// possible. Say so in the protocol: Codex retries promptly on
	// response.failed, while a bare cut costs it a longer wait.
	cause := "upstream closed the stream"
	switch {
	case at.idle.Expired():
		cause = fmt.Sprintf("upstream sent nothing for %s", rl.o.StreamIdle)
	case err != nil && !errors.Is(err, io.EOF):
		cause = "upstream stream failed: " + err.Error()
	}
	rec.Error = cause + " before response.completed"
	rl.o.Health.Report(context.WithoutCancel(at.resp.Request.Context()), at.account,
		health.Outcome{Class: health.ServerError, Status: at.resp.StatusCode, Message: rec.Error})
	_, _ = w.Write(failedEvent("upstream_stream_interrupted", rec.Error+"; retry the request"))
	_ = rc.Flush()
}

func usageOf(r sse.Result) event.Usage {
	return event.Usage{
		InputTokens:     r.Usage.InputTokens,
		CachedTokens:    r.Usage.CachedTokens,
		OutputTokens:    r.Usage.OutputTokens,
		ReasoningTokens: r.Usage.ReasoningTokens,
	}
}
