package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with the configuration, with its place so the
// user can go straight to it.
type Problem struct {
	// File is the config file, or "$PROXY_<KEY>" when the value came from
	// the environment; "" when the place is unknown (a command-line flag).
	File string
	// Line is 1-based; 0 when unknown.
	Line int
	// Path is the field, like accounts[1].type; "" for the file as a whole.
	Path string
	// Message says what is wrong; it never contains a secret.
	Message string
}

// Error formats the problem like a compiler: "proxy.yaml:12: accounts[1].type: ...".
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem Load found. Load returns it as its error when the
// configuration is invalid; callers find it with errors.As (the CLI exits 2).
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders problems as a reader walks the file: environment first (they
// have no line), then by line, keeping discovery order within a line.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Compare(a.Line, b.Line)
	})
}
