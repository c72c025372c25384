package fakeupstream

import (
	"net/http"
	"strconv"
	"time"
)

// The windows of a ChatGPT plan: five hours and a week.
const (
	primaryWindow   = 300 * time.Minute
	secondaryWindow = 7 * 24 * time.Hour
)

// writeRateLimitHeaders adds the x-codex-* headers a ChatGPT account sends on
// every reply, so the proxy's reading of them can be tested end to end. API-key
// accounts send none, like the real API's responses to Codex.
func (s *Server) writeRateLimitHeaders(h http.Header) {
	if s.auth.mode != authChatGPT {
		return
	}
	now := s.now()
	set := func(prefix string, used float64, window time.Duration) {
		reset := nextReset(s.windowStart, now, window)
		h.Set(prefix+"-Used-Percent", strconv.FormatFloat(used, 'f', -1, 64))
		h.Set(prefix+"-Window-Minutes", strconv.Itoa(int(window/time.Minute)))
		h.Set(prefix+"-Reset-At", strconv.FormatInt(reset.Unix(), 10))
		h.Set(prefix+"-Reset-After-Seconds", strconv.Itoa(int(reset.Sub(now)/time.Second)))
	}
	set("X-Codex-Primary", s.primaryUsed, primaryWindow)
	set("X-Codex-Secondary", s.secondaryUsed, secondaryWindow)
	h.Set("X-Codex-Plan-Type", "plus")
}

// nextReset is the end of the window, counted from start, that now falls in.
func nextReset(start, now time.Time, window time.Duration) time.Time {
	if now.Before(start) {
		return start.Add(window)
	}
	n := now.Sub(start)/window + 1
	return start.Add(n * window)
}
