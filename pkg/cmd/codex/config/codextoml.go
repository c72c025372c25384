package config

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Codex's config.toml is the user's file, comments and all: `proxy codex
// config --write` edits it line by line, touching only the top-level
// model_provider and chatgpt_base_url keys and the managed keys of
// [model_providers.proxy], and
// uses a TOML parser only to check the result means what it should.

// codexManagedKeys are the provider keys the block owns: they are replaced
// or removed to match the block; any other key of the table is the user's.
var codexManagedKeys = []string{"name", "base_url", "wire_api", "supports_websockets", "env_key", "requires_openai_auth"}

// codexEdit is the outcome of setCodexProvider.
type codexEdit struct {
	out []byte
	// tableAdded: there was no provider table; tableKeys: the managed keys
	// whose line changed in an existing one.
	tableAdded bool
	tableKeys  []string
	// providerWas is the previous model_provider value as written, "" when
	// there was none; providerChanged says whether its line changed.
	providerWas     string
	providerChanged bool
	// backendChanged says the chatgpt_base_url line was added or changed.
	backendChanged bool
}

func (e codexEdit) changed() bool {
	return e.tableAdded || len(e.tableKeys) > 0 || e.providerChanged || e.backendChanged
}

// summary says what changed in the file at path, starting with "added"
// (the provider table is new), "updated" or "unchanged".
func (e codexEdit) summary(path string) string {
	if !e.changed() {
		return "unchanged " + path + ": the provider is up to date"
	}
	var parts []string
	if e.tableAdded {
		parts = append(parts, "[model_providers."+CodexProviderID+"] added")
	} else if len(e.tableKeys) > 0 {
		parts = append(parts, "[model_providers."+CodexProviderID+"] "+strings.Join(e.tableKeys, ", ")+" set")
	}
	if e.providerChanged {
		if e.providerWas == "" {
			parts = append(parts, `model_provider = "`+CodexProviderID+`" added`)
		} else {
			parts = append(parts, fmt.Sprintf(`model_provider %s -> "%s"`, e.providerWas, CodexProviderID))
		}
	}
	if e.backendChanged {
		parts = append(parts, "chatgpt_base_url set")
	}
	verb := "updated"
	if e.tableAdded {
		verb = "added"
	}
	return verb + " " + path + ": " + strings.Join(parts, "; ")
}

// errCodexConfig is a config.toml the line editor will not touch.
var errCodexConfig = errors.New("cannot update the Codex config safely")

// setCodexProvider returns src with block's model_provider line and
// provider table in it, every other line unchanged.
func setCodexProvider(src []byte, block string) (codexEdit, error) {
	if len(bytes.TrimSpace(src)) > 0 {
		var doc map[string]any
		if err := toml.Unmarshal(src, &doc); err != nil {
			return codexEdit{}, fmt.Errorf("%w: it is not valid TOML (%v); fix it, or add the block from `proxy codex config` by hand", errCodexConfig, err)
		}
	}
	want := parseBlock(block)
	if len(bytes.TrimSpace(src)) == 0 {
		// Nothing to keep: the file is the block.
		return codexEdit{out: []byte(block), tableAdded: true, providerChanged: true}, nil
	}
	f := splitLines(src)
	nl := f.newline()
	stmts, err := scanTOML(f.lines)
	if err != nil {
		return codexEdit{}, fmt.Errorf("%w: %v", errCodexConfig, err)
	}
	var edit codexEdit

	// The provider table. Replacements are collected and applied from the
	// bottom up, so earlier line numbers stay valid.
	type splice struct {
		start, end int // lines [start, end) replaced
		with       []string
	}
	var splices []splice
	table := -1
	for i, s := range stmts {
		if s.kind == stmtHeader && !s.array && slices.Equal(s.key, []string{"model_providers", CodexProviderID}) {
			table = i
			break
		}
	}
	if table >= 0 {
		end := len(stmts) // the statements of the table: (table, end)
		for j := table + 1; j < len(stmts); j++ {
			if stmts[j].kind == stmtHeader {
				end = j
				break
			}
		}
		seen := map[string]bool{}
		insertAt := stmts[table].end + 1 // after the last managed key, else the header
		for _, s := range stmts[table+1 : end] {
			if s.kind != stmtKey || len(s.key) != 1 || !slices.Contains(codexManagedKeys, s.key[0]) {
				continue
			}
			k := s.key[0]
			var with []string
			if line, ok := want.keys[k]; ok && !seen[k] {
				with = []string{line}
			}
			seen[k] = true
			insertAt = s.end + 1
			if len(with) == 1 && s.start == s.end && sameValue(f.lines[s.start], with[0]) {
				continue // the user's line says the same: keep it, comment and all
			}
			if !slices.Equal(f.lines[s.start:s.end+1], with) {
				edit.tableKeys = appendOnce(edit.tableKeys, k)
				splices = append(splices, splice{s.start, s.end + 1, with})
			}
		}
		var missing []string
		for _, k := range want.order {
			if !seen[k] {
				missing = append(missing, want.keys[k])
				edit.tableKeys = appendOnce(edit.tableKeys, k)
			}
		}
		if len(missing) > 0 {
			splices = append(splices, splice{insertAt, insertAt, missing})
		}
	} else {
		edit.tableAdded = true
		var add []string
		if len(f.lines) > 0 && strings.TrimSpace(f.lines[len(f.lines)-1]) != "" {
			add = append(add, "")
		}
		add = append(add, want.table...)
		splices = append(splices, splice{len(f.lines), len(f.lines), add})
	}

	// The top-level model_provider.
	firstHeader := len(stmts)
	for i, s := range stmts {
		if s.kind == stmtHeader {
			firstHeader = i
			break
		}
	}
	found, backendFound := false, false
	lastKey, providerEnd := -1, -1
	for i, s := range stmts[:firstHeader] {
		if s.kind != stmtKey {
			continue
		}
		lastKey = i
		switch {
		case slices.Equal(s.key, []string{"model_provider"}):
			found, providerEnd = true, s.end
			edit.providerWas = strings.TrimSpace(valueOf(f.lines[s.start]))
			if s.start != s.end || !sameValue(f.lines[s.start], want.provider) {
				edit.providerChanged = true
				splices = append(splices, splice{s.start, s.end + 1, []string{want.provider}})
			}
		case slices.Equal(s.key, []string{"chatgpt_base_url"}) && want.backend != "":
			backendFound = true
			if s.start != s.end || !sameValue(f.lines[s.start], want.backend) {
				edit.backendChanged = true
				splices = append(splices, splice{s.start, s.end + 1, []string{want.backend}})
			}
		case slices.Equal(s.key, []string{"chatgpt_base_url"}) && want.offBackend != "" && s.start == s.end &&
			stringValue(f.lines[s.start]) == want.offBackendURL:
			// Set by an earlier run without client keys: with them, Codex's
			// login would be refused there and its TUI would not start.
			edit.backendChanged = true
			splices = append(splices, splice{s.start, s.end + 1, []string{want.offBackend}})
		}
	}
	if want.backend != "" && !backendFound && found {
		edit.backendChanged = true
		splices = append(splices, splice{providerEnd + 1, providerEnd + 1, []string{want.backend}})
	}
	if !found {
		edit.providerChanged = true
		add := append(slices.Clone(want.providerComment), want.provider)
		if want.backend != "" && !backendFound {
			edit.backendChanged = true
			add = append(add, want.backend)
		}
		at := 0
		switch {
		case lastKey >= 0:
			at = stmts[lastKey].end + 1
			add = append([]string{""}, add...)
		case firstHeader < len(stmts):
			// Before the header and the comments that belong to it.
			j := firstHeader
			for j > 0 && stmts[j-1].kind == stmtComment {
				j--
			}
			at = stmts[j].start
			add = append(add, "")
		default:
			at = len(f.lines)
		}
		splices = append(splices, splice{at, at, add})
	}

	slices.SortStableFunc(splices, func(a, b splice) int { return b.start - a.start })
	lines := slices.Clone(f.lines)
	for _, s := range splices {
		lines = slices.Concat(lines[:s.start], s.with, lines[s.end:])
	}
	edit.out = []byte(strings.Join(lines, nl) + nl)
	if !edit.changed() {
		edit.out = src
		return edit, nil
	}
	if err := checkCodexProvider(edit.out, want); err != nil {
		return codexEdit{}, err
	}
	return edit, nil
}

// checkCodexProvider parses the edited file and checks it says what the
// block says; an edit the line editor got wrong is never written.
func checkCodexProvider(out []byte, want codexBlock) error {
	var doc struct {
		ModelProvider  string                    `toml:"model_provider"`
		ChatGPTBaseURL string                    `toml:"chatgpt_base_url"`
		ModelProviders map[string]map[string]any `toml:"model_providers"`
	}
	if err := toml.Unmarshal(out, &doc); err != nil {
		return fmt.Errorf("%w: the edited file would not be valid TOML (%v); add the block from `proxy codex config` by hand", errCodexConfig, err)
	}
	p := doc.ModelProviders[CodexProviderID]
	if doc.ModelProvider != CodexProviderID || p["base_url"] != want.baseURL || p["name"] != "OpenAI" ||
		(want.backend != "" && doc.ChatGPTBaseURL != want.backendURL) {
		return fmt.Errorf("%w: the provider is also set some other way (a dotted key or an inline table?); add the block from `proxy codex config` by hand", errCodexConfig)
	}
	return nil
}

// codexBlock is CodexProviderBlock's output taken apart.
type codexBlock struct {
	providerComment []string // the comment above model_provider
	provider        string   // the model_provider line
	backend         string   // the chatgpt_base_url line; "" when the block has none
	backendURL      string
	// offBackend is the block's commented-out chatgpt_base_url line (with
	// client keys), which replaces a line setting that same URL.
	offBackend    string
	offBackendURL string
	table         []string          // header and key lines
	keys          map[string]string // managed key -> its line
	order         []string          // managed keys in block order
	baseURL       string
}

func parseBlock(block string) codexBlock {
	b := codexBlock{keys: map[string]string{}}
	inTable := false
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "["):
			inTable = true
			b.table = append(b.table, line)
		case inTable:
			b.table = append(b.table, line)
			if key, _, ok := strings.Cut(t, "="); ok && !strings.HasPrefix(t, "#") {
				k := strings.TrimSpace(key)
				b.keys[k] = line
				b.order = append(b.order, k)
				if k == "base_url" {
					b.baseURL = stringValue(line)
				}
			}
		case strings.HasPrefix(t, "# chatgpt_base_url"):
			b.providerComment = append(b.providerComment, line)
			b.offBackend = line
			b.offBackendURL = stringValue(strings.TrimPrefix(t, "# "))
		case strings.HasPrefix(t, "#"):
			b.providerComment = append(b.providerComment, line)
		case strings.HasPrefix(t, "model_provider"):
			b.provider = line
		case strings.HasPrefix(t, "chatgpt_base_url"):
			b.backend = line
			b.backendURL = stringValue(line)
		}
	}
	return b
}

// sameValue reports whether two one-line key/values set the same value,
// whatever their spacing and comments.
func sameValue(a, b string) bool {
	return strings.TrimSpace(valueOf(a)) == strings.TrimSpace(valueOf(b))
}

// stringValue is a one-line key/value's string value, unquoted.
func stringValue(line string) string {
	return strings.Trim(strings.TrimSpace(valueOf(line)), `"`)
}

// valueOf is a one-line key/value's value without its comment.
func valueOf(line string) string {
	_, v, _ := strings.Cut(line, "=")
	if i := strings.Index(v, " #"); i >= 0 && !strings.Contains(v[:i], `"#`) {
		v = v[:i]
	}
	return v
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// tomlFile is a file's lines without their line ends.
type tomlFile struct {
	lines []string
	crlf  bool
}

func splitLines(src []byte) tomlFile {
	s := string(src)
	if s == "" {
		return tomlFile{}
	}
	s = strings.TrimSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	crlf := strings.HasSuffix(lines[0], "\r")
	if crlf {
		for i := range lines {
			lines[i] = strings.TrimSuffix(lines[i], "\r")
		}
	}
	return tomlFile{lines: lines, crlf: crlf}
}

func (f tomlFile) newline() string {
	if f.crlf {
		return "\r\n"
	}
	return "\n"
}

type stmtKind int

const (
	stmtBlank stmtKind = iota
	stmtComment
	stmtHeader
	stmtKey
)

// tomlStmt is one statement of a TOML file: a blank or comment line, a
// table header, or a key/value whose value may span lines (arrays,
// multi-line strings).
type tomlStmt struct {
	start, end int // first and last line, inclusive
	kind       stmtKind
	key        []string // the header's or the key's dotted path
	array      bool     // [[array of tables]]
}

// scanTOML splits lines into statements. It knows enough TOML to tell a
// header from a line inside a multi-line array or string.
func scanTOML(lines []string) ([]tomlStmt, error) {
	var out []tomlStmt
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		switch {
		case t == "":
			out = append(out, tomlStmt{start: i, end: i, kind: stmtBlank})
		case strings.HasPrefix(t, "#"):
			out = append(out, tomlStmt{start: i, end: i, kind: stmtComment})
		case strings.HasPrefix(t, "["):
			array := strings.HasPrefix(t, "[[")
			rest := strings.TrimPrefix(strings.TrimPrefix(t, "["), "[")
			key, _, err := parseTOMLKey(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			out = append(out, tomlStmt{start: i, end: i, kind: stmtHeader, key: key, array: array})
		default:
			key, rest, err := parseTOMLKey(t)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			if !strings.HasPrefix(rest, "=") {
				return nil, fmt.Errorf("line %d: expected = after the key", i+1)
			}
			var v valueScan
			v.scan(rest[1:])
			start := i
			for !v.done() && i+1 < len(lines) {
				i++
				v.scan(lines[i])
			}
			if !v.done() {
				return nil, fmt.Errorf("line %d: value never ends", start+1)
			}
			out = append(out, tomlStmt{start: start, end: i, kind: stmtKey, key: key})
		}
	}
	return out, nil
}

// parseTOMLKey reads a dotted key (bare or quoted parts) and returns it with
// what follows, trimmed.
func parseTOMLKey(s string) ([]string, string, error) {
	var parts []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", errors.New("expected a key")
		}
		switch s[0] {
		case '"', '\'':
			q := s[0]
			j := 1
			var b strings.Builder
			for ; j < len(s) && s[j] != q; j++ {
				if q == '"' && s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, "", errors.New("unterminated quoted key")
			}
			parts = append(parts, b.String())
			s = s[j+1:]
		default:
			j := 0
			for j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j == 0 {
				return nil, "", fmt.Errorf("unexpected %q in a key", s[0])
			}
			parts = append(parts, s[:j])
			s = s[j:]
		}
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return parts, s, nil
		}
		s = s[1:]
	}
}

// valueScan follows a value across lines: open brackets and multi-line
// strings keep it going.
type valueScan struct {
	depth      int
	mlBasic    bool // inside """
	mlLiteral  bool // inside '''
	sawContent bool
}

func (v *valueScan) done() bool { return v.depth <= 0 && !v.mlBasic && !v.mlLiteral && v.sawContent }

func (v *valueScan) scan(line string) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case v.mlBasic:
			if c == '\\' {
				i++
			} else if strings.HasPrefix(line[i:], `"""`) {
				v.mlBasic = false
				i += 2
			}
			continue
		case v.mlLiteral:
			if strings.HasPrefix(line[i:], `'''`) {
				v.mlLiteral = false
				i += 2
			}
			continue
		}
		if c != ' ' && c != '\t' && c != '#' {
			v.sawContent = true
		}
		switch c {
		case '#':
			return
		case '"':
			if strings.HasPrefix(line[i:], `"""`) {
				v.mlBasic = true
				i += 2
				continue
			}
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' {
					i++
				}
			}
		case '\'':
			if strings.HasPrefix(line[i:], `'''`) {
				v.mlLiteral = true
				i += 2
				continue
			}
			for i++; i < len(line) && line[i] != '\''; i++ {
			}
		case '[', '{':
			v.depth++
		case ']', '}':
			v.depth--
		}
	}
}
