// Package items knows the account-bound items of a Responses API
// conversation: encrypted reasoning items and compaction items, which only
// the account (organisation) that minted them can read. It finds them in a
// request's input and in an answer's output without decoding either,
// decides which of them the account about to serve a request may see, and
// rewrites the input for it, keeping every byte it keeps.
//
// Who minted what is kept in the store (see Ledger), keyed by a fingerprint
// of the encrypted content: clients re-serialise the items they replay
// (Codex adds fields of its own and may drop or add an id), but the blob
// itself comes back as it was minted.
package items

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// Kind is a set of account-bound item kinds.
type Kind uint8

// The kinds of account-bound item.
const (
	// Reasoning is a reasoning item with encrypted_content.
	Reasoning Kind = 1 << iota
	// Compaction is a compaction item (or its alias compaction_summary):
	// it stands for the whole history before it.
	Compaction
)

// String names the kinds in k, for logs and metrics labels.
func (k Kind) String() string {
	switch k {
	case Reasoning:
		return "reasoning"
	case Compaction:
		return "compaction"
	case Reasoning | Compaction:
		return "reasoning+compaction"
	}
	return "none"
}

// ParseKind is the Kind String names; 0 for anything else.
func ParseKind(s string) Kind {
	switch s {
	case "reasoning":
		return Reasoning
	case "compaction":
		return Compaction
	case "reasoning+compaction":
		return Reasoning | Compaction
	}
	return 0
}

// Sum fingerprints an item's encrypted content: the first 16 bytes of its
// SHA-256, in hex. Two items with the same blob are the same item.
type Sum string

// SumOf is the fingerprint of a blob (the decoded JSON string value).
func SumOf(blob []byte) Sum {
	h := sha256.Sum256(blob)
	return Sum(hex.EncodeToString(h[:16]))
}

// Item is one account-bound item of a request's input.
type Item struct {
	Kind Kind
	// ID is the item's id, "" when it has none.
	ID string
	// Sum fingerprints its encrypted content; "" when it carries none (a
	// reasoning item replayed without its content).
	Sum Sum
	// Elem is the item's index among the input's elements.
	Elem int
}

// span is a range of bytes of a body.
type span struct{ start, end int }

// Input is what Scan found in a request body's input.
type Input struct {
	// Items are the account-bound items, in input order.
	Items []Item
	// Trigger reports that the input ends with a compaction_trigger: the
	// request asks for a compaction.
	Trigger bool
	// Elems is how many elements the input has.
	Elems int

	body  []byte
	array span   // the input array, brackets included; zero when none
	elems []span // each element's bytes
}

// Has reports whether the input holds an item of a kind in k.
func (in *Input) Has(k Kind) bool {
	for _, it := range in.Items {
		if it.Kind&k != 0 {
			return true
		}
	}
	return false
}

// Raw is an element's bytes as the client sent them.
func (in *Input) Raw(elem int) []byte {
	s := in.elems[elem]
	return in.body[s.start:s.end]
}

// marker is how an encrypted_content member starts: a body without it
// holds no account-bound item. (Codex's include value
// "reasoning.encrypted_content" has a dot, not a quote, before the name.)
var marker = []byte(`"encrypted_content"`)

// MayHold reports cheaply whether body can hold an account-bound item with
// content; false means Scan would find none with a Sum.
func MayHold(body []byte) bool { return bytes.Contains(body, marker) }

// Scan finds the account-bound items of a request body's input (the last
// input member, as encoding/json would read it). A body whose input is not
// an array has none. The body must not change while the Input is used.
func Scan(body []byte) (*Input, error) {
	in := &Input{body: body}
	var input []byte
	err := jsonscan.ObjectFields(body, func(k, v []byte) bool {
		if string(k) == "input" {
			input = v
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(input) == 0 || input[0] != '[' {
		return in, nil
	}
	in.array = offsetOf(body, input)
	last := ""
	err = jsonscan.ArrayElems(input, func(elem []byte) bool {
		in.elems = append(in.elems, offsetOf(body, elem))
		typ := itemType(elem)
		last = typ
		if it, ok := boundItem(elem, typ); ok {
			it.Elem = len(in.elems) - 1
			in.Items = append(in.Items, it)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	in.Elems = len(in.elems)
	in.Trigger = last == "compaction_trigger"
	return in, nil
}

// offsetOf is the span of sub, a slice aliasing b, within b.
func offsetOf(b, sub []byte) span {
	start := cap(b) - cap(sub)
	return span{start, start + len(sub)}
}

// itemType is an item's type, "" when it has none or is not an object.
// Clients write type first, so this looks at little of the item.
func itemType(elem []byte) string {
	if len(elem) == 0 || elem[0] != '{' {
		return ""
	}
	typ := jsonscan.Member(elem, "type")
	switch {
	case jsonscan.Equal(typ, "reasoning"):
		return "reasoning"
	case jsonscan.Equal(typ, "compaction"), jsonscan.Equal(typ, "compaction_summary"):
		return "compaction"
	case jsonscan.Equal(typ, "compaction_trigger"):
		return "compaction_trigger"
	}
	return "other"
}

// boundItem reads an item of an account-bound kind.
func boundItem(elem []byte, typ string) (Item, bool) {
	var it Item
	switch typ {
	case "reasoning":
		it.Kind = Reasoning
	case "compaction":
		it.Kind = Compaction
	default:
		return it, false
	}
	var id, enc []byte
	_ = jsonscan.ObjectFields(elem, func(k, v []byte) bool {
		switch string(k) {
		case "id":
			id = v
		case "encrypted_content":
			enc = v
		}
		return true
	})
	it.ID, _ = jsonscan.String(id)
	if blob, err := jsonscan.Unquote(enc); err == nil && len(blob) > 0 {
		it.Sum = SumOf(blob)
	}
	return it, true
}
