package relay

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// gather answers a non-streaming request from an upstream that only
// streams: it reads the stream to its end and answers with the final
// response object, as the API would have without stream.
func (rl *Relay) gather(w http.ResponseWriter, at *attempt, rec *event.Decision) {
	w.Header().Del("Content-Type")
	ev, err := at.next, at.nextErr
	if ev == nil && err == nil {
		ev, err = at.nextEvent()
	}
	var done outputItems
	for {
		ev = rl.o.Redact.Answer(ev)
		typ := sse.Type(ev)
		if at.conv != nil && items.Watched(typ) {
			at.watch.Event(typ, sse.Data(ev))
		}
		switch typ {
		case "response.output_item.done":
			done.add(sse.Data(ev))
		case "response.completed", "response.incomplete":
			obj := done.fill(responseObject(ev))
			if obj == nil {
				break
			}
			rl.noteMinted(at)
			if res, ok := sse.Completion(ev); ok {
				rec.Usage = usageOf(res)
				if res.Model != "" {
					rec.Model = res.Model
				}
			}
			rec.TTFB = rl.o.Now().Sub(rec.Time)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(obj)))
			w.WriteHeader(http.StatusOK)
			if _, werr := w.Write(obj); werr != nil {
				rec.Error = "client went away: " + werr.Error()
			}
			return
		case "response.failed", "error":
			code, msg, _, _ := sse.Failure(ev)
			e := apierror.New(http.StatusBadGateway, apierror.TypeUpstream, "upstream failed the response: "+rl.o.Redact.String(msg)).WithCode(code)
			rl.fail(w, rec, e)
			return
		}
		if err != nil {
			break
		}
		ev, err = at.nextEvent()
	}
	rl.fail(w, rec, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
		"upstream stream ended before response.completed; retry the request").WithCode("upstream_stream_interrupted"))
}

// responseObject is the raw "response" member of a terminal event's data.
func responseObject(ev []byte) []byte {
	var obj []byte
	_ = jsonscan.ObjectFields(sse.Data(ev), func(k, v []byte) bool {
		if string(k) == "response" {
			obj = v
		}
		return true
	})
	return obj
}

// outputItems are the items of a stream's output_item.done events, kept
// for a final response whose output is empty: the ChatGPT backend's
// response.completed carries none, its items having come one by one.
type outputItems struct {
	items [][]byte
	size  int
}

func (o *outputItems) add(data []byte) {
	item := jsonscan.Member(data, "item")
	if len(item) == 0 || item[0] != '{' || o.size+len(item) > maxJSONResponse {
		return
	}
	o.items = append(o.items, bytes.Clone(item))
	o.size += len(item)
}

// fill is obj with the kept items as its output when its own is empty or
// absent, else obj itself.
func (o *outputItems) fill(obj []byte) []byte {
	if obj == nil || len(o.items) == 0 {
		return obj
	}
	if out := bytes.TrimSpace(jsonscan.Member(obj, "output")); len(out) > 0 && string(out) != "null" && string(bytes.Join(bytes.Fields(out), nil)) != "[]" {
		return obj
	}
	filled, err := jsonscan.Set(obj, "output", "["+string(bytes.Join(o.items, []byte(",")))+"]")
	if err != nil {
		return obj
	}
	return filled
}
