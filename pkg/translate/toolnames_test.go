package translate

import (
	"strings"
	"testing"
)

func TestToolNamesFlatten(t *testing.T) {
	long := strings.Repeat("n", 70)
	for _, tc := range []struct {
		name     string
		max      int
		ns, tool string
		want     string // "" checks only the rules
	}{
		{"top-level name as is", 0, "", "exec_command", "exec_command"},
		{"namespace joined", 0, "functions", "exec", "functions__exec"},
		{"MCP namespace joined as MCP names are", 0, "mcp__burp__", "status", "mcp__burp__status"},
		{"long namespace cut, tool name kept", 0, "mcp__" + long + "__", "navigate", "mcp__" + strings.Repeat("n", 40) + "__navigate_"},
		{"long tool name cut with a hash", 0, "", long, ""},
		{"invalid characters replaced", 0, "", "my.tool/v2", "my_tool_v2_"},
		{"small provider limit", 16, "collaboration", "spawn_agent", "spawn_a_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := acctNewToolNames(tc.max)
			got, _ := n.add(tc.ns, tc.tool, false)
			limit := tc.max
			if limit == 0 {
				limit = 64
			}
			if len(got) > limit || !acctValidName(got) {
				t.Fatalf("flat name %q breaks the rules (max %d)", got, limit)
			}
			if tc.want != "" && !strings.HasPrefix(got, tc.want) {
				t.Errorf("flat name %q, want it to start with %q", got, tc.want)
			}
			if back := n.back(got); back.Namespace != tc.ns || back.Name != tc.tool {
				t.Errorf("back(%q) = %+v", got, back)
			}
			if again, _ := acctNewToolNames(tc.max).add(tc.ns, tc.tool, false); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

func TestToolNamesBack(t *testing.T) {
	n := acctNewToolNames(0)
	n.add("mcp__pw__", "browser_navigate", false)
	n.add("functions", "exec", true)
	n.add("a", "wait", false)
	n.add("b", "wait", false)
	clash, _ := n.add("", "a__wait", false) // flattens like a's wait
	if _, fresh := n.add("functions", "exec", true); fresh {
		t.Errorf("a tool declared twice is fresh twice")
	}
	for _, tc := range []struct {
		name, flat string
		want       acctCodexTool
	}{
		{"declared", "functions__exec", acctCodexTool{"functions", "exec", true}},
		{"bare name of a namespaced tool", "browser_navigate", acctCodexTool{"mcp__pw__", "browser_navigate", false}},
		{"dotted form", "functions.exec", acctCodexTool{"functions", "exec", true}},
		{"ambiguous bare name passes as is", "wait", acctCodexTool{"", "wait", false}},
		{"a clash gets a name of its own", clash, acctCodexTool{"", "a__wait", false}},
		{"unknown passes as is", "nope", acctCodexTool{"", "nope", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := n.back(tc.flat); got != tc.want {
				t.Errorf("back(%q) = %+v, want %+v", tc.flat, got, tc.want)
			}
		})
	}
	if clash == "a__wait" {
		t.Errorf("two tools share the flat name a__wait")
	}
}
