package admin

import (
	"net/http"
	"strings"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/identity"
)

// The admin endpoints a user key may use, each showing it only its own:
// its sessions (to see and clear), its events and its usage. Everything else (the
// pool's status, the metrics) is for admin keys.
func userMayUse(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/_proxy/events", p == usagePath:
		return true
	case p == sessionsPath || strings.HasPrefix(p, sessionsPath+"/"):
		return true
	}
	return false
}

// requireRole answers a user key's request for an admin-only endpoint
// with a 403 that says what the key may use.
func requireRole(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := identity.From(r.Context())
		if c.IsAdmin() || userMayUse(r) {
			next.ServeHTTP(w, r)
			return
		}
		apierror.New(http.StatusForbidden, apierror.TypePermission,
			"client key "+c.Name+" is a user key, and "+r.URL.Path+" is for admin keys: a user key calls the API and sees its own "+
				sessionsPath+", /_proxy/events and "+usagePath+"; ask an admin, or use a key with role: admin").WithCode("admin_only").Write(w)
	})
}
