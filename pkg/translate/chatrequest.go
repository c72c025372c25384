package translate

import (
	"strconv"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// ChatRequest is what the front door learned about a chat request.
type ChatRequest struct {
	Model        string
	Stream       bool   // the client asked for a stream
	IncludeUsage bool   // stream_options.include_usage
	User         string // the "user" field, "" when absent
	// NativeOnly names the request's fields that only an account speaking
	// Chat Completions natively can honour ("n", "logprobs", "top_logprobs",
	// "audio", "modalities", "input_audio"...), empty when the translation carries
	// everything the client asked.
	NativeOnly []string
	// Notes says what the translation left out or changed without refusing
	// ("stop dropped: ..."), for the log: a native account gets the request
	// as it is, so a note never matters there.
	Notes []string
}

// frontMinOutputTokens is the smallest max_output_tokens the Responses API
// accepts (it answers 400 below it, where Chat Completions takes any
// positive max_tokens).
const frontMinOutputTokens = 16

// frontFields are the raw values of a chat request's top-level members the
// translation reads; nil when absent. A repeated member keeps its last value,
// as encoding/json does.
type frontFields struct {
	model, messages, tools, toolChoice, parallel, responseFormat  []byte
	effort, maxTokens, maxCompletion, temperature, topP, cacheKey []byte
	metadata, verbosity, stream, streamOptions, user              []byte
}

// frontNativeOnly are the top-level members whose meaning no Responses
// request can carry: the answer would differ, so the relay must send the
// request to a native account or refuse it. Each is ignored when null or
// at its default (n:1, logprobs:false), which is what most SDKs send.
var frontNativeOnly = map[string]bool{
	"n": true, "logprobs": true, "top_logprobs": true, "audio": true, "modalities": true,
	"functions": true, "function_call": true, "web_search_options": true,
}

// frontDropped are the members the translation leaves out with a note:
// hints or knobs whose absence does not change what a client can rely on
// in the answer, or that the Responses API does not have.
var frontDropped = map[string]string{
	"stop":              "stop dropped: the Responses API has no stop sequences",
	"presence_penalty":  "presence_penalty dropped: the Responses API has none",
	"frequency_penalty": "frequency_penalty dropped: the Responses API has none",
	"logit_bias":        "logit_bias dropped: the Responses API has none",
	"seed":              "seed dropped: the Responses API has none",
	"prediction":        "prediction dropped: a latency hint the Responses API has not",
	"service_tier":      "service_tier dropped: the pool picks the account",
	"safety_identifier": "safety_identifier dropped: kept out of the minimal body",
}

// ChatToResponses translates a Chat Completions request body into a
// Responses request body. The output always has "stream":true and
// "store":false (the relay gathers a stream into JSON for a client that
// asked for none). err is a *Error for a body that is not a valid chat
// request. When req.NativeOnly is not empty, out is still produced and the
// relay sends the request only to native accounts.
//
// The body is walked, not decoded: message texts, tool parameters and
// schemas are copied into out as the raw JSON they arrived as.
func ChatToResponses(body []byte) (out []byte, req ChatRequest, err error) {
	var f frontFields
	var perr *Error
	scanErr := jsonscan.ObjectFields(body, func(k, v []byte) bool {
		if perr = f.take(string(k), v, &req); perr != nil {
			return false
		}
		return true
	})
	if perr != nil {
		return nil, req, perr
	}
	if scanErr != nil {
		return nil, req, &Error{Code: "invalid_request", Message: "The body is not a JSON object: send a Chat Completions request ({\"model\":...,\"messages\":[...]})."}
	}
	if perr = f.read(&req); perr != nil {
		return nil, req, perr
	}

	// The output is the input plus item wrappers: a quarter more covers a
	// conversation of short messages without growing the buffer.
	w := frontWriter{b: make([]byte, 0, len(body)+len(body)/4+512)}
	w.raw(`{"model":`)
	w.bytes(f.model)
	w.raw(`,"input":`)
	if perr = w.messages(f.messages); perr != nil {
		return nil, req, perr
	}
	for _, k := range w.native {
		req.NativeOnly = frontAppendOnce(req.NativeOnly, k)
	}
	if perr = w.options(&f, &req); perr != nil {
		return nil, req, perr
	}
	w.raw(`,"stream":true,"store":false}`)
	return w.b, req, nil
}

// take keeps one top-level member, or notes it as native-only or dropped.
func (f *frontFields) take(k string, v []byte, req *ChatRequest) *Error {
	if frontNull(v) {
		return nil
	}
	p := f.slot(k)
	switch {
	case p != nil:
		*p = v
	case frontNativeOnly[k]:
		if !frontDefault(k, v) {
			req.NativeOnly = frontAppendOnce(req.NativeOnly, k)
		}
	case frontDropped[k] != "":
		if !frontEmptyList(v) {
			req.Notes = frontAppendOnce(req.Notes, frontDropped[k])
		}
	case k == "store":
		// The ChatGPT backend refuses store:true, and a stored response
		// would outlive the pool's choice of account.
		if string(v) == "true" {
			req.Notes = frontAppendOnce(req.Notes, "store:true dropped: answers are never stored")
		}
	default:
		req.Notes = frontAppendOnce(req.Notes, k+" dropped: not a Chat Completions field the translation knows")
	}
	return nil
}

// slot is where take keeps member k, nil for a member it does not keep.
func (f *frontFields) slot(k string) *[]byte {
	switch k {
	case "model":
		return &f.model
	case "messages":
		return &f.messages
	case "tools":
		return &f.tools
	case "tool_choice":
		return &f.toolChoice
	case "parallel_tool_calls":
		return &f.parallel
	case "response_format":
		return &f.responseFormat
	case "reasoning_effort":
		return &f.effort
	case "max_tokens":
		return &f.maxTokens
	case "max_completion_tokens":
		return &f.maxCompletion
	case "temperature":
		return &f.temperature
	case "top_p":
		return &f.topP
	case "prompt_cache_key":
		return &f.cacheKey
	case "metadata":
		return &f.metadata
	case "verbosity":
		return &f.verbosity
	case "stream":
		return &f.stream
	case "stream_options":
		return &f.streamOptions
	case "user":
		return &f.user
	}
	return nil
}

// frontDefault reports whether a native-only member holds the value that
// asks for nothing beyond what the translation gives: n 1, logprobs
// false, top_logprobs 0, modalities ["text"].
func frontDefault(k string, v []byte) bool {
	switch k {
	case "n":
		return string(v) == "1"
	case "logprobs":
		return string(v) == "false"
	case "top_logprobs":
		return string(v) == "0"
	case "modalities":
		textOnly := true
		err := jsonscan.ArrayElems(v, func(e []byte) bool {
			textOnly = jsonscan.Equal(e, "text")
			return textOnly
		})
		return err == nil && textOnly
	}
	return false
}

// read checks the members every chat request needs and fills req.
func (f *frontFields) read(req *ChatRequest) *Error {
	if len(f.model) == 0 || f.model[0] != '"' {
		return &Error{Param: "model", Code: "invalid_request", Message: "model is missing or not a string: name the model to use."}
	}
	req.Model, _ = jsonscan.String(f.model)
	if len(f.messages) == 0 || f.messages[0] != '[' {
		return &Error{Param: "messages", Code: "invalid_request", Message: "messages is missing or not an array: send the conversation as a list of {\"role\",\"content\"} messages."}
	}
	if f.stream != nil {
		switch string(f.stream) {
		case "true":
			req.Stream = true
		case "false":
		default:
			return &Error{Param: "stream", Code: "invalid_request", Message: "stream must be true or false."}
		}
	}
	if f.streamOptions != nil {
		if f.streamOptions[0] != '{' {
			return &Error{Param: "stream_options", Code: "invalid_request", Message: "stream_options must be an object such as {\"include_usage\":true}."}
		}
		req.IncludeUsage = string(jsonscan.Member(f.streamOptions, "include_usage")) == "true"
	}
	if f.user != nil {
		if f.user[0] != '"' {
			return &Error{Param: "user", Code: "invalid_request", Message: "user must be a string."}
		}
		req.User, _ = jsonscan.String(f.user)
	}
	return nil
}

// options writes every member after input: tools, tool choice, text format,
// reasoning, limits and sampling, in the order the Responses API documents
// them.
func (w *frontWriter) options(f *frontFields, req *ChatRequest) *Error {
	if f.tools != nil {
		if err := w.tools(f.tools); err != nil {
			return err
		}
	}
	if f.toolChoice != nil {
		w.raw(`,"tool_choice":`)
		if err := w.toolChoice(f.toolChoice); err != nil {
			return err
		}
	}
	if f.parallel != nil {
		if string(f.parallel) != "true" && string(f.parallel) != "false" {
			return &Error{Param: "parallel_tool_calls", Code: "invalid_request", Message: "parallel_tool_calls must be true or false."}
		}
		w.raw(`,"parallel_tool_calls":`)
		w.bytes(f.parallel)
	}
	if f.responseFormat != nil || f.verbosity != nil {
		if err := w.text(f.responseFormat, f.verbosity); err != nil {
			return err
		}
	}
	if f.effort != nil {
		if f.effort[0] != '"' {
			return &Error{Param: "reasoning_effort", Code: "invalid_request", Message: "reasoning_effort must be a string such as \"low\", \"medium\" or \"high\"."}
		}
		w.raw(`,"reasoning":{"effort":`)
		w.bytes(f.effort)
		w.raw(`}`)
	}
	if err := w.maxTokens(f, req); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		v    []byte
	}{{"temperature", f.temperature}, {"top_p", f.topP}} {
		if m.v == nil {
			continue
		}
		if _, err := strconv.ParseFloat(string(m.v), 64); err != nil {
			return &Error{Param: m.name, Code: "invalid_request", Message: m.name + " must be a number."}
		}
		w.raw(`,"` + m.name + `":`)
		w.bytes(m.v)
	}
	if f.cacheKey != nil {
		if f.cacheKey[0] != '"' {
			return &Error{Param: "prompt_cache_key", Code: "invalid_request", Message: "prompt_cache_key must be a string."}
		}
		w.raw(`,"prompt_cache_key":`)
		w.bytes(f.cacheKey)
	}
	if f.metadata != nil {
		if f.metadata[0] != '{' {
			return &Error{Param: "metadata", Code: "invalid_request", Message: "metadata must be an object of string values."}
		}
		w.raw(`,"metadata":`)
		w.bytes(f.metadata)
	}
	return nil
}

// maxTokens writes max_output_tokens from max_completion_tokens (the
// current name) or max_tokens, raised to the Responses API's minimum.
func (w *frontWriter) maxTokens(f *frontFields, req *ChatRequest) *Error {
	v, name := f.maxCompletion, "max_completion_tokens"
	if v == nil {
		v, name = f.maxTokens, "max_tokens"
	}
	if v == nil {
		return nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 1 {
		return &Error{Param: name, Code: "invalid_request", Message: name + " must be a positive integer."}
	}
	if n < frontMinOutputTokens {
		req.Notes = append(req.Notes, name+" raised to 16: the Responses API's minimum")
		v = []byte(strconv.Itoa(frontMinOutputTokens))
	}
	w.raw(`,"max_output_tokens":`)
	w.bytes(v)
	return nil
}

// frontNull reports whether a raw value is JSON null: a member set to null
// means the same as an absent one.
func frontNull(v []byte) bool { return string(v) == "null" }

// frontEmptyList reports whether v is an empty array or string, which asks
// for nothing (stop: [] or "").
func frontEmptyList(v []byte) bool { return string(v) == "[]" || string(v) == `""` }

func frontAppendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
