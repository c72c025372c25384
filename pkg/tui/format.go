package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/proxy-dev/proxy/pkg/event"
)

// fit pads or cuts s (which may hold styles) to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-n)
}

// fitRight is fit with the text against the right edge, for numbers.
func fitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-n) + s
}

// count writes a token count in 3-4 cells: 950, 12k, 1.2M.
func count(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 10_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1_000_000:
		return fmt.Sprintf("%dk", n/1000)
	case n < 10_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%dM", n/1_000_000)
}

// latency writes a duration for the table: 85ms, 1.2s, 2m03s.
func latency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dm%02ds", d/time.Minute, (d%time.Minute)/time.Second)
}

// countdown writes the time left, to the second: 45s, 4m12s, 2h05m, 3d4h.
func countdown(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d <= 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, (d%time.Minute)/time.Second)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
}

// percent writes part/whole as a whole percentage, "-" when whole is 0.
func percent(part, whole int64) string {
	if whole <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d%%", part*100/whole)
}

// window names a rate-limit window by its length: 5h, 7d, 90m.
func window(minutes int) string {
	switch {
	case minutes <= 0:
		return "?"
	case minutes%(24*60) == 0:
		return fmt.Sprintf("%dd", minutes/(24*60))
	case minutes%60 == 0:
		return fmt.Sprintf("%dh", minutes/60)
	}
	return fmt.Sprintf("%dm", minutes)
}

// shortSource abbreviates a session key source for the table.
func shortSource(s string) string {
	switch s {
	case "header":
		return "hdr"
	case "prompt_cache_key":
		return "pck"
	case "instructions":
		return "instr"
	case "first_input":
		return "input"
	case "", "none":
		return "-"
	}
	return s
}

// shortDoor names the front door a request came in by, in four cells: the
// Responses API over HTTP or a WebSocket, or Chat Completions.
func shortDoor(d event.Decision) string {
	switch {
	case d.Door == event.DoorChat:
		return "chat"
	case d.Transport == "websocket":
		return "ws"
	}
	return "resp"
}

// maxWrappedLines bounds a wrapped value, so one long detail cannot push
// the rest of a decision off the screen.
const maxWrappedLines = 3

// wrapWords breaks s at spaces into lines of at most w cells, at most n of
// them: the last holds the rest, for fit to cut. A word wider than w is a
// line of its own.
func wrapWords(s string, w, n int) []string {
	if w < 20 || ansi.StringWidth(s) <= w {
		return []string{s}
	}
	var out []string
	line := ""
	for rest := s; rest != ""; {
		word, after, _ := strings.Cut(rest, " ")
		switch {
		case line == "":
			line = word
		case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= w:
			line += " " + word
		default:
			out = append(out, line)
			if len(out) == n-1 {
				return append(out, rest)
			}
			line = word
		}
		rest = after
	}
	return append(out, line)
}
