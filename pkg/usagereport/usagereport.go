// Package usagereport turns the usage ledger's lines into what people
// read: rows grouped by key, account, model and day, as a table, JSON, CSV
// and a chart of bars per day. `proxy usage` and the watch screen's usage
// view both draw with it, so the two never disagree.
package usagereport

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Line is one line of the ledger as GET /_proxy/usage serves it: a UTC
// day, the client key, the account that served, the model, what was
// served and its cost at the price table (null when the model has none).
type Line struct {
	Day             string   `json:"day"` // 2006-01-02, UTC
	Key             string   `json:"key"` // the client key's name, "" with no keys
	Account         string   `json:"account"`
	Model           string   `json:"model"`
	Requests        int64    `json:"requests"`
	InputTokens     int64    `json:"input_tokens"`
	CachedTokens    int64    `json:"cached_tokens"`
	OutputTokens    int64    `json:"output_tokens"`
	ReasoningTokens int64    `json:"reasoning_tokens"`
	CostUSD         *float64 `json:"cost_usd"`
}

// The fields a report may be grouped by, as --by names them.
const (
	ByKey     = "key"
	ByAccount = "account"
	ByModel   = "model"
	ByDay     = "day"
)

// Fields are the groupings, in the order `--by` documents them.
var Fields = []string{ByKey, ByAccount, ByModel, ByDay}

// ParseBy reads --by values ("key,model", or several flags): each a known
// field, none twice; none at all groups by key.
func ParseBy(values []string) ([]string, error) {
	var by []string
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !slices.Contains(Fields, f) {
				return nil, fmt.Errorf("--by %q is not one of %s", f, strings.Join(Fields, ", "))
			}
			if slices.Contains(by, f) {
				return nil, fmt.Errorf("--by names %s twice", f)
			}
			by = append(by, f)
		}
	}
	if len(by) == 0 {
		by = []string{ByKey}
	}
	return by, nil
}

// Row is a group's sums. Only the fields grouped by are set, so its JSON
// carries exactly them (a key may be "", the proxy checking no keys).
type Row struct {
	Key     *string `json:"key,omitempty"`
	Account *string `json:"account,omitempty"`
	Model   *string `json:"model,omitempty"`
	Day     *string `json:"day,omitempty"`

	Requests        int64 `json:"requests"`
	InputTokens     int64 `json:"input_tokens"`
	CachedTokens    int64 `json:"cached_tokens"`
	OutputTokens    int64 `json:"output_tokens"`
	ReasoningTokens int64 `json:"reasoning_tokens"`
	// CostUSD sums the priced lines; null when none of the group's lines
	// has a price. UnpricedRequests counts the requests it leaves out, so
	// a partial figure is never read as the whole.
	CostUSD          *float64 `json:"cost_usd"`
	UnpricedRequests int64    `json:"unpriced_requests,omitempty"`
}

// field is a row's value of a grouping field.
func (r Row) field(f string) string {
	var p *string
	switch f {
	case ByKey:
		p = r.Key
	case ByAccount:
		p = r.Account
	case ByModel:
		p = r.Model
	case ByDay:
		p = r.Day
	}
	if p == nil {
		return ""
	}
	return *p
}

// Tokens is what a row counts toward the chart: input and output.
func (r Row) Tokens() int64 { return r.InputTokens + r.OutputTokens }

func lineField(l Line, f string) string {
	switch f {
	case ByKey:
		return l.Key
	case ByAccount:
		return l.Account
	case ByModel:
		return l.Model
	default:
		return l.Day
	}
}

// Group sums lines by the fields of by, ordered by those fields in by's
// order.
func Group(lines []Line, by []string) []Row {
	index := map[string]int{}
	var rows []Row
	for _, l := range lines {
		parts := make([]string, len(by))
		for i, f := range by {
			parts[i] = lineField(l, f)
		}
		id := strings.Join(parts, "\x1f")
		i, ok := index[id]
		if !ok {
			i = len(rows)
			index[id] = i
			r := Row{}
			for j, f := range by {
				v := parts[j]
				switch f {
				case ByKey:
					r.Key = &v
				case ByAccount:
					r.Account = &v
				case ByModel:
					r.Model = &v
				case ByDay:
					r.Day = &v
				}
			}
			rows = append(rows, r)
		}
		r := &rows[i]
		r.Requests += l.Requests
		r.InputTokens += l.InputTokens
		r.CachedTokens += l.CachedTokens
		r.OutputTokens += l.OutputTokens
		r.ReasoningTokens += l.ReasoningTokens
		if l.CostUSD == nil {
			r.UnpricedRequests += l.Requests
			continue
		}
		r.CostUSD = addCost(r.CostUSD, *l.CostUSD)
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		for _, f := range by {
			if c := cmp.Compare(a.field(f), b.field(f)); c != 0 {
				return c
			}
		}
		return 0
	})
	return rows
}

// addCost adds usd to sum (nil: none yet), kept to the micro-dollar as the
// price table rounds, so sums carry no binary noise into JSON or CSV.
func addCost(sum *float64, usd float64) *float64 {
	v := usd
	if sum != nil {
		v += *sum
	}
	v = math.Round(v*1e6) / 1e6
	return &v
}

// Total sums every row into one, grouped by nothing.
func Total(rows []Row) Row {
	var t Row
	for _, r := range rows {
		t.Requests += r.Requests
		t.InputTokens += r.InputTokens
		t.CachedTokens += r.CachedTokens
		t.OutputTokens += r.OutputTokens
		t.ReasoningTokens += r.ReasoningTokens
		t.UnpricedRequests += r.UnpricedRequests
		if r.CostUSD != nil {
			t.CostUSD = addCost(t.CostUSD, *r.CostUSD)
		}
	}
	return t
}

// WriteJSON writes rows as a JSON array, one object a row.
func WriteJSON(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// counts are the numeric columns of the table and the CSV.
var counts = []string{"requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "unpriced_requests"}

func (r Row) countValues() []int64 {
	return []int64{r.Requests, r.InputTokens, r.CachedTokens, r.OutputTokens, r.ReasoningTokens}
}

// WriteCSV writes rows with a header: the grouping fields, then the counts.
// An unpriced cost is an empty cell.
func WriteCSV(w io.Writer, rows []Row, by []string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append(slices.Clone(by), counts...)); err != nil {
		return err
	}
	for _, r := range rows {
		rec := make([]string, 0, len(by)+len(counts))
		for _, f := range by {
			rec = append(rec, r.field(f))
		}
		for _, v := range r.countValues() {
			rec = append(rec, strconv.FormatInt(v, 10))
		}
		cost := ""
		if r.CostUSD != nil {
			cost = strconv.FormatFloat(*r.CostUSD, 'f', 6, 64)
		}
		rec = append(rec, cost, strconv.FormatInt(r.UnpricedRequests, 10))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Money writes a cost for people: "unpriced" when there is none, and a
// "+" when some requests had no price and the figure is a floor.
func Money(r Row) string {
	if r.CostUSD == nil {
		return "unpriced"
	}
	s := "$" + strconv.FormatFloat(*r.CostUSD, 'f', 2, 64)
	if *r.CostUSD > 0 && *r.CostUSD < 0.005 {
		s = "<$0.01"
	}
	if r.UnpricedRequests > 0 {
		s += "+"
	}
	return s
}

// Count writes a token count short: 1234 as 1234, 12345 as 12.3k, millions
// as 1.2M.
func Count(n int64) string {
	switch {
	case n >= 10_000_000:
		return strconv.FormatInt(n/1_000_000, 10) + "M"
	case n >= 1_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	case n >= 10_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	default:
		return strconv.FormatInt(n, 10)
	}
}

// Cells are rows as a table's cells: the header, a line a row, and a
// total line when there is more than one row; note, when not "", says
// what the cost leaves out.
func Cells(rows []Row, by []string) (header []string, lines [][]string, note string) {
	header = make([]string, 0, len(by)+6)
	for _, f := range by {
		header = append(header, strings.ToUpper(f))
	}
	header = append(header, "REQUESTS", "INPUT", "CACHED", "OUTPUT", "REASONING", "COST")
	line := func(label []string, r Row) []string {
		cells := slices.Clone(label)
		for _, v := range r.countValues() {
			cells = append(cells, Count(v))
		}
		return append(cells, Money(r))
	}
	for _, r := range rows {
		label := make([]string, len(by))
		for i, f := range by {
			label[i] = r.field(f)
			if label[i] == "" {
				label[i] = "-"
			}
		}
		lines = append(lines, line(label, r))
	}
	if len(rows) > 1 {
		label := make([]string, len(by))
		label[0] = "total"
		lines = append(lines, line(label, Total(rows)))
	}
	if t := Total(rows); t.UnpricedRequests > 0 {
		note = fmt.Sprintf("+ %d request(s) were for models with no price: the cost shown leaves them out (set prices: in the config)", t.UnpricedRequests)
	}
	return header, lines, note
}

// WriteTable writes rows as aligned columns under a header (Cells), the
// names left-aligned and the counts right-aligned, then the note.
func WriteTable(w io.Writer, rows []Row, by []string) error {
	header, lines, note := Cells(rows, by)
	table := append([][]string{header}, lines...)
	widths := make([]int, len(header))
	for _, row := range table {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for _, row := range table {
		for i, c := range row {
			switch {
			case i < len(by):
				fmt.Fprintf(&b, "%-*s  ", widths[i], c)
			case i == len(row)-1:
				fmt.Fprintf(&b, "%*s", widths[i], c)
			default:
				fmt.Fprintf(&b, "%*s  ", widths[i], c)
			}
		}
		b.WriteString("\n")
	}
	if note != "" {
		b.WriteString(note + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
