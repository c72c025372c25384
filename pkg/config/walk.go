package config

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Viper forgets where values came from, so the same bytes are also parsed
// into a yaml.Node tree. Walking it against the schema structs gives every
// field path its line, and finds what viper would silently ignore or coerce:
// unknown keys, repeated keys, values of the wrong shape.

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML parses data, recording a syntax error as a problem; the tree is
// nil when there is nothing to walk.
func (c *checker) parseYAML(data []byte) (*yaml.Node, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		c.addAt(line, "", "invalid YAML: %s", msg)
		return nil, false
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, true // an empty file (or only comments): all defaults
	}
	return doc.Content[0], true
}

// walk checks node against the schema type t at path.
func (c *checker) walk(node *yaml.Node, t reflect.Type, path string, secret bool) {
	node = deref(node)
	if isNull(node) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			c.wrongShape(node.Line, path, "must be a mapping of keys, not %s", describe(node))
			return
		}
		c.walkMapping(node, t, path, map[string]int{})
	case reflect.Slice:
		switch {
		case node.Kind == yaml.SequenceNode:
			for i, item := range node.Content {
				p := index(path, i)
				c.lines[p] = item.Line
				c.walk(item, t.Elem(), p, secret)
			}
		case t.Elem().Kind() == reflect.String && node.Kind == yaml.ScalarNode:
			// One glob instead of a list of one: viper accepts it, so do we.
			c.lines[index(path, 0)] = node.Line
		default:
			c.wrongShape(node.Line, path, "must be a list, not %s", describe(node))
		}
	case reflect.String:
		if node.Kind != yaml.ScalarNode {
			c.wrongShape(node.Line, path, "must be a single value, not %s", describe(node))
			return
		}
		c.scalars[path] = node.Value
	case reflect.Pointer:
		c.walkScalar(node, t.Elem().Kind(), path, secret)
	case reflect.Map:
		if t.Elem().Kind() == reflect.Struct {
			c.walkEntries(node, t.Elem(), path)
			return
		}
		c.walkPairs(node, path)
	}
}

// walkPairs checks a mapping whose keys are the user's own (model names),
// keeping each entry as written, with its line.
func (c *checker) walkPairs(node *yaml.Node, path string) {
	if node.Kind != yaml.MappingNode {
		c.wrongShape(node.Line, path, "must be a mapping of names, not %s", describe(node))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, val := node.Content[i], deref(node.Content[i+1])
		p := join(path, key.Value)
		if first, ok := seen[key.Value]; ok {
			c.addAt(key.Line, p, "repeated key (first at line %d)", first)
			continue
		}
		seen[key.Value] = key.Line
		c.lines[p] = key.Line
		if val.Kind != yaml.ScalarNode {
			c.wrongShape(val.Line, p, "must be a single name, not %s", describe(val))
			continue
		}
		c.pairs[path] = append(c.pairs[path], [2]string{key.Value, val.Value})
	}
}

// walkEntries checks a mapping whose keys are the user's own (model names)
// and whose values are each a mapping of the struct's keys (a price).
func (c *checker) walkEntries(node *yaml.Node, t reflect.Type, path string) {
	if node.Kind != yaml.MappingNode {
		c.wrongShape(node.Line, path, "must be a mapping of names, not %s", describe(node))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, val := node.Content[i], node.Content[i+1]
		p := join(path, key.Value)
		if first, ok := seen[key.Value]; ok {
			c.addAt(key.Line, p, "repeated key (first at line %d)", first)
			continue
		}
		seen[key.Value] = key.Line
		c.lines[p] = key.Line
		c.walk(val, t, p, false)
	}
}

// walkMapping checks each key of a mapping against the struct's tags.
// seen is shared across merge keys (<<) so a key merged in and written again
// is not mistaken for a repeat.
func (c *checker) walkMapping(node *yaml.Node, t reflect.Type, path string, seen map[string]int) {
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, val := node.Content[i], node.Content[i+1]
		if key.Value == "<<" && key.Tag == "!!merge" {
			c.walkMerge(val, t, path)
			continue
		}
		p := join(path, key.Value)
		if first, ok := seen[key.Value]; ok {
			c.addAt(key.Line, p, "repeated key (first at line %d)", first)
			continue
		}
		seen[key.Value] = key.Line
		f, ok := fieldByKey(t, key.Value)
		if !ok && path == "" && strings.HasPrefix(key.Value, "x-") {
			continue // an extension key: a place to keep YAML anchors
		}
		if !ok {
			if s := suggest(key.Value, keysOf(t)); s != "" {
				c.addAt(key.Line, p, "unknown key (did you mean %s?)", s)
			} else {
				c.addAt(key.Line, p, "unknown key")
			}
			continue
		}
		c.lines[p] = key.Line
		c.walk(val, f.Type, p, f.Tag.Get("secret") == "true")
	}
}

// walkMerge checks the mapping(s) merged in with <<; their keys count as
// the merging mapping's own. Keys written explicitly override them, so they
// do not count as repeats.
func (c *checker) walkMerge(val *yaml.Node, t reflect.Type, path string) {
	val = deref(val)
	sources := []*yaml.Node{val}
	if val.Kind == yaml.SequenceNode {
		sources = val.Content
	}
	for _, src := range sources {
		src = deref(src)
		if src.Kind != yaml.MappingNode {
			c.wrongShape(src.Line, path, "<< must merge a mapping, not %s", describe(src))
			continue
		}
		c.walkMapping(src, t, path, map[string]int{})
	}
}

// walkScalar checks the optional numbers and booleans, which viper would
// otherwise coerce or zero without a word.
func (c *checker) walkScalar(node *yaml.Node, kind reflect.Kind, path string, secret bool) {
	if node.Kind != yaml.ScalarNode {
		c.wrongShape(node.Line, path, "must be a single value, not %s", describe(node))
		return
	}
	quoted := strconv.Quote(node.Value)
	if secret {
		quoted = "the value"
	}
	switch kind {
	case reflect.Int, reflect.Int64:
		if _, err := strconv.ParseInt(node.Value, 10, 64); err != nil {
			c.wrongShape(node.Line, path, "%s is not a whole number", quoted)
		}
	case reflect.Float64:
		if _, err := strconv.ParseFloat(node.Value, 64); err != nil {
			c.wrongShape(node.Line, path, "%s is not a number", quoted)
		}
	case reflect.Bool:
		var b bool
		if node.Decode(&b) != nil {
			c.wrongShape(node.Line, path, "%s is not true or false", quoted)
		}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("mapstructure") == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func keysOf(t reflect.Type) []string {
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i] = t.Field(i).Tag.Get("mapstructure")
	}
	return keys
}
