package items

import (
	"bytes"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// Minted is an account-bound item an answer carried: the account that
// answered minted it.
type Minted struct {
	Kind Kind
	ID   string
	Sum  Sum
	// Raw is the item's bytes as the upstream sent them (a copy), kept for
	// compaction items only: a compaction made again for another account
	// is sent in place of the original exactly as it was minted.
	Raw []byte
}

// FromItem reads an output item (the item of response.output_item.done,
// an element of a response's output); ok is false for an item that is not
// account-bound or carries no content.
func FromItem(item []byte) (Minted, bool) {
	typ := itemType(item)
	it, ok := boundItem(item, typ)
	if !ok || it.Sum == "" {
		return Minted{}, false
	}
	m := Minted{Kind: it.Kind, ID: it.ID, Sum: it.Sum}
	if it.Kind == Compaction {
		m.Raw = bytes.Clone(item)
	}
	return m, true
}

// Watch collects the account-bound items of one answer as its events pass
// on their way to the client. The zero Watch is ready.
type Watch struct {
	minted []Minted
	// done counts response.output_item.done events: an answer that sent
	// them has its items there, and its completed output need not be read.
	done int
}

// Watched reports whether an event of type typ is one Event reads, so a
// caller finds the JSON of no other event.
func Watched(typ string) bool {
	switch typ {
	case "response.output_item.done", "response.completed", "response.incomplete":
		return true
	}
	return false
}

// Event looks at one event's JSON, given its type (already known to the
// caller, so no event is scanned twice for it). Only output items and the
// terminal response are read; every other event costs nothing.
func (w *Watch) Event(typ string, data []byte) {
	switch typ {
	case "response.output_item.done":
		w.done++
		w.add(jsonscan.Member(data, "item"))
	case "response.completed", "response.incomplete":
		if w.done == 0 {
			w.Output(jsonscan.Member(jsonscan.Member(data, "response"), "output"))
		}
	}
}

// Output reads a response's output array (a non-streaming answer's, or a
// terminal event's when no output_item.done came).
func (w *Watch) Output(output []byte) {
	if len(output) == 0 || output[0] != '[' {
		return
	}
	_ = jsonscan.ArrayElems(output, func(item []byte) bool {
		w.add(item)
		return true
	})
}

// Response reads a non-streaming answer, the response object itself.
func (w *Watch) Response(obj []byte) { w.Output(jsonscan.Member(obj, "output")) }

func (w *Watch) add(item []byte) {
	m, ok := FromItem(item)
	if !ok {
		return
	}
	for _, seen := range w.minted {
		if seen.Sum == m.Sum {
			return
		}
	}
	w.minted = append(w.minted, m)
}

// Minted is what the answer minted so far, in order.
func (w *Watch) Minted() []Minted { return w.minted }

// Compaction is the compaction item the answer minted, if any.
func (w *Watch) Compaction() (Minted, bool) {
	for _, m := range w.minted {
		if m.Kind == Compaction {
			return m, true
		}
	}
	return Minted{}, false
}
