// Package translate is the one translation core between the two wire APIs
// the proxy speaks: the Responses API (the relay loop's own language) and
// Chat Completions. It is pure: bytes in, bytes out, no network, no
// clock of its own.
//
// Two directions, each with a request half and an answer half:
//
//   - The Chat Completions front door: a client's chat request becomes a
//     Responses request (ChatToResponses), and the Responses events of the
//     answer become chat.completion.chunk events (ChatStream) or one
//     chat.completion object (ChatCompletion).
//   - The Chat Completions account API: a Responses request (Codex's)
//     becomes a chat request for an account that speaks only Chat
//     Completions (ResponsesToChat), and the account's chunks are rebuilt
//     as the Responses events the client needs (Rebuild).
//
// Both halves walk JSON with package jsonscan and never decode a whole
// request into maps: bodies reach megabytes.
package translate

// Error is a request the translation cannot carry: the client gets a 400
// that names the field and says what to do.
type Error struct {
	Param   string // the request field at fault, e.g. "messages[2].content"; "" for the whole body
	Code    string // the OpenAI-style code, e.g. "unsupported_parameter", "invalid_request"
	Message string // what is wrong and what to do instead
}

func (e *Error) Error() string { return e.Message }
