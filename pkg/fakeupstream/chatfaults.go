package fakeupstream

import (
	"fmt"
	"net/http"
)

// ContextLengthExceeded is the 400 a provider answers a conversation longer
// than the model's context of limit tokens with, code
// context_length_exceeded and param "messages", worded as the OpenAI-style
// servers word it. A status fault: it applies on every route.
func ContextLengthExceeded(limit int) Fault {
	requested := limit + limit/10 + 1
	return Fault{Status: http.StatusBadRequest, Body: string(errorBody(apiError{
		Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, 0 in the completion). Please reduce the length of the messages or completion.", limit, requested, requested),
		Type:    "invalid_request_error",
		Param:   "messages",
		Code:    "context_length_exceeded",
	}))}
}

// CutMidToolCall cuts a chat stream inside a tool call: the call's opening
// chunk and the first piece of its arguments arrive, then the connection
// drops, with no finish_reason and no [DONE]. Chat route only (it needs
// WithToolCall, and arguments longer than one piece).
func CutMidToolCall() Fault { return Fault{CutBeforeArgumentDelta: 2} }

// DoneWithoutFinishReason ends a chat stream with data: [DONE] after its
// content, no chunk ever carrying a finish_reason and no usage. Chat route
// only.
func DoneWithoutFinishReason() Fault { return Fault{NoFinishReason: true} }

// ErrorChunk makes a chat stream send after chunks of its answer (0: none,
// the error first) and then {"error":{"message","type","param","code"}}
// with code and message, then data: [DONE]. On a JSON reply (stream:false)
// it is the error status fitting the code, as FirstEventFailed is. Chat
// route only.
func ErrorChunk(after int, code, message string) Fault {
	if after <= 0 {
		return Fault{FirstEventFailed: true, FailCode: code, FailMessage: message}
	}
	return Fault{ErrorChunkAfter: after, FailCode: code, FailMessage: message}
}

// plan is what a chat turn sends under f: its pieces, and how many of them
// go out before a cut drops the connection (limit == len(pieces) when
// nothing is cut).
func (t *chatTurn) plan(f Fault) (pieces []chatPiece, limit int) {
	pieces = t.pieces()
	done := pieces[len(pieces)-1]
	errPiece := chatPiece{chunkError, f.errorJSON()}
	switch {
	case f.FirstEventFailed:
		head := pieces[:0:0]
		if f.FailAfterOpening {
			head = pieces[:1:1] // the role chunk, which carries no output
		}
		pieces = append(head, errPiece, done)
	case f.ErrorChunkAfter > 0:
		n := min(f.ErrorChunkAfter, ending(pieces))
		pieces = append(pieces[:n:n], errPiece, done)
	case f.NoFinishReason:
		pieces = append(pieces[:ending(pieces):ending(pieces)], done)
	}
	if limit, ok := f.cutLimit(len(pieces)); ok {
		return pieces, limit
	}
	switch {
	case f.CutBeforeTextDelta > 0:
		return pieces, nthPiece(pieces, chunkText, f.CutBeforeTextDelta)
	case f.CutBeforeArgumentDelta > 0:
		return pieces, nthPiece(pieces, chunkArguments, f.CutBeforeArgumentDelta)
	}
	return pieces, len(pieces)
}

// ending is the index of the first piece that ends the answer (its finish,
// usage, error or [DONE]).
func ending(pieces []chatPiece) int {
	for i, p := range pieces {
		if p.kind >= chunkFinish {
			return i
		}
	}
	return len(pieces)
}

// nthPiece is the index of the n-th (from 1) piece of kind; with fewer, the
// index of the piece that ends the answer, so a cut there never completes
// it.
func nthPiece(pieces []chatPiece, kind chunkKind, n int) int {
	for i, p := range pieces {
		if p.kind == kind {
			n--
			if n == 0 {
				return i
			}
		}
	}
	return ending(pieces)
}
