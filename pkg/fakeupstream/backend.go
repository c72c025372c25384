package fakeupstream

import (
	"net/http"
	"strings"
	"time"
)

// The ChatGPT backend's other face: beside /codex/responses, chatgpt.com's
// /backend-api serves what Codex signed in with a ChatGPT login asks under
// its chatgpt_base_url. A ChatGPT-style fake answers the calls whose shape
// was measured against Codex 0.171.0 (an account check its TUI cannot start
// without, the account's own usage windows, reset credits) and 404s the
// rest (plugins, MCP, settings), which Codex tolerates; each needs the
// account's own login, as the real backend does.

// isBackendCall reports a path of that face: under /wham/ or /ps/.
func isBackendCall(path string) bool {
	return strings.Contains(path, "/wham/") || strings.Contains(path, "/ps/")
}

// serveBackend answers one of those calls.
func (s *Server) serveBackend(w http.ResponseWriter, r *http.Request) {
	if e, ok := s.auth.check(r.Header); !ok {
		writeError(w, http.StatusUnauthorized, e)
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/wham/accounts/check"):
		// Codex wants a list with each workspace's HTTPS origin and a
		// routing constraint, else its TUI stops at "workspace routing
		// discovery failed".
		writeJSON(w, http.StatusOK, map[string]any{
			"accounts": []map[string]any{{
				"id": s.auth.accountID, "name": nil, "structure": "personal", "plan_type": "plus",
				"is_deactivated": false, "profile_picture_url": nil,
				"account_routing_override": "NO_CONSTRAINT", "workspace_backend_origin": "https://chatgpt.com",
			}},
			"account_ordering": []string{s.auth.accountID},
		})
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/wham/usage"):
		now := s.now()
		window := func(used float64, length int64) map[string]any {
			reset := nextReset(s.windowStart, now, time.Duration(length)*time.Second)
			return map[string]any{"used_percent": used, "limit_window_seconds": length,
				"reset_after_seconds": int64(reset.Sub(now).Seconds()), "reset_at": reset.Unix()}
		}
		writeJSON(w, http.StatusOK, map[string]any{"plan_type": "plus", "credits": nil, "rate_limit": map[string]any{
			"allowed": s.primaryUsed < 100 && s.secondaryUsed < 100, "limit_reached": s.primaryUsed >= 100 || s.secondaryUsed >= 100,
			"primary_window":   window(s.primaryUsed, int64(primaryWindow.Seconds())),
			"secondary_window": window(s.secondaryUsed, int64(secondaryWindow.Seconds())),
		}})
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/wham/rate-limit-reset-credits"):
		writeJSON(w, http.StatusOK, map[string]any{"available_count": 0, "credits": []any{}})
	default:
		writeJSONBytes(w, http.StatusNotFound, []byte(`{"detail":"Not Found"}`))
	}
}
