package config

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"

	"gopkg.in/yaml.v3"
)

// Warning is something worth fixing that does not stop the config from
// loading: `proxy serve` logs it, `proxy config validate` prints it.
type Warning struct {
	// Path is the file the warning is about.
	Path string
	// Message says what is wrong and the command that fixes it; it names
	// fields, never their values.
	Message string
}

// String is the message, which already names the file.
func (w Warning) String() string { return w.Message }

// CheckPermissions warns about secrets other users of the machine can read:
// the config file when it holds a secret written literally (an api_key,
// token, client key, or Redis or proxy_url password; a value that is only ${VAR}
// references keeps the secret in the environment, not the file), and every
// account's auth_file. A file is too open when its group or others may read
// it. Files that cannot be examined are skipped: loading already reported
// them. On Windows, where Unix mode bits mean nothing, it finds nothing.
func CheckPermissions(cfg *Config) []Warning {
	if runtime.GOOS == "windows" || cfg == nil {
		return nil
	}
	var ws []Warning
	if cfg.Path != "" {
		if mode, open := tooOpen(cfg.Path); open {
			if fields := literalSecrets(cfg.Path); len(fields) > 0 {
				ws = append(ws, Warning{Path: cfg.Path, Message: fmt.Sprintf(
					"config %s holds secrets (%s) and is %s (mode %04o): run chmod 600 %s, or move the secrets to environment variables referenced as ${VAR}",
					cfg.Path, strings.Join(fields, ", "), readableBy(mode), mode, shellQuote(absPath(cfg.Path)))})
			}
		}
	}
	seen := map[string]bool{}
	for _, a := range cfg.Accounts {
		if a.AuthFile == "" || seen[a.AuthFile] {
			continue
		}
		seen[a.AuthFile] = true
		if mode, open := tooOpen(a.AuthFile); open {
			ws = append(ws, Warning{Path: a.AuthFile, Message: fmt.Sprintf(
				"auth file %s of account %s holds its tokens and is %s (mode %04o): run chmod 600 %s",
				a.AuthFile, a.Name, readableBy(mode), mode, shellQuote(absPath(a.AuthFile)))})
		}
	}
	return ws
}

// tooOpen reports whether path's group or others may read it.
func tooOpen(path string) (fs.FileMode, bool) {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return 0, false
	}
	mode := info.Mode().Perm()
	return mode, mode&0o044 != 0
}

func readableBy(mode fs.FileMode) string {
	switch {
	case mode&0o040 != 0 && mode&0o004 != 0:
		return "readable by its group and all other users"
	case mode&0o040 != 0:
		return "readable by its group"
	default:
		return "readable by all other users"
	}
}

// secretKeys are the file's keys tagged secret in the schema: api_key,
// access_token, refresh_token, key (client keys), url (Redis) and
// proxy_url.
var secretKeys = secretKeysOf(reflect.TypeFor[fileConfig](), map[string]bool{})

func secretKeysOf(t reflect.Type, keys map[string]bool) map[string]bool {
	for i := range t.NumField() {
		f := t.Field(i)
		ft := f.Type
		for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			secretKeysOf(ft, keys)
		}
		if f.Tag.Get("secret") == "true" {
			keys[f.Tag.Get("mapstructure")] = true
		}
	}
	return keys
}

// literalSecrets returns the field paths in the file at path whose secret
// value is written literally. The whole YAML tree is searched, not only the
// schema's places, so a secret kept under an x- anchor counts too.
func literalSecrets(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	var found []string
	var visit func(n *yaml.Node, at string, depth int)
	visit = func(n *yaml.Node, at string, depth int) {
		// Aliases are followed for values, but an alias cycle must end.
		if depth > 64 {
			return
		}
		n = deref(n)
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], deref(n.Content[i+1])
				p := join(at, key.Value)
				if key.Value == "<<" {
					p = at
				}
				if secretKeys[key.Value] && val.Kind == yaml.ScalarNode && !isNull(val) && literalSecret(key.Value, val.Value) {
					found = append(found, p)
					continue
				}
				// An alias's target was searched where it is
				// defined; following it again would repeat.
				if n.Content[i+1].Kind == yaml.AliasNode {
					continue
				}
				visit(val, p, depth+1)
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				if item.Kind != yaml.AliasNode {
					visit(item, index(at, i), depth+1)
				}
			}
		}
	}
	visit(doc.Content[0], "", 0)
	return found
}

// literalSecret reports whether value, as written under key, holds a secret
// itself rather than only ${VAR} references to one. A Redis URL or a
// proxy_url is a secret only for its password.
func literalSecret(key, value string) bool {
	rest := stripRefs(value)
	if key != "url" && key != "proxy_url" {
		return strings.TrimSpace(rest) != ""
	}
	u, err := url.Parse(rest)
	if err != nil || u.User == nil {
		return false
	}
	pass, ok := u.User.Password()
	return ok && pass != ""
}

// stripRefs removes the ${VAR} references from s, leaving what is written
// literally ($${ is a literal ${). A malformed reference counts as literal
// text: better a warning too many than a secret missed.
func stripRefs(s string) string {
	out, _, bad := expand(s, func(string) string { return "" })
	if bad != "" {
		return s
	}
	return out
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// shellQuote quotes p for a POSIX shell when it needs it, so the printed
// fix can be pasted as is.
func shellQuote(p string) string {
	safe := func(r rune) bool {
		return r == '/' || r == '.' || r == '_' || r == '-' || r == '+' || r == ',' || r == '@' || r == ':' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
	}
	if p != "" && strings.IndexFunc(p, func(r rune) bool { return !safe(r) }) < 0 {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
