package sse

import (
	"bytes"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// Type returns the event's type: its event field if present and non-empty,
// else the top-level "type" of the JSON in its data, which is where the
// Responses API (and Codex, which ignores the event field) puts it; "" if
// neither. Only the JSON up to "type" is scanned, and the common types
// return without allocating.
func Type(event []byte) string {
	var name []byte
	for line := range lines(event) {
		if f, v := field(line); string(f) == "event" {
			name = v
		}
	}
	if len(name) > 0 {
		return intern(name)
	}
	return JSONType(Data(event))
}

// JSONType returns the top-level "type" of an event's JSON (an SSE
// event's data, or a WebSocket message), "" if none. Only the JSON up to
// "type" is scanned, and the common types return without allocating.
func JSONType(data []byte) string {
	typ := jsonscan.Member(data, "type")
	if len(typ) == 0 || typ[0] != '"' {
		return ""
	}
	s, err := jsonscan.Unquote(typ)
	if err != nil {
		return ""
	}
	return intern(s)
}

// Data returns the payload of the event's data lines joined with "\n", as
// the SSE spec assembles it; nil when there are none. With one data line
// (every Responses API event) the result aliases event.
func Data(event []byte) []byte {
	var first, joined []byte
	n := 0
	for line := range lines(event) {
		f, v := field(line)
		if string(f) != "data" {
			continue
		}
		n++
		switch n {
		case 1:
			first = v
			continue
		case 2:
			joined = append(make([]byte, 0, len(first)+1+len(v)), first...)
		}
		joined = append(append(joined, '\n'), v...)
	}
	if n > 1 {
		return joined
	}
	return first
}

// lines yields the event's lines without their terminators, up to the
// blank line that ends the event.
func lines(event []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(event) > 0 {
			// Two vectorised searches beat IndexAny on a 100 KB data line.
			end := bytes.IndexByte(event, '\n')
			if end < 0 {
				end = len(event)
			}
			i := bytes.IndexByte(event[:end], '\r')
			if i < 0 {
				i = end
			}
			if i == len(event) {
				yield(event)
				return
			}
			line := event[:i]
			next := i + 1
			if event[i] == '\r' && next < len(event) && event[next] == '\n' {
				next++
			}
			if i == 0 || !yield(line) {
				return
			}
			event = event[next:]
		}
	}
}

// field splits a line into field name and value; a comment line (leading
// ':') has an empty name. One space after the colon is not part of the
// value, so "data:x" and "data: x" carry the same payload.
func field(line []byte) (name, value []byte) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, line[len(line):]
	}
	value = line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return line[:i], value
}

// knownTypes lets Type return the Responses API's event types without
// allocating a string per event.
var knownTypes = func() map[string]string {
	m := map[string]string{}
	for _, t := range []string{
		"error",
		"response.created", "response.in_progress", "response.queued",
		"response.completed", "response.incomplete", "response.failed",
		"response.output_item.added", "response.output_item.done",
		"response.content_part.added", "response.content_part.done",
		"response.output_text.delta", "response.output_text.done",
		"response.output_text.annotation.added",
		"response.refusal.delta", "response.refusal.done",
		"response.reasoning_summary_part.added", "response.reasoning_summary_part.done",
		"response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
		"response.reasoning_text.delta", "response.reasoning_text.done",
		"response.function_call_arguments.delta", "response.function_call_arguments.done",
		"response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
	} {
		m[t] = t
	}
	return m
}()

func intern(b []byte) string {
	if s, ok := knownTypes[string(b)]; ok {
		return s
	}
	return string(b)
}

// Terminated reports whether a raw event, as Reader.Next returns it, ends
// with the blank line that completes it. Only the last event of a stream
// can lack it (Next returns what arrived before EOF as it is); the SSE
// spec discards such an event, and its data may be cut inside its JSON.
func Terminated(event []byte) bool {
	n := len(event)
	if n == 0 {
		return false
	}
	// Drop the last line terminator; what is left must end with another
	// (or be empty: a blank line alone).
	switch {
	case event[n-1] == '\n' && n >= 2 && event[n-2] == '\r':
		n -= 2
	case event[n-1] == '\n' || event[n-1] == '\r':
		n--
	default:
		return false
	}
	return n == 0 || event[n-1] == '\n' || event[n-1] == '\r'
}
