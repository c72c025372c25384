package relay

import (
	"bytes"
	"context"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// Items is the ledger of account-bound conversation items: who minted
// each encrypted reasoning and compaction item, the request behind each
// compaction, and each account's own remake of one. Its writes never
// block. *items.Ledger implements it.
type Items interface {
	Records(ctx context.Context, sums []items.Sum) (map[items.Sum]items.Record, error)
	Kept(ctx context.Context, sum items.Sum) ([]byte, error)
	Remade(ctx context.Context, sum items.Sum, account string) ([]byte, error)
	Note(session, account string, minted []items.Minted, known []string, n int)
	Recent(session string, notes []string) []string
	NoteRefused(session, account string, kind items.Kind)
	NoteRemade(session string, sum items.Sum, account string, remade items.Minted, n int, known []string)
	Keep(m items.Minted, body []byte, release func())
}

// conversation items of one request: found in its body once, looked up
// in the ledger once, and cleaned for each account an attempt goes to.
type convItems struct {
	rl      *Relay
	ledger  Items
	body    []byte // the client's request, as it came
	session string // the conversation's key hash, "" when none

	own   string   // the conversation's own account: its binding's, else the first chosen
	known []string // the binding's notes: who minted items in the conversation, who refused what

	in      *items.Input // nil until scanned
	scanned bool
	recs    map[items.Sum]items.Record // nil until looked up
}

// newConvItems is the request's conversation items; nil when the relay
// keeps no ledger.
func (rl *Relay) newConvItems(body []byte, session string) *convItems {
	if rl.o.Items == nil {
		return nil
	}
	return &convItems{rl: rl, ledger: rl.o.Items, body: body, session: session}
}

// decided learns, from the first selection, whose conversation it is.
func (c *convItems) decided(d scheduler.Decision) {
	if c == nil || c.own != "" || d.Account == nil {
		return
	}
	c.own = d.Bound
	if c.own == "" {
		c.own = d.Account.Name
	}
	c.known = c.ledger.Recent(c.session, d.Minters)
}

// scan finds the account-bound items, once. A body that cannot hold any
// is not walked.
func (c *convItems) scan() *items.Input {
	if c.scanned {
		return c.in
	}
	c.scanned = true
	if !items.MayHold(c.body) {
		return nil
	}
	in, err := items.Scan(c.body)
	if err != nil {
		return nil // the body was validated; nothing to clean in what cannot be read
	}
	c.in = in
	return in
}

// asksCompaction reports whether the request's input ends with a
// compaction_trigger. Asked only once a compaction item came back, so no
// other request pays for it.
func (c *convItems) asksCompaction() bool {
	if c.in == nil {
		if !bytes.Contains(c.body, []byte(`"compaction_trigger"`)) {
			return false
		}
		in, err := items.Scan(c.body)
		if err != nil {
			return false
		}
		c.in, c.scanned = in, true
	}
	return c.in.Trigger
}

// lookup reads who minted the items, once: one round trip. A store that
// does not answer leaves every minter unknown, which sends the items to
// the conversation's own account as they are.
func (c *convItems) lookup(ctx context.Context) map[items.Sum]items.Record {
	if c.recs != nil {
		return c.recs
	}
	in := c.scan()
	if in == nil || len(in.Items) == 0 {
		c.recs = map[items.Sum]items.Record{}
		return c.recs
	}
	sums := make([]items.Sum, 0, len(in.Items))
	for _, it := range in.Items {
		sums = append(sums, it.Sum)
	}
	recs, err := c.ledger.Records(ctx, sums)
	if err != nil && ctx.Err() == nil {
		c.rl.o.Logger.Warn("reading who minted a conversation's items; treating them as unknown", "session", shortHash(c.session), "err", err)
	}
	c.recs = recs
	return recs
}

// owner names the account that minted the latest account-bound item the
// request carries, "" when none is known: where a conversation without a
// binding goes back to (scheduler.Request.Owner).
func (c *convItems) owner(ctx context.Context) string {
	in := c.scan()
	if in == nil {
		return ""
	}
	recs := c.lookup(ctx)
	for i := len(in.Items) - 1; i >= 0; i-- {
		if r, ok := recs[in.Items[i].Sum]; ok && in.Items[i].Sum != "" {
			return r.Account
		}
	}
	return ""
}

// ownerFunc is owner for a scheduler.Request; nil without a ledger.
func (c *convItems) ownerFunc() func(context.Context) string {
	if c == nil {
		return nil
	}
	return c.owner
}

// bodyFor is the request as account a may read it: items minted by another
// account left out, a foreign compaction replaced by a's own compaction of
// the same history (made now if need be), everything else byte for byte.
// strict are kinds a refused in this request: every item of them is
// foreign. change says what was done; nil when the body went as it came.
// A failed remake that says the account is failing comes back as an
// attempt outcome (fail).
func (c *convItems) bodyFor(ctx context.Context, a *account.Account, r *http.Request, strict items.Kind) (body []byte, change *items.Change, fail *attempt) {
	if c == nil {
		return nil, nil, nil
	}
	return c.clean(ctx, a, r, strict, 0)
}

// clean is bodyFor at a depth of remakes: a kept request that itself holds
// an older compaction is cleaned one level deeper.
func (c *convItems) clean(ctx context.Context, a *account.Account, r *http.Request, strict items.Kind, depth int) (body []byte, change *items.Change, fail *attempt) {
	own := a.Name == c.own
	if own && strict == 0 && c.recs == nil && items.OnlyBy(c.known, a.Name) {
		// The common case, a sticky turn of a conversation nobody else
		// served: nothing in it can be foreign to its own account.
		return c.body, nil, nil
	}
	in := c.scan()
	if in == nil || len(in.Items) == 0 {
		return c.body, nil, nil
	}
	recs := c.lookup(ctx)
	t := items.Target{Account: a.Name, Own: own, Refused: items.RefusedBy(c.known, a.Name) | strict}
	verdicts := items.Decide(in, recs, t)
	for i, it := range in.Items {
		if strict&it.Kind != 0 {
			verdicts[i] = items.Remove
			if it.Kind == items.Compaction {
				verdicts[i] = items.Replace
			}
		}
	}
	if !items.Foreign(verdicts) {
		return c.body, nil, nil
	}
	change = &items.Change{Target: a.Name, Removed: map[string]int{}}
	edits := map[int][]byte{}
	for i, v := range verdicts {
		it := in.Items[i]
		switch v {
		case items.Remove:
			edits[it.Elem] = nil
			change.Removed[recs[it.Sum].Account]++
		case items.Replace:
			item, cc, failed := c.rl.compactionFor(ctx, c, a, r, it, recs[it.Sum], depth)
			if failed != nil {
				return nil, nil, failed
			}
			edits[it.Elem] = item // nil when lost: removed
			change.Compactions = append(change.Compactions, cc)
		}
	}
	return in.Rewrite(edits), change, nil
}

// refused reports an attempt whose upstream refused account-bound items
// it cannot read: a 400 saying so, or a stream whose first event after
// the opening says so.
func (at *attempt) refused() (items.Kind, bool) {
	var code, msg string
	switch {
	case at.resp == nil:
		return 0, false
	case at.resp.StatusCode == http.StatusBadRequest:
		errObj := jsonscan.Member(at.errBody, "error")
		code, _ = jsonscan.String(jsonscan.Member(errObj, "code"))
		msg, _ = jsonscan.String(jsonscan.Member(errObj, "message"))
	case at.stream != nil && at.next != nil && eventKind(at.next) == failure:
		code, msg, _, _ = sse.Failure(at.next)
	default:
		return 0, false
	}
	kind, _, ok := items.Refused(code, msg)
	return kind, ok
}

// noteMinted records, once an answer completed, what its account minted,
// and keeps the request behind a compaction it minted.
func (rl *Relay) noteMinted(at *attempt) {
	c := at.conv
	if c == nil {
		return
	}
	minted := at.watch.Minted()
	if len(minted) == 0 {
		return
	}
	m, compacted := at.watch.Compaction()
	compacted = compacted && c.asksCompaction()
	n := 0
	if compacted {
		n = c.in.Elems - 1 // the history, less its trigger
	}
	c.ledger.Note(c.session, at.account.Name, minted, c.known, n)
	if !compacted {
		return
	}
	// The body must outlive the request until it is written: its share
	// of the body budget is taken again for that time.
	size := int64(len(c.body))
	if !rl.o.Bodies.take(size) {
		rl.o.Logger.Warn("the body budget is full: the request behind a compaction is not kept, so the conversation cannot take its history to another account", "account", at.account.Name)
		return
	}
	c.ledger.Keep(m, c.body, func() { rl.o.Bodies.give(size) })
}

// recordItems puts what cleaning did on the decision record.
func recordItems(rec *event.Decision, ch *items.Change) {
	if ch.Empty() {
		rec.Items, rec.ItemCounts = "", nil
		return
	}
	rec.Items = ch.String()
	n := &event.ItemCounts{Removed: ch.RemovedCount()}
	if ch.Refused != 0 {
		n.Refused = 1
	}
	for _, cc := range ch.Compactions {
		switch cc.Outcome {
		case items.Remade:
			n.Remade++
		case items.Reused:
			n.Reused++
		case items.Lost:
			n.Lost++
		}
	}
	rec.ItemCounts = n
}

// shortHash is a session hash as logs show it.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
