package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/identity"
)

// keepAlive is how often an idle event stream gets a comment line, so
// proxies and watchers see a dead connection instead of a quiet one.
const keepAlive = 15 * time.Second

// serveEvents streams decisions as server-sent events named "decision":
// first the backlog, oldest first, then each new one as it happens, until
// the client goes or the admin closes. A client too slow to keep up loses
// decisions; it never slows the relay.
func (a *Admin) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// A user key sees the decisions of its own requests only.
	caller := identity.From(r.Context())
	// Snapshot and subscribe under the lock run() publishes under: every
	// decision is then in the backlog or on the subscription, once.
	a.mu.Lock()
	backlog := a.ring.all()
	sub := a.live.Subscribe(clientBuffer)
	a.mu.Unlock()
	defer sub.Cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	for _, d := range backlog {
		if !caller.Owns(d.Client) {
			continue
		}
		if writeDecision(w, d) != nil {
			return
		}
	}
	// A comment marks the end of the backlog and gets the headers out even
	// when there is none.
	if _, err := fmt.Fprint(w, ": live\n\n"); err != nil || rc.Flush() != nil {
		return
	}

	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case d, ok := <-sub.C:
			if !ok {
				return
			}
			if !caller.Owns(d.Client) {
				continue
			}
			if writeDecision(w, d) != nil || rc.Flush() != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-a.done:
			return
		}
	}
}

// writeDecision writes one decision as an SSE event. The request id is the
// event id, so a watcher can tell repeats apart.
func writeDecision(w http.ResponseWriter, d event.Decision) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: decision\nid: %s\ndata: %s\n\n", d.RequestID, b)
	return err
}
