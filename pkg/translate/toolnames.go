package translate

import (
	"crypto/sha256"
	"encoding/hex"
)

// acctDefaultMaxToolName is OpenAI's own limit on a function name, which most
// chat-only providers copy (DeepSeek, Kimi, GLM, vLLM's OpenAI server).
const acctDefaultMaxToolName = 64

// acctNSSep joins a namespace and a tool name in a flat function name. Double
// underscore is the convention MCP clients already use ("mcp__server__tool"),
// so a model reads it as a qualified name.
const acctNSSep = "__"

// acctCodexTool is a tool as Codex knows it: its name, the namespace it sits in
// ("" for a top-level tool) and whether it is freeform (a custom tool, whose
// call carries one string, not JSON arguments).
type acctCodexTool struct {
	Namespace, Name string
	Custom          bool
}

// acctToolNames maps the flat function names a chat provider sees to the tools
// Codex declared, both ways. Flattening is deterministic (the same tools give
// the same names on every request), which keeps the provider's prompt cache
// warm and lets a replayed function_call of an earlier turn find its name.
type acctToolNames struct {
	max    int
	byFlat map[string]acctCodexTool
	byTool map[acctCodexTool]string // Custom is false in these keys
}

func acctNewToolNames(max int) *acctToolNames {
	if max <= 0 {
		max = acctDefaultMaxToolName
	}
	return &acctToolNames{max: max, byFlat: map[string]acctCodexTool{}, byTool: map[acctCodexTool]string{}}
}

// add declares a tool and returns its flat name. A second declaration of
// the same tool returns the first one's name.
func (n *acctToolNames) add(ns, name string, custom bool) string {
	key := acctCodexTool{Namespace: ns, Name: name}
	if flat, ok := n.byTool[key]; ok {
		return flat
	}
	flat := n.flatten(ns, name)
	if _, taken := n.byFlat[flat]; taken {
		// Two tools that flatten alike ("a__b" in no namespace and "b" in
		// "a", or two long names cut to the same prefix): the later one
		// gets a hash of its full name, which no other tool shares.
		flat = n.hashed(ns, name, "x")
	}
	n.byFlat[flat] = acctCodexTool{Namespace: ns, Name: name, Custom: custom}
	n.byTool[key] = flat
	return flat
}

// flat is the name a tool of an earlier turn's call goes by: its declared
// flat name, or the flattening it would get (a tool no longer declared).
func (n *acctToolNames) flat(ns, name string) string {
	if flat, ok := n.byTool[acctCodexTool{Namespace: ns, Name: name}]; ok {
		return flat
	}
	return n.flatten(ns, name)
}

// back maps a name the provider called back to Codex's tool. A name the
// request never declared (a model inventing a tool) is passed on as it
// came, as a plain function: Codex answers it with its own "unsupported
// call" output, which tells the model.
func (n *acctToolNames) back(flat string) acctCodexTool {
	if n != nil {
		if t, ok := n.byFlat[flat]; ok {
			return t
		}
	}
	return acctCodexTool{Name: flat}
}

// flatten joins ns and name and fits the result to the provider's rules:
// at most max characters of [a-zA-Z0-9_-]. A name that fits passes as is;
// any other is cut and given a hash of the full name, so it stays unique
// and the same on every request.
func (n *acctToolNames) flatten(ns, name string) string {
	flat := name
	if ns != "" {
		flat = ns + acctNSSep + name
	}
	if len(flat) <= n.max && acctValidName(flat) {
		return flat
	}
	return n.hashed(ns, name, "")
}

// hashed is a name of at most max valid characters: the sanitised start of
// the flat name, "_" and 8 hex digits of a hash of (salt, ns, name).
func (n *acctToolNames) hashed(ns, name, salt string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + ns + "\x00" + name))
	tail := "_" + hex.EncodeToString(sum[:4])
	flat := name
	if ns != "" {
		flat = ns + acctNSSep + name
	}
	keep := max(n.max-len(tail), 1)
	b := make([]byte, 0, n.max)
	for i := 0; i < len(flat) && len(b) < keep; i++ {
		c := flat[i]
		if !acctNameByte(c) {
			c = '_'
		}
		b = append(b, c)
	}
	out := string(b) + tail
	if len(out) > n.max { // a limit under 10: the hash alone must do
		out = out[len(out)-n.max:]
	}
	return out
}

func acctValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !acctNameByte(s[i]) {
			return false
		}
	}
	return true
}

func acctNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
