package config

import (
	"reflect"
	"strings"
)

// expandAll replaces ${VAR} in every string of raw with the variable's
// value, so secrets can stay out of the file. Only the braced form is
// expanded: a bare $ is common in keys and passwords. $${ writes a literal ${.
func (c *checker) expandAll(raw *fileConfig, getenv func(string) string) {
	c.expandValue(reflect.ValueOf(raw).Elem(), "", getenv)
}

func (c *checker) expandValue(v reflect.Value, path string, getenv func(string) string) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			key := v.Type().Field(i).Tag.Get("mapstructure")
			c.expandValue(v.Field(i), join(path, key), getenv)
		}
	case reflect.Slice:
		for i := range v.Len() {
			c.expandValue(v.Index(i), index(path, i), getenv)
		}
	case reflect.String:
		s, missing, bad := expand(v.String(), getenv)
		for _, name := range missing {
			c.add(path, "${%s} is not set", name)
			c.unset[path] = true
		}
		if bad != "" {
			c.add(path, "%s", bad)
			return
		}
		v.SetString(s)
	}
}

// expand returns s with its ${VAR}s replaced, the variables that were unset
// (or empty: getenv cannot tell them apart), and what was malformed, if
// anything.
func expand(s string, getenv func(string) string) (out string, missing []string, bad string) {
	if !strings.Contains(s, "${") {
		return s, nil, ""
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return s, missing, "${ without a closing }"
			}
			name := s[i+2 : i+end]
			if !isVarName(name) {
				return s, missing, "${" + name + "} is not a valid variable name"
			}
			val := getenv(name)
			if val == "" {
				missing = append(missing, name)
			}
			b.WriteString(val)
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), missing, ""
}

func isVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		letter := r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
