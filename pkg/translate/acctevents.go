package translate

import "strconv"

// How a rebuilt answer writes its events, items and response objects: by
// hand, in the field order of the real API, with text copied as it came.

// ev starts an event: its event line and data up to sequence_number.
func (r *acctRebuilder) ev(typ string) {
	r.out = append(r.out, "event: "...)
	r.out = append(r.out, typ...)
	r.out = append(r.out, "\ndata: {\"type\":\""...)
	r.out = append(r.out, typ...)
	r.out = append(r.out, `","sequence_number":`...)
	r.out = strconv.AppendInt(r.out, int64(r.seq), 10)
	r.seq++
}

// evAt starts an event about an item: up to its output_index.
func (r *acctRebuilder) evAt(typ string, it *acctItem) {
	r.ev(typ)
	r.out = append(r.out, `,"item_id":`...)
	r.out = acctString(r.out, it.id)
	r.out = append(r.out, `,"output_index":`...)
	r.out = strconv.AppendInt(r.out, int64(it.index), 10)
}

func (r *acctRebuilder) end() { r.out = append(r.out, "}\n\n"...) }

func acctTextPart(dst, escaped []byte) []byte {
	dst = append(dst, `{"type":"output_text","annotations":[],"logprobs":[],"text":"`...)
	dst = append(dst, escaped...)
	return append(dst, `"}`...)
}

// item appends an item as the real API shows it, in progress or done.
func (r *acctRebuilder) item(dst []byte, it *acctItem) []byte {
	status := `"in_progress"`
	if it.done {
		status = `"completed"`
	}
	switch it.kind {
	case 'm':
		dst = append(dst, `{"id":`...)
		dst = acctString(dst, it.id)
		dst = append(dst, `,"type":"message","status":`...)
		dst = append(dst, status...)
		dst = append(dst, `,"role":"assistant","content":[`...)
		if it.done {
			dst = acctTextPart(dst, it.text)
		}
		return append(dst, "]}"...)
	case 'r':
		dst = append(dst, `{"id":`...)
		dst = acctString(dst, it.id)
		dst = append(dst, `,"type":"reasoning","summary":[`...)
		if it.done && len(it.text) > 0 {
			dst = append(dst, `{"type":"summary_text","text":"`...)
			dst = append(dst, it.text...)
			dst = append(dst, `"}`...)
		}
		return append(dst, "]}"...)
	case 'k':
		dst = append(dst, `{"id":`...)
		dst = acctString(dst, it.id)
		dst = append(dst, `,"type":"compaction","encrypted_content":`...)
		dst = acctString(dst, it.encryptedText)
		return append(dst, '}')
	}
	typ, field := "function_call", "arguments"
	if it.kind == 'c' {
		typ, field = "custom_tool_call", "input"
	}
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","id":`...)
	dst = acctString(dst, it.id)
	dst = append(dst, `,"call_id":`...)
	dst = acctString(dst, it.callID)
	dst = append(dst, `,"name":`...)
	dst = acctString(dst, it.name)
	if it.ns != "" {
		dst = append(dst, `,"namespace":`...)
		dst = acctString(dst, it.ns)
	}
	dst = append(dst, `,"`...)
	dst = append(dst, field...)
	dst = append(dst, `":`...)
	switch {
	case !it.done:
		dst = append(dst, `""`...)
	case it.kind == 'c':
		dst = append(dst, it.input...)
	default:
		dst = append(dst, '"')
		dst = append(dst, it.text...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"status":`...)
	dst = append(dst, status...)
	return append(dst, '}')
}

// response appends the response object in the given state: its output is
// the items done so far.
func (r *acctRebuilder) response(dst []byte, status, incomplete string) []byte {
	model := r.plan.Model()
	if model == "" {
		model = r.upModel
	}
	dst = append(dst, `{"id":"resp_chat_`...)
	dst = append(dst, r.base...)
	dst = append(dst, `","object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, r.created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","background":false,"error":`...)
	if status == "failed" {
		dst = append(dst, `{"code":`...)
		dst = acctString(dst, r.failCode)
		dst = append(dst, `,"message":`...)
		dst = acctString(dst, r.failMessage)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"incomplete_details":`...)
	if incomplete != "" {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, incomplete...)
		dst = append(dst, `"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"instructions":null,"max_output_tokens":null,"model":`...)
	dst = acctString(dst, model)
	dst = append(dst, `,"output":[`...)
	n := 0
	for _, it := range r.items {
		if !it.done {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = r.item(dst, it)
	}
	dst = append(dst, `],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":1,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled","usage":`...)
	if status == "in_progress" || status == "failed" {
		dst = append(dst, "null"...)
	} else {
		u := r.usage
		dst = append(dst, `{"input_tokens":`...)
		dst = strconv.AppendInt(dst, u.InputTokens, 10)
		dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
		dst = strconv.AppendInt(dst, u.CachedTokens, 10)
		dst = append(dst, `},"output_tokens":`...)
		dst = strconv.AppendInt(dst, u.OutputTokens, 10)
		dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
		dst = strconv.AppendInt(dst, u.ReasoningTokens, 10)
		dst = append(dst, `},"total_tokens":`...)
		dst = strconv.AppendInt(dst, u.InputTokens+u.OutputTokens, 10)
		dst = append(dst, '}')
	}
	return append(dst, `,"user":null,"metadata":{}}`...)
}
