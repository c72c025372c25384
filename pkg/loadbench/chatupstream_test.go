package loadbench

import (
	"bytes"
	"net/http"
	"strconv"
	"time"
)

const chatID = "chatcmpl-0123456789abcdef0123456789ab"

// chatChunk is one chat.completion.chunk as OpenAI streams it (fields
// trimmed as the Responses events are), choice being the JSON of its only
// choice, or "" for the usage chunk's empty choices.
func chatChunk(choice, usage string) string {
	b := `{"id":"` + chatID + `","object":"chat.completion.chunk","created":1741993200,"model":"` + model + `","system_fingerprint":"fp_loadbench","choices":[`
	b += choice + `]`
	if usage != "" {
		b += `,"usage":` + usage
	}
	return b + `}`
}

// serveChat is the same answer as serveResponses in Chat Completions
// chunks, flushed one by one as OpenAI sends them: a role chunk, the text
// deltas, a finish_reason chunk, a usage chunk with empty choices, [DONE].
func (u *upstream) serveChat(w http.ResponseWriter, r *http.Request) {
	deltas, ok := u.accept(w, r)
	if !ok {
		return
	}
	fl := w.(http.Flusher)

	var buf bytes.Buffer
	send := func(data string) bool {
		buf.Reset()
		buf.WriteString("data: ")
		buf.WriteString(data)
		buf.WriteString("\n\n")
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	choice := func(delta, finish string) string {
		return `{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + finish + `}`
	}
	ok = send(chatChunk(choice(`{"role":"assistant","content":"","refusal":null}`, "null"), ""))
	if ok && u.gate != nil {
		select {
		case <-u.gate.C():
		case <-r.Context().Done():
			return
		}
	}
	for i := 0; ok && i < deltas; i++ {
		if u.gap > 0 {
			time.Sleep(u.gap)
		}
		ok = send(chatChunk(choice(`{"content":`+strconv.Quote(u.deltaText())+`}`, "null"), ""))
	}
	ok = ok && send(chatChunk(choice(`{}`, `"stop"`), "")) &&
		send(chatChunk("", `{"prompt_tokens":16500,"completion_tokens":120,"total_tokens":16620,"prompt_tokens_details":{"cached_tokens":16384},"completion_tokens_details":{"reasoning_tokens":64}}`)) &&
		send("[DONE]")
	if ok {
		u.served.Add(1)
	}
}
