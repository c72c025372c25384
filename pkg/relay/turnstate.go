package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// turnStateHeader is the routing token an upstream issues when a turn
// starts; Codex echoes it on every request of that turn. It belongs to the
// account that issued it.
const turnStateHeader = "X-Codex-Turn-State"

// turnStatePrefix marks a turn state the proxy handed out: the issuing
// account's tag follows, then the upstream's own value. Codex treats the
// value as opaque, so the tag travels with the turn, through every
// instance, without any shared state.
const turnStatePrefix = "pxy1."

// accountTag is a short, stable tag of an account name.
func accountTag(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:4])
}

// tagTurnState rewrites the turn state in an upstream's response headers
// so the proxy knows later which account issued it.
func tagTurnState(h http.Header, account string) {
	v := h.Get(turnStateHeader)
	if v == "" {
		return
	}
	h.Set(turnStateHeader, turnStatePrefix+accountTag(account)+"."+v)
}

// turnStateFor sets the turn state to send to account: the upstream's own
// value when that account issued it, nothing otherwise. A value without
// the proxy's tag (from before the proxy, or from a client that made it
// up) goes only to the conversation's own account on its first try.
func turnStateFor(h http.Header, account string, own bool) {
	v := h.Get(turnStateHeader)
	if v == "" {
		return
	}
	rest, tagged := strings.CutPrefix(v, turnStatePrefix)
	if !tagged {
		if !own {
			h.Del(turnStateHeader)
		}
		return
	}
	tag, value, ok := strings.Cut(rest, ".")
	if !ok || tag != accountTag(account) || value == "" {
		h.Del(turnStateHeader)
		return
	}
	h.Set(turnStateHeader, value)
}
