package items

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Record is what the store knows of a minted item.
type Record struct {
	// Account minted it.
	Account string
	// At is when it passed through the proxy.
	At time.Time
	// Items is, for a compaction item, how many input items the request
	// that asked for it held: what the model no longer sees if it is lost.
	Items int
}

// Target is the account a request is cleaned for.
type Target struct {
	Account string
	// Own: the account is the conversation's own (its binding's, or the
	// first chosen when there is none), so an item nobody is known to
	// have minted is sent to it as it is.
	Own bool
	// Refused are the kinds this account refused in this conversation
	// although nothing showed another account minted them: an item of
	// such a kind is sent to it only when it is known to have minted it.
	Refused Kind
}

// Verdict is what becomes of one account-bound item for a target.
type Verdict uint8

const (
	// Keep sends the item as the client sent it.
	Keep Verdict = iota
	// Remove leaves the whole item out (id, summary and all: kept without
	// its content it would be refused too).
	Remove
	// Replace marks a foreign compaction: the caller puts the target's own
	// compaction of the same history in its place, or removes it.
	Replace
)

// Decide says, for each of in.Items, what the target may see. recs are the
// store's records by Sum (missing: the minter is unknown).
func Decide(in *Input, recs map[Sum]Record, t Target) []Verdict {
	out := make([]Verdict, len(in.Items))
	for i, it := range in.Items {
		if readable(it, recs, t) {
			continue
		}
		out[i] = Remove
		if it.Kind == Compaction {
			out[i] = Replace
		}
	}
	return out
}

// readable reports whether t can read it.
func readable(it Item, recs map[Sum]Record, t Target) bool {
	if r, known := recs[it.Sum]; known && it.Sum != "" {
		return r.Account == t.Account
	}
	return t.Own && t.Refused&it.Kind == 0
}

// Foreign reports whether any verdict changes the request.
func Foreign(vs []Verdict) bool {
	for _, v := range vs {
		if v != Keep {
			return true
		}
	}
	return false
}

// Rewrite returns body with its input's elements edited: an element in
// edits is replaced by its bytes there, or left out when they are nil.
// Every other element, and everything outside the input, is kept byte for
// byte; only the separators between elements are rewritten. With no edit
// it returns body itself.
func (in *Input) Rewrite(edits map[int][]byte) []byte {
	if len(edits) == 0 {
		return in.body
	}
	b := in.body
	out := make([]byte, 0, len(b))
	out = append(out, b[:in.array.start]...)
	out = append(out, '[')
	n := 0
	for i, s := range in.elems {
		elem, edited := edits[i]
		if !edited {
			elem = b[s.start:s.end]
		}
		if elem == nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, elem...)
		n++
	}
	out = append(out, ']')
	return append(out, b[in.array.end:]...)
}

// Outcome is what became of a foreign compaction item.
type Outcome string

// The outcomes of a foreign compaction item.
const (
	// Remade: the target compacted the kept history itself, now.
	Remade Outcome = "remade"
	// Reused: the target's own compaction of that history, made before.
	Reused Outcome = "reused"
	// Lost: the kept history is gone, so the item was removed and the
	// target no longer sees what it stood for.
	Lost Outcome = "lost"
)

// CompactionChange is what cleaning did with one foreign compaction.
type CompactionChange struct {
	Outcome Outcome
	// Minter and At are who minted the item and when ("" and zero when
	// unknown); Items how many input items it stood for (0: unknown).
	Minter string
	At     time.Time
	Items  int
	// Why says why a Lost item could not be remade.
	Why string
}

// Change is what cleaning did to one attempt's request, for its log line,
// event and metrics.
type Change struct {
	// Target is the account the request was cleaned for.
	Target string
	// Removed counts the reasoning items left out, by minter ("" when
	// unknown).
	Removed map[string]int
	// Compactions are the foreign compaction items met.
	Compactions []CompactionChange
	// Refused is the kind an upstream refused, upon which the request was
	// sent again without it; 0 when none.
	Refused Kind
}

// Empty reports a request sent as it came.
func (c *Change) Empty() bool {
	return c == nil || (len(c.Removed) == 0 && len(c.Compactions) == 0 && c.Refused == 0)
}

// RemovedCount is how many reasoning items were left out.
func (c *Change) RemovedCount() int {
	n := 0
	if c != nil {
		for _, k := range c.Removed {
			n += k
		}
	}
	return n
}

// String says it in words: "removed 3 reasoning items minted by acct-a;
// compaction of 14:02 by acct-a re-made on acct-b".
func (c *Change) String() string {
	if c.Empty() {
		return ""
	}
	var parts []string
	if c.Refused != 0 {
		parts = append(parts, fmt.Sprintf("%s refused %s items it could not read; sent again without them", c.Target, c.Refused))
	}
	minters := make([]string, 0, len(c.Removed))
	for m := range c.Removed {
		minters = append(minters, m)
	}
	sort.Strings(minters)
	for _, m := range minters {
		n := c.Removed[m]
		what := plural(n, "reasoning item")
		if m == "" {
			parts = append(parts, fmt.Sprintf("removed %s of unknown origin", what))
		} else {
			parts = append(parts, fmt.Sprintf("removed %s minted by %s", what, m))
		}
	}
	for _, cc := range c.Compactions {
		parts = append(parts, cc.describe(c.Target))
	}
	return strings.Join(parts, "; ")
}

func (cc CompactionChange) describe(target string) string {
	what := "compaction"
	if !cc.At.IsZero() {
		what += " of " + cc.At.Format("15:04")
	}
	if cc.Minter != "" {
		what += " by " + cc.Minter
	}
	switch cc.Outcome {
	case Remade:
		return what + " re-made on " + target
	case Reused:
		return what + " replaced by " + target + "'s own, made earlier"
	}
	seen := "the history it stood for"
	if cc.Items > 0 {
		seen = "the " + plural(cc.Items, "item") + " it stood for"
	}
	why := ""
	if cc.Why != "" {
		why = " (" + cc.Why + ")"
	}
	return fmt.Sprintf("%s removed%s: %s no longer sees %s", what, why, target, seen)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
