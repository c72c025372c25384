package fakeupstream

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// This file holds the rules a chat-only upstream (DeepSeek, Kimi, GLM, Qwen,
// vLLM, Ollama) applies to a Chat Completions request before it answers, so
// a proxy that translates badly fails here as it would there. The messages
// are DeepSeek's where it has its own (seen in many client issues), else
// the OpenAI API's.

// chatRequest is what the chat route reads of a request body, walked with
// jsonscan rather than decoded: a translated Codex request is megabytes.
type chatRequest struct {
	model        string
	stream       bool
	includeUsage bool   // stream_options.include_usage
	cacheKey     string // prompt_cache_key, "" when absent
	messages     []chatMessage
	// prefix is the raw first message, which keys the prefix cache of a
	// conversation that names no prompt_cache_key (as DeepSeek's automatic
	// cache hits a repeated prefix).
	prefix []byte
}

// chatMessage is what the rules need of one message.
type chatMessage struct {
	role         string
	toolCallID   string   // a tool message's tool_call_id
	toolCalls    []string // an assistant message's tool_calls ids
	content      bool     // content is present and not null
	hasReasoning bool     // reasoning_content is a string
}

// responsesOnlyFields are Responses API fields a Chat Completions server
// does not know: one of them in a chat request is a translation that forgot
// to translate.
var responsesOnlyFields = map[string]bool{
	"input": true, "instructions": true, "text": true, "include": true,
	"store": true, "previous_response_id": true,
}

// toolNamePattern is what function names must match, on OpenAI and the
// compatible servers that copied its schema.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// chatRefusal is a request the chat route answers 400, OpenAI-shaped.
func chatRefusal(message, param, code string) *bodyError {
	return &bodyError{http.StatusBadRequest, apiError{Message: message, Type: "invalid_request_error", Param: param, Code: code}}
}

// deepSeekRefusal is a refusal in DeepSeek's shape: param null and the code
// repeating the type.
func deepSeekRefusal(format string, args ...any) *bodyError {
	return chatRefusal(fmt.Sprintf(format, args...), "", "invalid_request_error")
}

// parseChat reads a chat request and applies the rules that need no
// knowledge of the server but thinking (WithThinking).
func parseChat(body []byte, thinking bool) (chatRequest, *bodyError) {
	var req chatRequest
	var messages, tools []byte
	var refused *bodyError
	err := jsonscan.ObjectFields(body, func(k, v []byte) bool {
		switch key := string(k); {
		case key == "model":
			req.model, _ = jsonscan.String(v)
		case key == "stream":
			req.stream = string(v) == "true"
		case key == "stream_options":
			req.includeUsage = string(jsonscan.Member(v, "include_usage")) == "true"
		case key == "prompt_cache_key":
			req.cacheKey, _ = jsonscan.String(v)
		case key == "messages":
			messages = v
		case key == "tools":
			tools = v
		case responsesOnlyFields[key] || key == "reasoning" && len(v) > 0 && v[0] == '{':
			refused = chatRefusal("Unrecognized request argument supplied: "+key, "", "")
			return false
		}
		return true
	})
	if err != nil {
		return req, unparsableBody()
	}
	if refused != nil {
		return req, refused
	}
	if berr := req.readMessages(messages); berr != nil {
		return req, berr
	}
	if berr := checkTools(tools); berr != nil {
		return req, berr
	}
	if berr := checkToolTurns(req.messages); berr != nil {
		return req, berr
	}
	if thinking {
		if berr := checkReasoningBack(req.messages); berr != nil {
			return req, berr
		}
	}
	return req, nil
}

// readMessages reads the messages array: present, an array, not empty, each
// message an object with a role the server knows.
func (req *chatRequest) readMessages(raw []byte) *bodyError {
	switch {
	case raw == nil:
		return chatRefusal("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
	case raw[0] != '[':
		return chatRefusal("Invalid type for 'messages': expected an array, but got another type instead.", "messages", "invalid_type")
	}
	var berr *bodyError
	_ = jsonscan.ArrayElems(raw, func(v []byte) bool {
		i := len(req.messages)
		if i == 0 {
			req.prefix = v
		}
		m, ok := readMessage(v)
		switch {
		case !ok:
			berr = deepSeekRefusal("Failed to deserialize the JSON body into the target type: messages[%d]: invalid type, expected internally tagged enum Message", i)
		case m.role == "":
			berr = deepSeekRefusal("Failed to deserialize the JSON body into the target type: messages[%d]: missing field `role`", i)
		case m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool":
			// "developer" lands here: DeepSeek and most local servers
			// predate it.
			berr = deepSeekRefusal("Failed to deserialize the JSON body into the target type: messages[%d].role: unknown variant `%s`, expected one of `system`, `user`, `assistant`, `tool`", i, m.role)
		case m.role == "assistant" && !m.content && len(m.toolCalls) == 0:
			berr = deepSeekRefusal("Invalid assistant message: content or tool_calls must be set")
		}
		req.messages = append(req.messages, m)
		return berr == nil
	})
	if berr != nil {
		return berr
	}
	if len(req.messages) == 0 {
		return chatRefusal("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array")
	}
	return nil
}

// readMessage reads one message; ok is false when it is not an object.
func readMessage(raw []byte) (m chatMessage, ok bool) {
	err := jsonscan.ObjectFields(raw, func(k, v []byte) bool {
		switch string(k) {
		case "role":
			m.role, _ = jsonscan.String(v)
		case "content":
			m.content = string(v) != "null"
		case "tool_call_id":
			m.toolCallID, _ = jsonscan.String(v)
		case "reasoning_content":
			m.hasReasoning = len(v) > 0 && v[0] == '"'
		case "tool_calls":
			_ = jsonscan.ArrayElems(v, func(call []byte) bool {
				id, _ := jsonscan.String(jsonscan.Member(call, "id"))
				m.toolCalls = append(m.toolCalls, id)
				return true
			})
		}
		return true
	})
	return m, err == nil
}

// checkTools refuses a tool that is not a Chat Completions function tool (a
// Responses-style flat tool, a custom or web_search tool) or whose name
// breaks the pattern.
func checkTools(raw []byte) *bodyError {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	var berr *bodyError
	i := 0
	_ = jsonscan.ArrayElems(raw, func(v []byte) bool {
		typ, _ := jsonscan.String(jsonscan.Member(v, "type"))
		fn := jsonscan.Member(v, "function")
		name, _ := jsonscan.String(jsonscan.Member(fn, "name"))
		switch {
		case typ != "function":
			berr = chatRefusal(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function'.", typ), fmt.Sprintf("tools[%d].type", i), "invalid_value")
		case fn == nil:
			berr = chatRefusal(fmt.Sprintf("Missing required parameter: 'tools[%d].function'.", i), fmt.Sprintf("tools[%d].function", i), "missing_required_parameter")
		case !toolNamePattern.MatchString(name):
			berr = chatRefusal(fmt.Sprintf("Invalid 'tools[%d].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", i), fmt.Sprintf("tools[%d].function.name", i), "invalid_value")
		}
		i++
		return berr == nil
	})
	return berr
}

// checkToolTurns applies the tool-turn rule every chat server enforces: a
// tool message answers a pending call of the assistant message before it,
// and every call is answered before the next user or assistant message (or
// the end of the conversation).
func checkToolTurns(messages []chatMessage) *bodyError {
	pending := map[string]bool{}
	for _, m := range messages {
		switch m.role {
		case "user", "assistant":
			if len(pending) > 0 {
				return insufficientToolMessages()
			}
			for _, id := range m.toolCalls {
				pending[id] = true
			}
		case "tool":
			if !pending[m.toolCallID] {
				return deepSeekRefusal("Messages with role 'tool' must be a response to a preceding message with 'tool_calls'")
			}
			delete(pending, m.toolCallID)
		}
	}
	if len(pending) > 0 {
		return insufficientToolMessages()
	}
	return nil
}

func insufficientToolMessages() *bodyError {
	return deepSeekRefusal("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. (insufficient tool messages following tool_calls message)")
}

// checkReasoningBack is DeepSeek's thinking-mode rule: within the current
// tool turn (after the last user message) an assistant message with
// tool_calls must carry its reasoning_content back.
func checkReasoningBack(messages []chatMessage) *bodyError {
	lastUser := -1
	for i, m := range messages {
		if m.role == "user" {
			lastUser = i
		}
	}
	for i := lastUser + 1; i < len(messages); i++ {
		if m := messages[i]; m.role == "assistant" && len(m.toolCalls) > 0 && !m.hasReasoning {
			return deepSeekRefusal("Missing `reasoning_content` field in the assistant message at message index %d. For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls", i)
		}
	}
	return nil
}
