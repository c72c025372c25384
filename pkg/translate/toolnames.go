package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
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
	// byBare finds a namespaced tool by its own name, for providers whose
	// model calls "browser_navigate" where "mcp__pw__browser_navigate"
	// was declared (DeepSeek does, now and then); ambiguous names are
	// left out.
	byBare    map[string]acctCodexTool
	ambiguous map[string]bool
}

func acctNewToolNames(max int) *acctToolNames {
	if max <= 0 {
		max = acctDefaultMaxToolName
	}
	return &acctToolNames{max: max, byFlat: map[string]acctCodexTool{}, byTool: map[acctCodexTool]string{},
		byBare: map[string]acctCodexTool{}, ambiguous: map[string]bool{}}
}

// add declares a tool and returns its flat name. A second declaration of
// the same tool (Codex may send one both in "tools" and in additional_tools)
// returns the first one's name, and fresh false.
func (n *acctToolNames) add(ns, name string, custom bool) (flat string, fresh bool) {
	key := acctCodexTool{Namespace: ns, Name: name}
	if flat, ok := n.byTool[key]; ok {
		return flat, false
	}
	flat = n.flatten(ns, name)
	if _, taken := n.byFlat[flat]; taken {
		// Two tools that flatten alike ("a__b" in no namespace and "b" in
		// "a", or two long names cut to the same prefix): the later one
		// gets a hash of its full name, which no other tool shares.
		flat = n.hashed(ns, name, "x")
	}
	t := acctCodexTool{Namespace: ns, Name: name, Custom: custom}
	n.byFlat[flat] = t
	n.byTool[key] = flat
	if _, dup := n.byBare[name]; dup || n.ambiguous[name] {
		delete(n.byBare, name)
		n.ambiguous[name] = true
	} else {
		n.byBare[name] = t
	}
	return flat, true
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
		if t, ok := n.byBare[flat]; ok {
			return t
		}
		// "ns.name", as some servers' templates write a namespaced call.
		if ns, name, ok := strings.Cut(flat, "."); ok {
			if f, ok := n.byTool[acctCodexTool{Namespace: ns, Name: name}]; ok {
				return n.byFlat[f]
			}
		}
	}
	return acctCodexTool{Name: flat}
}

// flatten joins ns and name and fits the result to the provider's rules:
// at most max characters of [a-zA-Z0-9_-]. A name that fits passes as is;
// any other is cut and given a hash of the full name, so it stays unique
// and the same on every request.
func (n *acctToolNames) flatten(ns, name string) string {
	flat := acctJoin(ns, name)
	if len(flat) <= n.max && acctValidName(flat) {
		return flat
	}
	return n.hashed(ns, name, "")
}

// acctJoin is the flat name of a namespaced tool. Codex names MCP servers'
// namespaces "mcp__server__", made to be joined as they are into the
// familiar "mcp__server__tool".
func acctJoin(ns, name string) string {
	switch {
	case ns == "":
		return name
	case strings.HasSuffix(ns, "_"):
		return ns + name
	}
	return ns + acctNSSep + name
}

// hashed is a name of at most max valid characters ending in "_" and 8 hex
// digits of a hash of (salt, ns, name). The tool's own name is kept whole
// when it fits and the namespace is what gets cut: a model picks tools by
// their names, and two long tools of one server must not look alike.
func (n *acctToolNames) hashed(ns, name, salt string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + ns + "\x00" + name))
	tail := "_" + hex.EncodeToString(sum[:4])
	budget := n.max - len(tail)
	if budget < 1 { // a limit under 10: the hash alone must do
		return tail[len(tail)-n.max:]
	}
	flat := acctJoin(ns, name)
	switch keep := budget - len(name) - len(acctNSSep); {
	case ns == "":
	case len(name) > budget:
		flat = name
	case keep >= 4: // enough of the namespace to be worth keeping
		flat = strings.TrimRight(ns[:min(keep, len(ns))], "_") + acctNSSep + name
	default:
		flat = name
	}
	b := make([]byte, 0, n.max)
	for i := 0; i < len(flat) && len(b) < budget; i++ {
		c := flat[i]
		if !acctNameByte(c) {
			c = '_'
		}
		b = append(b, c)
	}
	return string(b) + tail
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
