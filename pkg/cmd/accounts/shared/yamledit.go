package shared

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Field is one key and value of an account being added, in the order they
// are written. A number is written as is; anything else as a string,
// quoted only when YAML needs it.
type Field struct {
	Key, Value string
	Number     bool
}

func (f Field) yaml() string {
	if f.Number {
		return f.Value
	}
	return yamlString(f.Value)
}

// AccountNames returns the names of the accounts in a config file's YAML,
// read from the nodes so a file that does not load (yet) still answers.
func AccountNames(src []byte) ([]string, error) {
	accounts, err := YAMLAccounts(src)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, a := range accounts {
		if a.Name != "" {
			names = append(names, a.Name)
		}
	}
	return names, nil
}

// findAccounts parses src and returns the "accounts" key and value nodes
// of its top-level mapping (nil when absent).
func findAccounts(src []byte) (key, val *yaml.Node, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, errors.New("the file is not a mapping of keys")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "accounts" {
			return root.Content[i], root.Content[i+1], nil
		}
	}
	return nil, nil, nil
}

// AppendAccount returns src with one more account at the end of its
// accounts list. It inserts text where the nodes say the list ends, so
// every other byte of the user's file (comments, blank lines, quoting,
// order) stays as it was; only a list written in flow style ([a, b]) is
// re-encoded from the nodes, which keeps comments but not blank lines.
func AppendAccount(src []byte, fields []Field) ([]byte, error) {
	key, val, err := findAccounts(src)
	if err != nil {
		return nil, err
	}
	text := string(src)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	switch {
	case key == nil:
		// No accounts yet: the list goes at the end.
		return join(append(lines, "accounts:"), accountLines(fields, 2)), nil
	case isEmptyList(val) && val.Line == key.Line:
		// "accounts:" or "accounts: []": the key line keeps its comment;
		// the items go right below it.
		l := lines[key.Line-1]
		comment := ""
		if i := strings.Index(l, " #"); i >= 0 {
			comment = l[i:]
		}
		indent := key.Column - 1
		lines[key.Line-1] = l[:indent] + "accounts:" + comment
		out := append(append([]string{}, lines[:key.Line]...), accountLines(fields, indent+2)...)
		return join(append(out, lines[key.Line:]...)), nil
	case val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle == 0 && len(val.Content) > 0:
		return insertAfterLast(lines, val, fields), nil
	}
	return reencode(src, fields)
}

// insertAfterLast puts the new item after the list's last item, including
// the comments indented under it (commented-out options belong to it).
func insertAfterLast(lines []string, seq *yaml.Node, fields []Field) []byte {
	last := seq.Content[len(seq.Content)-1]
	itemLine := lines[last.Line-1]
	dash := strings.LastIndex(itemLine[:min(last.Column-1, len(itemLine))], "-")
	if dash < 0 {
		dash = max(0, last.Column-3)
	}
	end := lastLine(last) // 1-based: lines[:end] hold the item
	for j := end; j < len(lines); j++ {
		t := strings.TrimSpace(lines[j])
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "#") && indentOf(lines[j]) > dash {
			end = j + 1
			continue
		}
		break
	}
	var add []string
	// Keep the file's rhythm: items separated by blank lines get one.
	if last.Line >= 2 && strings.TrimSpace(lines[last.Line-2]) == "" {
		add = append(add, "")
	}
	add = append(add, accountLinesAt(fields, dash, last.Column-1)...)
	out := append(append([]string{}, lines[:end]...), add...)
	return join(append(out, lines[end:]...))
}

// reencode appends the account as a node and writes the whole document
// back from its nodes: the fallback for layouts text insertion cannot
// follow.
func reencode(src []byte, fields []Field) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	_, val, _ := findAccountsNode(&doc)
	if val == nil || (val.Kind != yaml.SequenceNode && !isEmptyList(val)) {
		return nil, errors.New("accounts is not a list")
	}
	item := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range fields {
		tag := "!!str"
		if f.Number {
			tag = "!!int"
		}
		item.Content = append(item.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.Key},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: f.Value})
	}
	val.Kind, val.Tag, val.Style, val.Value = yaml.SequenceNode, "!!seq", 0, ""
	val.Content = append(val.Content, item)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func findAccountsNode(doc *yaml.Node) (key, val *yaml.Node, err error) {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "accounts" {
			return root.Content[i], root.Content[i+1], nil
		}
	}
	return nil, nil, nil
}

func isEmptyList(n *yaml.Node) bool {
	return (n.Kind == yaml.ScalarNode && n.Tag == "!!null") || (n.Kind == yaml.SequenceNode && len(n.Content) == 0)
}

// lastLine is the last line a node's content reaches.
func lastLine(n *yaml.Node) int {
	l := n.Line
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		l += strings.Count(strings.TrimSuffix(n.Value, "\n"), "\n") + 1
	}
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// accountLines writes an item with its dash at indent and its keys two
// columns further.
func accountLines(fields []Field, indent int) []string {
	return accountLinesAt(fields, indent, indent+2)
}

func accountLinesAt(fields []Field, dash, keys int) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		prefix := strings.Repeat(" ", keys)
		if i == 0 {
			prefix = strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", max(1, keys-dash-1))
		}
		out[i] = prefix + f.Key + ": " + f.yaml()
	}
	return out
}

// yamlString is s as a YAML scalar, quoted only when it must be.
func yamlString(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(b), "\n")
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func join(parts ...[]string) []byte {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return []byte(strings.Join(all, "\n") + "\n")
}
