package admin

import (
	"encoding/json"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/status"
)

// serveStatus answers the status document. It is built per request from
// the running pool, so a reload shows at once.
func (a *Admin) serveStatus(w http.ResponseWriter, r *http.Request) {
	doc := status.Build(r.Context(), status.Sources{
		Version:  a.o.Version,
		Started:  a.o.Started,
		Now:      a.o.Now,
		Accounts: a.o.Accounts(),
		Health:   a.o.Health,
		Store:    a.o.Store,
		Dropped:  a.Dropped,
		Redact:   a.o.Redact,
		PID:      a.o.PID,
		Demo:     a.o.Demo,
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}
