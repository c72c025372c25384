package relay

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// chatWriter is the way out of the Chat Completions front door: the loop
// writes a Responses answer to it, and the client reads Chat Completions.
// A stream is translated event by event as the loop writes it (the loop
// writes whole events, a held opening as several at once) and flushed
// when the loop flushes; a JSON answer is held until the loop is done and
// converted whole (the loop holds it whole anyway to read its usage). An
// error answer, the upstream's or the proxy's own, is OpenAI-shaped in
// both APIs and goes as it came.
type chatWriter struct {
	w      http.ResponseWriter
	req    translate.ChatRequest
	stream *translate.ChatStream
	gather translate.ChatGather // the output items of a stream gathered for a client that asked for JSON
	red    Redactor
	mode   int
	status int
	json   []byte          // a JSON answer, held until finish
	tooBig bool            // the JSON answer passed maxJSONResponse: it cannot be converted
	ended  *apierror.Error // a gathered stream's failure, answered at finish
	done   bool            // a gathered stream reached its terminal event
	held   int             // bytes of the items gathered so far
}

// The ways a chatWriter passes an answer on, decided at WriteHeader.
const (
	chatUndecided = iota
	chatEvents    // a Responses stream, translated to chat chunks
	chatGathered  // a Responses stream gathered into one chat.completion for a client that asked for JSON
	chatJSON      // a JSON answer, converted at finish
	chatAsIs      // an error, passed on as it came
)

func newChatWriter(w http.ResponseWriter, req translate.ChatRequest, red Redactor) *chatWriter {
	return &chatWriter{w: w, req: req, stream: translate.NewChatStream(req), red: red}
}

// Header is the client's header map: the loop's headers go on as they
// are, but for the framing the conversion changes.
func (cw *chatWriter) Header() http.Header { return cw.w.Header() }

// WriteHeader decides how the answer is passed on from its status and
// type.
func (cw *chatWriter) WriteHeader(status int) {
	if cw.mode != chatUndecided {
		return
	}
	h := cw.w.Header()
	cw.status = status
	switch {
	case status/100 == 2 && isEventStream(h) && !cw.req.Stream:
		// Sent at finish, as one JSON answer.
		cw.mode = chatGathered
		h.Del("Content-Length")
	case status/100 == 2 && isEventStream(h):
		cw.mode = chatEvents
		h.Del("Content-Length")
		cw.w.WriteHeader(status)
	case status/100 == 2:
		// Sent at finish, once its length is known.
		cw.mode = chatJSON
		h.Del("Content-Length")
	default:
		cw.mode = chatAsIs
		cw.w.WriteHeader(status)
	}
}

// Write takes the loop's bytes: whole Responses events, or (part of) a
// JSON body.
func (cw *chatWriter) Write(p []byte) (int, error) {
	if cw.mode == chatUndecided {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.mode {
	case chatEvents:
		if out := cw.stream.Event(p); len(out) > 0 {
			if _, err := cw.w.Write(out); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	case chatGathered:
		cw.gatherEvents(p)
		return len(p), nil
	case chatJSON:
		if len(cw.json)+len(p) > maxJSONResponse {
			cw.tooBig = true
			return len(p), nil
		}
		cw.json = append(cw.json, p...)
		return len(p), nil
	}
	return cw.w.Write(p)
}

// FlushError passes the loop's flush on: a stream's chunks go out as its
// events come.
func (cw *chatWriter) FlushError() error {
	if cw.mode == chatJSON || cw.mode == chatGathered {
		return nil
	}
	return http.NewResponseController(cw.w).Flush()
}

// Unwrap gives http.ResponseController the client's writer, for its
// deadlines.
func (cw *chatWriter) Unwrap() http.ResponseWriter { return cw.w }

// finish sends what is held once the loop is done: the converted JSON
// answer. A JSON answer already in Chat Completions' shape (from an
// account that speaks it, passed through) goes as it came.
func (cw *chatWriter) finish(rec *event.Decision) {
	switch cw.mode {
	case chatGathered:
		cw.finishGathered(rec)
		return
	case chatJSON:
	default:
		return
	}
	body := cw.json
	switch {
	case cw.tooBig:
		cw.fail(rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
			"the upstream's answer is larger than the proxy can convert to Chat Completions (64 MiB); ask for a stream instead (stream: true)").WithCode("upstream_answer_too_large"))
		return
	case isChatCompletion(body):
	default:
		out, err := translate.ChatCompletion(body)
		if err != nil {
			cw.fail(rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
				"the upstream's answer cannot be converted to Chat Completions: "+cw.red.String(err.Error())+"; retry, or ask for a stream").WithCode("upstream_answer_unreadable"))
			return
		}
		body = out
	}
	h := cw.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	cw.w.WriteHeader(cw.status)
	if _, err := cw.w.Write(body); err != nil && rec.Error == "" {
		rec.Error = "client went away: " + err.Error()
	}
}

// gatherEvents takes the loop's events for a client that asked for JSON:
// the answer's items are kept, and its terminal event decides the answer.
func (cw *chatWriter) gatherEvents(p []byte) {
	rd := sse.NewReader(bytes.NewReader(p))
	for !cw.done {
		ev, err := rd.Next()
		if len(ev) > 0 {
			cw.gatherEvent(ev)
		}
		if err != nil {
			return
		}
	}
}

func (cw *chatWriter) gatherEvent(ev []byte) {
	typ := sse.Type(ev)
	if typ == "response.output_item.done" {
		if cw.held += len(ev); cw.held > maxJSONResponse {
			cw.ended = apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
				"the answer is larger than the proxy gathers into one JSON answer (64 MiB); ask for a stream instead (stream: true)").WithCode("upstream_answer_too_large")
			cw.done = true
			return
		}
	}
	cw.gather.Event(ev)
	switch typ {
	case "response.completed", "response.incomplete":
		out, err := cw.gather.Completion(responseObject(ev))
		if err != nil {
			cw.ended = apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
				"the upstream's answer cannot be converted to Chat Completions: "+cw.red.String(err.Error())+"; retry, or ask for a stream").WithCode("upstream_answer_unreadable")
		} else {
			cw.json = out
		}
		cw.done = true
	case "response.failed", "error":
		code, msg, _, _ := sse.Failure(ev)
		cw.ended = apierror.New(http.StatusBadGateway, apierror.TypeUpstream, "upstream failed the response: "+cw.red.String(msg)).WithCode(code)
		cw.done = true
	}
}

// finishGathered answers a client that asked for JSON with the gathered
// stream's chat.completion, or with why there is none.
func (cw *chatWriter) finishGathered(rec *event.Decision) {
	switch {
	case cw.ended != nil:
		cw.fail(rec, cw.ended)
		return
	case !cw.done:
		if rec.Error == "client closed the request" {
			return
		}
		cw.fail(rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
			"upstream stream ended before response.completed; retry the request").WithCode("upstream_stream_interrupted"))
		return
	}
	h := cw.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(cw.json)))
	cw.w.WriteHeader(cw.status)
	if _, err := cw.w.Write(cw.json); err != nil && rec.Error == "" {
		rec.Error = "client went away: " + err.Error()
	}
}

// fail answers with the proxy's own error in place of a JSON answer it
// could not convert.
func (cw *chatWriter) fail(rec *event.Decision, e *apierror.Error) {
	cw.w.Header().Del("Content-Length")
	rec.Status, rec.Error = e.Status, e.Message
	e.Write(cw.w)
}

// isChatCompletion reports a JSON answer whose object is chat.completion.
func isChatCompletion(body []byte) bool {
	found := false
	_ = jsonscan.ObjectFields(bytes.TrimSpace(body), func(k, v []byte) bool {
		if string(k) == "object" {
			found = jsonscan.Equal(v, "chat.completion")
			return false
		}
		return true
	})
	return found
}
