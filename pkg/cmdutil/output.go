package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// terminal is implemented by an output that knows whether a person reads
// it. Tests pass a buffer that says yes, so the terminal layout is tested
// without a real tty.
type terminal interface {
	IsTerminal() bool
}

// IsTerminal reports whether w is a terminal: an injected answer when w
// has one, else whether w is a character device.
func IsTerminal(w io.Writer) bool {
	if t, ok := w.(terminal); ok {
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Table prints rows the way gh does: columns aligned under a header on a
// terminal; separated by tabs when piped, so cut and awk read it, under the
// same header line (tail -n +2 skips it), so a saved file still says what
// each column is.
type Table struct {
	w      io.Writer
	tty    bool
	header []string
	rows   [][]string
}

// NewTable starts a table on w under header.
func NewTable(w io.Writer, header ...string) *Table {
	return &Table{w: w, tty: IsTerminal(w), header: header}
}

// Add appends a row; an empty cell shows as "-" on a terminal so the
// columns stay readable.
func (t *Table) Add(cells ...string) {
	t.rows = append(t.rows, cells)
}

// Render prints the header and rows.
func (t *Table) Render() error {
	if !t.tty {
		for _, r := range append([][]string{t.header}, t.rows...) {
			if _, err := fmt.Fprintln(t.w, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	write := func(cells []string) {
		out := make([]string, len(cells))
		for i, c := range cells {
			if c == "" {
				c = "-"
			}
			// A tab inside a cell would split the column.
			out[i] = strings.ReplaceAll(c, "\t", " ")
		}
		fmt.Fprintln(tw, strings.Join(out, "\t"))
	}
	write(t.header)
	for _, r := range t.rows {
		write(r)
	}
	return tw.Flush()
}

// WriteJSON prints v indented, for --json.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
