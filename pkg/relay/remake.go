package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/sse"
	"github.com/proxy-dev/proxy/pkg/store"
)

// maxRemakeDepth bounds how many compactions deep a kept request is
// resolved: a compaction of a history that held a compaction of a history
// that held ... Past it the oldest is left out.
const maxRemakeDepth = 4

// compactionFor is what account a gets in place of a compaction item it
// cannot read: its own compaction of the same history, made before
// (reused) or now from the request the proxy kept when the item was
// minted (remade), else nothing (lost: the item is left out, and the
// change says what a no longer sees). A remake that fails because a is
// failing (a 429, a 5xx, a cut) comes back as that attempt, so the loop
// reports it and fails over as for any other failure.
func (rl *Relay) compactionFor(ctx context.Context, c *convItems, a *account.Account, r *http.Request, it items.Item, rec items.Record, depth int) ([]byte, items.CompactionChange, *attempt) {
	cc := items.CompactionChange{Outcome: items.Lost, Minter: rec.Account, At: rec.At, Items: rec.Items}
	if it.Sum == "" {
		cc.Why = "it carries no content"
		return nil, cc, nil
	}
	if item, err := c.ledger.Remade(ctx, it.Sum, a.Name); err == nil && item != nil {
		cc.Outcome = items.Reused
		return item, cc, nil
	}
	kept, err := c.ledger.Kept(ctx, it.Sum)
	switch {
	case errors.Is(err, items.ErrNotKept):
		cc.Why = "the request behind it is no longer kept"
		return nil, cc, nil
	case err != nil:
		cc.Why = err.Error()
		return nil, cc, nil
	case depth >= maxRemakeDepth:
		cc.Why = fmt.Sprintf("compacted more than %d times over", maxRemakeDepth)
		return nil, cc, nil
	}
	// The kept request, cleaned for a in turn: its items of unknown origin
	// are not a's (it is not the conversation's account for them), and an
	// older compaction in it is resolved one level deeper.
	kc := &convItems{rl: rl, ledger: c.ledger, body: kept, session: c.session}
	body, _, fail := kc.clean(ctx, a, r, 0, depth+1)
	if fail != nil {
		return nil, cc, fail
	}
	minted, at := rl.remake(ctx, a, r, body)
	if at != nil {
		out := at.outcome(rl.o.Now())
		if out.Class.Failover() {
			return nil, cc, at
		}
		at.close()
		cc.Why = rl.o.Redact.String(a.Name + " did not compact it: " + describe(out))
		return nil, cc, nil
	}
	if minted.Raw == nil {
		cc.Why = a.Name + " answered the compaction without a compaction item"
		return nil, cc, nil
	}
	c.ledger.NoteRemade(c.session, it.Sum, a.Name, minted, rec.Items, c.known)
	cc.Outcome = items.Remade
	return minted.Raw, cc, nil
}

// remake sends a kept compaction request to a and reads its answer to the
// end: the compaction item a minted, or the failed attempt (not closed)
// when a did not answer with a complete stream. Its usage counts as a
// request a served.
func (rl *Relay) remake(ctx context.Context, a *account.Account, r *http.Request, body []byte) (items.Minted, *attempt) {
	req, err := session.Parse(r.Header, body)
	if err != nil {
		return items.Minted{}, &attempt{account: a, forced: &health.Outcome{Class: health.ClientError, Message: "the kept compaction request is not valid JSON"}}
	}
	// Always over HTTP: the client connection's upstream WebSocket, if
	// any, carries the conversation, not this side request; and never as
	// a chat client's request, which it is not.
	ctx = withChatDoor(context.WithValue(ctx, wsFrameKey{}, (*wsRequest)(nil)), nil)
	f, err := rl.formFor(ctx, a, "/responses", body, req)
	if err != nil {
		return items.Minted{}, &attempt{account: a, forced: &health.Outcome{Class: health.ClientError, Message: err.Error()}}
	}
	f.gather = false
	at := rl.send(ctx, a, f, r, false)
	if out := at.outcome(rl.o.Now()); out.Class != health.OK {
		return items.Minted{}, at // failed before any output: the caller decides
	}
	if at.stream == nil {
		at.forced = &health.Outcome{Class: health.ClientError, Status: at.status(), Message: "the compaction was not answered as a stream"}
		return items.Minted{}, at
	}
	var w items.Watch
	ev, err := at.next, at.nextErr
	for {
		if len(ev) > 0 {
			typ := sse.Type(ev)
			if items.Watched(typ) {
				w.Event(typ, sse.Data(ev))
			}
			switch typ {
			case "response.completed":
				if res, ok := sse.Completion(ev); ok {
					rl.pool.AddUsage(store.LedgerKey{Client: ClientFrom(ctx), Account: a.Name, Model: res.Model}, store.Usage{Requests: 1, InputTokens: res.Usage.InputTokens, CachedTokens: res.Usage.CachedTokens,
						OutputTokens: res.Usage.OutputTokens, ReasoningTokens: res.Usage.ReasoningTokens})
				}
				at.close()
				m, _ := w.Compaction()
				return m, nil
			case "response.failed", "error", "response.incomplete":
				failed := streamFailure(ev)
				if failed.Class == health.OK {
					failed = health.Outcome{Class: health.ClientError, Status: at.resp.StatusCode, Message: "the compaction ended incomplete"}
				}
				at.forced = &failed
				return items.Minted{}, at
			}
		}
		if err != nil {
			break
		}
		ev, err = at.nextEvent()
	}
	msg := "the compaction stream ended before response.completed"
	if err != nil && !errors.Is(err, io.EOF) {
		msg += ": " + err.Error()
	}
	at.forced = &health.Outcome{Class: health.ServerError, Status: at.resp.StatusCode, Message: msg}
	return items.Minted{}, at
}
