package shared

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/config"
)

// YAMLAccount is what sign-in needs to know of an account already in the
// file, read from the YAML nodes so a file that does not load (a dead
// login's auth_file is gone) still answers.
type YAMLAccount struct {
	Name, Type, AccountID, AuthFile string
}

// YAMLAccounts lists the accounts of a config file's YAML.
func YAMLAccounts(src []byte) ([]YAMLAccount, error) {
	_, seq, err := findAccounts(src)
	if err != nil || seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, err
	}
	var out []YAMLAccount
	for _, item := range seq.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		var a YAMLAccount
		for i := 0; i+1 < len(item.Content); i += 2 {
			v := item.Content[i+1].Value
			switch item.Content[i].Value {
			case "name":
				a.Name = v
			case "type":
				a.Type = v
			case "account_id":
				a.AccountID = v
			case "auth_file":
				a.AuthFile = v
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// AuthFilePath resolves an auth_file value as the config package does: ~
// and ${VAR} expanded, a relative path taken from the config's directory.
func AuthFilePath(ios *cmdutil.IOStreams, value, cfgPath string) string {
	if value == "" {
		return ""
	}
	p := cmdutil.ExpandHome(ios, os.Expand(value, ios.Getenv))
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(cfgPath), p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// ChatGPTAccountID is the ChatGPT account an openai-responses account in
// the file signs in as: its inline account_id, else its auth file's. ""
// when neither says (an unreadable file is no duplicate to refuse).
func (a YAMLAccount) ChatGPTAccountID(ios *cmdutil.IOStreams, cfgPath string) string {
	if a.AccountID != "" {
		return a.AccountID
	}
	if a.AuthFile == "" {
		return ""
	}
	f, err := codexauth.Read(AuthFilePath(ios, a.AuthFile, cfgPath))
	if err != nil {
		return ""
	}
	return f.AccountID()
}

// AccountHolding returns the name of the openai-responses account, other
// than except, that is already signed in as ChatGPT account id; "" when
// none is.
func AccountHolding(ios *cmdutil.IOStreams, accounts []YAMLAccount, cfgPath, id, except string) string {
	for _, a := range accounts {
		if a.Name == except || a.Type != config.TypeOpenAIResponses {
			continue
		}
		if a.ChatGPTAccountID(ios, cfgPath) == id {
			return a.Name
		}
	}
	return ""
}

// UpdateAccount returns src with the account named name changed: each of
// set replaces the key's value or, when absent, is added after the item's
// last line; each key in remove is dropped. Like AppendAccount it edits
// the text, so every other byte (comments, order, quoting) stays; an item
// it cannot edit as text (flow style, multi-line values) is re-encoded
// from the nodes, which keeps comments but not blank lines.
func UpdateAccount(src []byte, name string, set []Field, remove []string) ([]byte, error) {
	_, seq, err := findAccounts(src)
	if err != nil {
		return nil, err
	}
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, errors.New("accounts is not a list")
	}
	var item *yaml.Node
	for _, it := range seq.Content {
		if it.Kind == yaml.MappingNode && mapValue(it, "name") != nil && mapValue(it, "name").Value == name {
			item = it
		}
	}
	if item == nil {
		return nil, errors.New("no account named " + name)
	}
	if out, ok := updateText(src, item, set, remove); ok {
		return out, nil
	}
	return updateNodes(src, name, set, remove)
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// updateText edits the lines of a block-style item; false when the item
// is not one it can edit so.
func updateText(src []byte, item *yaml.Node, set []Field, remove []string) ([]byte, bool) {
	if item.Style&yaml.FlowStyle != 0 || len(item.Content) == 0 {
		return nil, false
	}
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	replace := map[int]string{} // 0-based line -> new text
	drop := map[int]bool{}
	var add []string
	keyCol := item.Content[0].Column - 1
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		touched := slices.Contains(remove, k.Value) || slices.ContainsFunc(set, func(f Field) bool { return f.Key == k.Value })
		if touched && (v.Kind != yaml.ScalarNode || v.Line != k.Line || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0) {
			return nil, false
		}
	}
	for _, f := range set {
		var k, v *yaml.Node
		for i := 0; i+1 < len(item.Content); i += 2 {
			if item.Content[i].Value == f.Key {
				k, v = item.Content[i], item.Content[i+1]
			}
		}
		if k == nil {
			add = append(add, strings.Repeat(" ", keyCol)+f.Key+": "+f.yaml())
			continue
		}
		line := []rune(lines[k.Line-1])
		if v.Column-1 > len(line) {
			return nil, false
		}
		text := string(line[:v.Column-1]) + f.yaml()
		if c := v.LineComment; c != "" {
			text += " " + c
		}
		replace[k.Line-1] = text
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		if k := item.Content[i]; slices.Contains(remove, k.Value) {
			drop[k.Line-1] = true
		}
	}
	last := lastLine(item) - 1
	var out []string
	for i, l := range lines {
		if r, ok := replace[i]; ok {
			l = r
		}
		if !drop[i] {
			out = append(out, l)
		}
		if i == last {
			out = append(out, add...)
		}
	}
	return join(out), true
}

// updateNodes is UpdateAccount's fallback: edit the nodes, encode the
// whole document.
func updateNodes(src []byte, name string, set []Field, remove []string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	_, seq, _ := findAccountsNode(&doc)
	for _, it := range seq.Content {
		if it.Kind != yaml.MappingNode || mapValue(it, "name") == nil || mapValue(it, "name").Value != name {
			continue
		}
		var kept []*yaml.Node
		for i := 0; i+1 < len(it.Content); i += 2 {
			if !slices.Contains(remove, it.Content[i].Value) {
				kept = append(kept, it.Content[i], it.Content[i+1])
			}
		}
		it.Content = kept
		for _, f := range set {
			tag := "!!str"
			if f.Number {
				tag = "!!int"
			}
			if v := mapValue(it, f.Key); v != nil {
				v.Kind, v.Tag, v.Value, v.Style, v.Content = yaml.ScalarNode, tag, f.Value, 0, nil
				continue
			}
			it.Content = append(it.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.Key},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: f.Value})
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
