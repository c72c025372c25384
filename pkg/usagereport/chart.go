package usagereport

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// glyphs fill the bars, one a series; a series past the last shares
// "other" with the rest.
var glyphs = []string{"█", "▓", "▒", "░", "#", "=", "+"}

const otherSeries = "other"

// Days lists the UTC days from since to today, both given as 2006-01-02;
// nil when either is not a date or since is after today.
func Days(since, today string) []string {
	first, err1 := time.Parse(time.DateOnly, since)
	last, err2 := time.Parse(time.DateOnly, today)
	if err1 != nil || err2 != nil {
		return nil
	}
	var days []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	return days
}

// WriteChart draws a bar a day of the tokens served (input and output),
// each bar split by the split field (key, account or model; "" for one
// series), scaled so the largest day fills width cells. Every day of days
// has its line, an idle one too: a gap in the chart is a day nothing ran.
func WriteChart(w io.Writer, lines []Line, days []string, split string, width int) error {
	width = max(width, 10)
	series := seriesOf(lines, split)
	perDay := map[string]map[string]int64{}
	for _, l := range lines {
		name := seriesName(series, lineFieldOr(l, split))
		if perDay[l.Day] == nil {
			perDay[l.Day] = map[string]int64{}
		}
		perDay[l.Day][name] += l.InputTokens + l.OutputTokens
	}
	var most int64
	for _, day := range days {
		var sum int64
		for _, n := range perDay[day] {
			sum += n
		}
		most = max(most, sum)
	}
	var b strings.Builder
	if split != "" && len(series) > 0 {
		parts := make([]string, len(series))
		for i, s := range series {
			parts[i] = glyphs[min(i, len(glyphs)-1)] + " " + displayName(s)
		}
		fmt.Fprintf(&b, "tokens a day by %s: %s\n", split, strings.Join(parts, "  "))
	} else {
		b.WriteString("tokens a day\n")
	}
	for _, day := range days {
		var sum int64
		cells := 0
		bar := ""
		for i, s := range series {
			n := perDay[day][s]
			if n == 0 {
				continue
			}
			sum += n
			// Each series' cells are rounded from the running total, so
			// the parts add up to the bar's length exactly.
			upto := scale(sum, most, width)
			bar += strings.Repeat(glyphs[min(i, len(glyphs)-1)], upto-cells)
			cells = upto
		}
		label := day
		if len(day) == len("2006-01-02") {
			label = day[5:]
		}
		fmt.Fprintf(&b, "%s %s%s %s\n", label, bar, strings.Repeat(" ", width-cells), Count(sum))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// scale is n's share of width cells against most, at least one cell for
// anything served.
func scale(n, most int64, width int) int {
	if n <= 0 || most <= 0 {
		return 0
	}
	return max(1, int((n*int64(width)+most/2)/most))
}

// seriesOf names the series of a chart split by field, the largest first;
// past the glyphs, the smallest share "other".
func seriesOf(lines []Line, field string) []string {
	totals := map[string]int64{}
	for _, l := range lines {
		totals[lineFieldOr(l, field)] += l.InputTokens + l.OutputTokens
	}
	names := make([]string, 0, len(totals))
	for n := range totals {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(totals[b], totals[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if len(names) > len(glyphs) {
		names = append(names[:len(glyphs)-1], otherSeries)
	}
	return names
}

func seriesName(series []string, name string) string {
	if slices.Contains(series, name) {
		return name
	}
	return otherSeries
}

// lineFieldOr is the line's value of field; "" (one series) for none.
func lineFieldOr(l Line, field string) string {
	if field == "" {
		return ""
	}
	return lineField(l, field)
}

func displayName(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ChartSplit is the field a chart of a report grouped by by is split by:
// the first grouping that is not the day; "" when there is none.
func ChartSplit(by []string) string {
	for _, f := range by {
		if f != ByDay {
			return f
		}
	}
	return ""
}
