package translate

import (
	"errors"
	"strconv"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// ChatCompletion converts a final Responses object (the "response" of
// response.completed, or a non-streaming Responses JSON answer) into a
// chat.completion JSON object. A failed response is an error: the relay
// answers it as an upstream failure, not as a completion.
func ChatCompletion(response []byte) ([]byte, error) {
	return frontCompletion(response, nil)
}

// ChatGather keeps the output items of a streamed answer so that a
// chat.completion can be built from them when the final response object
// comes without its output, as the ChatGPT backend sends it (its
// response.completed carries output [] or null: the items arrive only in
// response.output_item.done events; several clients learned this, e.g.
// LiteLLM PR 26075, hermes-agent PR 5689). It holds every item: it serves a
// client that asked for the whole answer as one JSON object, which holds it
// all anyway. The zero value is ready to use.
type ChatGather struct {
	items [][]byte
}

// Event takes one Responses SSE event and keeps the item of an
// output_item.done.
func (g *ChatGather) Event(ev []byte) {
	if sse.Type(ev) != "response.output_item.done" {
		return
	}
	if item := jsonscan.Member(sse.Data(ev), "item"); len(item) > 0 && item[0] == '{' {
		g.items = append(g.items, append([]byte(nil), item...))
	}
}

// Completion is ChatCompletion of response, with the gathered items as its
// output when the response has none.
func (g *ChatGather) Completion(response []byte) ([]byte, error) {
	return frontCompletion(response, g.items)
}

// frontAnswer accumulates the assistant message of a completion: texts are
// joined as raw JSON string contents (escapes and all), never decoded.
type frontAnswer struct {
	content, refusal, reasoning []byte // the joined insides of JSON strings; nil when none
	calls                       []byte // tool_calls elements, comma-separated
	ncalls                      int
}

func frontJoin(dst, raw []byte, sep string) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return dst
	}
	if dst == nil {
		dst = []byte{}
	} else if sep != "" && len(raw) > 2 {
		dst = append(dst, sep...)
	}
	return append(dst, raw[1:len(raw)-1]...)
}

// add reads one output item into the answer.
func (a *frontAnswer) add(item []byte) {
	it := frontReadItem(item)
	switch {
	case jsonscan.Equal(it.typ, "message"):
		_ = jsonscan.ArrayElems(jsonscan.Member(item, "content"), func(p []byte) bool {
			switch typ := jsonscan.Member(p, "type"); {
			case jsonscan.Equal(typ, "output_text"):
				a.content = frontJoin(a.content, jsonscan.Member(p, "text"), "")
			case jsonscan.Equal(typ, "refusal"):
				a.refusal = frontJoin(a.refusal, jsonscan.Member(p, "refusal"), "")
			}
			return true
		})
	case jsonscan.Equal(it.typ, "reasoning"):
		_ = jsonscan.ArrayElems(jsonscan.Member(item, "summary"), func(p []byte) bool {
			a.reasoning = frontJoin(a.reasoning, jsonscan.Member(p, "text"), `\n\n`)
			return true
		})
	case it.isCall():
		if a.ncalls > 0 {
			a.calls = append(a.calls, ',')
		}
		a.ncalls++
		a.calls = frontCallJSON(a.calls, it, -1, it.args)
	}
}

// frontCallJSON appends a tool call as a chat message carries it, with
// args as its arguments (input for a freeform tool's call) and, when index
// is not negative, the index a stream's first delta of a call carries.
func frontCallJSON(b []byte, it frontItem, index int, args []byte) []byte {
	callID := it.callID
	if len(callID) == 0 || callID[0] != '"' {
		callID = it.id // an item without call_id still needs an id the tool message can name
	}
	b = append(b, '{')
	if index >= 0 {
		b = append(b, `"index":`...)
		b = strconv.AppendInt(b, int64(index), 10)
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = append(b, frontString(callID)...)
	if jsonscan.Equal(it.typ, "custom_tool_call") {
		b = append(b, `,"type":"custom","custom":{"name":`...)
		b = append(b, frontString(it.name)...)
		b = append(b, `,"input":`...)
	} else {
		b = append(b, `,"type":"function","function":{"name":`...)
		b = append(b, frontString(it.name)...)
		b = append(b, `,"arguments":`...)
	}
	b = append(b, frontString(args)...)
	return append(b, `}}`...)
}

// frontString is raw when it is a JSON string, else "".
func frontString(raw []byte) []byte {
	if len(raw) == 0 || raw[0] != '"' {
		return []byte(`""`)
	}
	return raw
}

func frontCompletion(response []byte, gathered [][]byte) ([]byte, error) {
	var id, created, model, statusRaw, incomplete, output []byte
	err := frontTake(response, frontResponseKeys, &id, &created, &model, &statusRaw, &incomplete, &output)
	status, reason := frontStr(statusRaw), jsonscan.Member(incomplete, "reason")
	if err != nil {
		return nil, errors.New("translate: the response is not a JSON object")
	}
	res, _ := sse.ResponseJSON(response)
	if status == "failed" {
		msg := res.ErrorMessage
		if msg == "" {
			msg = "the upstream failed the response"
		}
		return nil, errors.New("translate: response failed: " + msg)
	}

	var a frontAnswer
	if output == nil || string(output) == "[]" {
		for _, item := range gathered {
			a.add(item)
		}
	} else {
		_ = jsonscan.ArrayElems(output, func(item []byte) bool {
			a.add(item)
			return true
		})
	}

	finish := `"stop"`
	switch {
	case status == "incomplete":
		finish = frontIncomplete(reason)
	case a.ncalls > 0:
		finish = `"tool_calls"`
	}

	b := frontHead(frontStr(id), created, frontStr(model), "", "chat.completion")
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	switch {
	case a.content != nil:
		b = frontQuoted(b, a.content)
	case a.ncalls > 0 || a.refusal != nil:
		b = append(b, "null"...)
	default:
		b = append(b, `""`...)
	}
	b = append(b, `,"refusal":`...)
	if a.refusal != nil {
		b = frontQuoted(b, a.refusal)
	} else {
		b = append(b, "null"...)
	}
	if a.reasoning != nil {
		b = append(b, `,"reasoning_content":`...)
		b = frontQuoted(b, a.reasoning)
	}
	if a.ncalls > 0 {
		b = append(b, `,"tool_calls":[`...)
		b = append(b, a.calls...)
		b = append(b, ']')
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	b = append(b, finish...)
	b = append(b, `}],"usage":`...)
	b = frontUsage(b, res.Usage)
	return append(b, '}'), nil
}

func frontQuoted(b, inside []byte) []byte {
	b = append(b, '"')
	b = append(b, inside...)
	return append(b, '"')
}
