package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/sse"
)

// The round trips run the two halves of the package back to back on the
// captured shapes, so that what one half writes the other reads back to
// the same meaning:
//
//   - a client's chat request -> ChatToResponses -> ResponsesToChat -> the
//     chat request a chat-only account gets, which must mean what the
//     client asked;
//   - a chat-only account's chunks -> Rebuild -> ChatStream -> the chunks a
//     chat client reads, which must carry the same answer.
//
// Each compares a normal form of both sides, built here with encoding/json
// (tests may decode; the request path may not). The normal form undoes
// only what the translation documents it changes; any other difference is
// a bug in the translation.

// rtRequest is the meaning of a chat request.
type rtRequest struct {
	Model          string
	Messages       []rtMessage
	Tools          []rtTool
	ToolChoice     string // canonical JSON, "" when absent
	Parallel       string // "true", "false", ""
	ResponseFormat string // canonical JSON without the schema, which Schema holds as it came
	Schema         string
	Effort         string
	MaxTokens      string // max_completion_tokens or max_tokens, one meaning
	Temperature    string
	TopP           string
}

// rtMessage is one message: its content as canonical JSON ("null" for
// none), its calls and the call a tool message answers.
type rtMessage struct {
	Role       string
	Content    string
	ToolCalls  []rtCall
	ToolCallID string
}

type rtCall struct{ ID, Type, Name, Arguments string }

type rtTool struct {
	Type, Name, Description string
	Parameters              string // the raw bytes: a schema travels untouched
	Strict                  bool   // absent means false in Chat Completions
}

// rtCanon is v as canonical JSON (members sorted, no spaces); "" for an
// absent value, "null" for null.
func rtCanon(t *testing.T, v json.RawMessage) string {
	t.Helper()
	if len(v) == 0 {
		return ""
	}
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		t.Fatalf("not JSON: %v: %s", err, v)
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rtMeaning decodes a chat request into its normal form. translated says
// it is the output of the round trip, which must also say what the
// account half always adds: stream forced, with usage.
func rtMeaning(t *testing.T, body []byte, translated bool) rtRequest {
	t.Helper()
	var w acctChat
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("not a chat request: %v\n%s", err, body)
	}
	if translated && (!w.Stream || !w.StreamOptions["include_usage"]) {
		t.Errorf("the account's request is not a stream with usage: %s", body)
	}
	r := rtRequest{
		Model: w.Model, Effort: w.ReasoningEffort,
		ToolChoice: rtCanon(t, w.ToolChoice), Parallel: string(w.Parallel),
		Temperature: string(w.Temperature), TopP: string(w.TopP),
	}
	r.MaxTokens = string(w.MaxCompletionTokens)
	if r.MaxTokens == "" {
		r.MaxTokens = string(w.MaxTokens)
	}
	if len(w.ResponseFormat) > 0 {
		var f map[string]json.RawMessage
		if err := json.Unmarshal(w.ResponseFormat, &f); err != nil {
			t.Fatal(err)
		}
		if js := f["json_schema"]; len(js) > 0 {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatal(err)
			}
			r.Schema = string(m["schema"])
			delete(m, "schema")
			f["json_schema"], _ = json.Marshal(m)
		}
		b, _ := json.Marshal(f)
		r.ResponseFormat = rtCanon(t, b)
	}
	for _, tl := range w.Tools {
		r.Tools = append(r.Tools, rtTool{
			Type: tl.Type, Name: tl.Function.Name, Description: tl.Function.Description,
			Parameters: string(tl.Function.Parameters), Strict: tl.Function.Strict,
		})
	}
	lead := true // only system messages so far
	for _, m := range w.Messages {
		role := m.Role
		if role == "developer" {
			role = "system" // chat-only providers reject developer
		}
		content := rtContent(t, m.Content)
		if role == "system" && lead && len(r.Messages) == 1 {
			// The leading system messages become one: several chat
			// templates take a system message only first.
			var a, b string
			_ = json.Unmarshal([]byte(r.Messages[0].Content), &a)
			_ = json.Unmarshal([]byte(content), &b)
			joined, _ := json.Marshal(a + "\n\n" + b)
			r.Messages[0].Content = string(joined)
			continue
		}
		lead = lead && role == "system"
		msg := rtMessage{Role: role, Content: content, ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, rtCall{ID: c.ID, Type: c.Type, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
		r.Messages = append(r.Messages, msg)
	}
	return r
}

// rtContent is a message's content in normal form, as canonical JSON:
// "null" for none; a list of text parts as one string of their texts, a
// blank line apart (the account half sends all-text content as a string,
// which every provider takes); an image part's detail "auto" when it has
// none (the default of both APIs, which the Responses API wants said).
func rtContent(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return "null"
	}
	var parts []map[string]any
	if json.Unmarshal(raw, &parts) != nil {
		return rtCanon(t, raw)
	}
	var texts []string
	for _, p := range parts {
		if p["type"] != "text" {
			texts = nil
			break
		}
		s, _ := p["text"].(string)
		texts = append(texts, s)
	}
	if texts != nil {
		b, _ := json.Marshal(strings.Join(texts, "\n\n"))
		return string(b)
	}
	for _, p := range parts {
		if img, ok := p["image_url"].(map[string]any); ok && img["detail"] == nil {
			img["detail"] = "auto"
		}
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

// rtJSON shows a value in a failure message.
func rtJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// rtGolden compares got with testdata/roundtrip/name, or rewrites it under
// -update.
func rtGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	frontGolden(t, filepath.Join("testdata", "roundtrip", name), got)
}

// TestRoundTripRequests: a captured chat request, translated for a
// Responses account and that translated for a chat-only account, asks
// what the client asked.
func TestRoundTripRequests(t *testing.T) {
	files := frontGlob(t, "requests/*.chat.json")
	extra, _ := filepath.Glob(filepath.Join("testdata", "roundtrip", "requests", "*.chat.json"))
	for _, path := range append(files, extra...) {
		name := strings.TrimSuffix(filepath.Base(path), ".chat.json")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mid, _, terr := ChatToResponses(in)
			if terr != nil {
				t.Fatalf("ChatToResponses: %v", terr)
			}
			out, plan, aerr := ResponsesToChat(mid, ChatOptions{})
			if aerr != nil {
				t.Fatalf("ResponsesToChat: %v\n%s", aerr, mid)
			}
			if d := plan.Dropped(); len(d) > 0 {
				t.Errorf("the account half dropped %v of what the front door wrote:\n%s", d, mid)
			}
			rtGolden(t, "requests/"+name+".golden.json", frontIndent(t, out))
			want, got := rtMeaning(t, in, false), rtMeaning(t, out, true)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the round trip changed the request\n got: %s\nwant: %s\nvia: %s", rtJSON(got), rtJSON(want), mid)
			}
		})
	}
}

// rtAnswer is what a chat client makes of an answer's chunks.
type rtAnswer struct {
	Content, Reasoning string
	Calls              []rtStreamCall
	Finish             string
	Usage              rtUsage
	Error              string // code: message of an error chunk
	Done               bool   // data: [DONE] came
}

type rtStreamCall struct {
	Index               int
	ID, Name, Arguments string
}

type rtUsage struct {
	Prompt, Completion, Total, Cached, Reasoning int64
}

// rtChunk is a chat.completion.chunk, or a whole chat.completion (whose
// choices carry message instead of delta), or an error chunk.
type rtChunk struct {
	Choices []struct {
		Index        int     `json:"index"`
		Delta        rtDelta `json:"delta"`
		Message      rtDelta `json:"message"`
		FinishReason string  `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		Prompt     int64 `json:"prompt_tokens"`
		Completion int64 `json:"completion_tokens"`
		Total      int64 `json:"total_tokens"`
		PromptD    struct {
			Cached int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionD struct {
			Reasoning int64 `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
	Error *struct {
		Message string          `json:"message"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

type rtDelta struct {
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content"`
	ToolCalls        []struct {
		Index    int    `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// add folds one chunk's data into the answer, as an SDK accumulates it.
func (a *rtAnswer) add(t *testing.T, data []byte) {
	t.Helper()
	if string(bytes.TrimSpace(data)) == "[DONE]" {
		a.Done = true
		return
	}
	var c rtChunk
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("chunk is not JSON: %v: %s", err, data)
	}
	if c.Error != nil {
		var code string
		if err := json.Unmarshal(c.Error.Code, &code); err != nil {
			code = string(c.Error.Code)
		}
		a.Error = code + ": " + c.Error.Message
	}
	for _, ch := range c.Choices {
		d := ch.Delta
		if ch.Message.Content != "" || ch.Message.ReasoningContent != "" || len(ch.Message.ToolCalls) > 0 {
			d = ch.Message
		}
		a.Content += d.Content
		a.Reasoning += d.ReasoningContent
		for i, tc := range d.ToolCalls {
			idx := tc.Index
			if len(ch.Message.ToolCalls) > 0 {
				idx = i // a whole message's calls may leave index out
			}
			for len(a.Calls) <= idx {
				a.Calls = append(a.Calls, rtStreamCall{Index: len(a.Calls)})
			}
			cl := &a.Calls[idx]
			if tc.ID != "" {
				cl.ID = tc.ID
			}
			cl.Name += tc.Function.Name
			cl.Arguments += tc.Function.Arguments
		}
		if ch.FinishReason != "" && a.Finish == "" {
			a.Finish = ch.FinishReason
		}
	}
	if u := c.Usage; u != nil {
		a.Usage = rtUsage{u.Prompt, u.Completion, u.Total, u.PromptD.Cached, u.CompletionD.Reasoning}
	}
}

// rtUpstream reads a captured chat answer (chunks, or one JSON object).
func rtUpstream(t *testing.T, body []byte, isJSON bool) rtAnswer {
	t.Helper()
	var a rtAnswer
	if isJSON {
		a.add(t, body)
		return a
	}
	for _, data := range rtData(body) {
		a.add(t, data)
	}
	return a
}

// rtData is the data of each event of an SSE stream.
func rtData(stream []byte) [][]byte {
	var datas [][]byte
	rd := sse.NewReader(bytes.NewReader(stream))
	for {
		ev, err := rd.Next()
		if err != nil {
			return datas
		}
		if data := sse.Data(ev); data != nil {
			datas = append(datas, data)
		}
	}
}

// TestRoundTripStreams: a chat-only account's captured answer, rebuilt as
// Responses events and those turned into chunks for a chat client, is the
// same answer.
func TestRoundTripStreams(t *testing.T) {
	acctFixedIDs(t)
	var files []string
	for _, pattern := range []string{
		filepath.Join(acctTestdata, "*.chunks.sse"),
		filepath.Join(acctTestdata, "*.chunks.json"),
		filepath.Join("..", "fakeupstream", "testdata", "chat", "*.sse"),
	} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no captured chat answers")
	}
	for _, path := range files {
		base := filepath.Base(path)
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".sse"), ".json"), ".chunks")
		if strings.Contains(path, "fakeupstream") {
			name = "fake-" + name
		}
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			isJSON := strings.HasSuffix(path, ".json")
			ct := "text/event-stream"
			if isJSON {
				ct = "application/json"
			}
			rebuilt := acctRebuild(t, body, ct, nil, RebuildOptions{})
			s := NewChatStream(ChatRequest{Model: "gpt-5.5", Stream: true, IncludeUsage: true})
			var out []byte
			for ev := range bytes.SplitAfterSeq(rebuilt, []byte("\n\n")) {
				out = append(out, s.Event(ev)...)
			}
			rtGolden(t, "streams/"+name+".chat.sse", out)

			want := rtUpstream(t, body, isJSON)
			var got rtAnswer
			for _, c := range rtData(out) {
				got.add(t, c)
			}
			// What the translation documents it changes: the Responses
			// API has no finish_reason, so an answer with tool calls
			// ends as the OpenAI API ends one, "tool_calls", whatever the
			// provider said; the client gets its [DONE] after a
			// finish_reason or an error, also from a provider that sent
			// none (a JSON answer), and an answer cut before either gets
			// none (the relay tells the client the stream broke);
			// total_tokens is input plus output when the
			// provider left it out.
			if len(want.Calls) > 0 && want.Finish == "stop" {
				want.Finish = "tool_calls"
			}
			want.Done = want.Finish != "" || want.Error != ""
			if want.Usage.Total == 0 && want.Finish != "" {
				want.Usage.Total = want.Usage.Prompt + want.Usage.Completion
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the round trip changed the answer\n got: %s\nwant: %s\nrebuilt: %s", rtJSON(got), rtJSON(want), rebuilt)
			}
			if s.Done() != got.Done {
				t.Errorf("Done() = %v, [DONE] sent = %v", s.Done(), got.Done)
			}
			if !isJSON {
				rtPassthrough(t, body)
			}
		})
	}
}

// rtPassthrough checks the other way a chat client is answered: a native
// account's chunks, passed through the rebuilt stream, reach the client
// byte for byte, and nothing derived from them is sent twice.
func rtPassthrough(t *testing.T, body []byte) {
	t.Helper()
	rebuilt := acctRebuild(t, body, "text/event-stream", nil, RebuildOptions{Passthrough: true})
	s := NewChatStream(ChatRequest{Model: "gpt-5.5", Stream: true, IncludeUsage: true})
	var out []byte
	for ev := range bytes.SplitAfterSeq(rebuilt, []byte("\n\n")) {
		out = append(out, s.Event(ev)...)
	}
	if got, want := rtData(out), rtData(body); !reflect.DeepEqual(got, want) {
		t.Errorf("passed through, the chunks changed\n got: %q\nwant: %q", got, want)
	}
}
