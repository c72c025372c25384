package tui

import (
	"fmt"
	"strings"

	"github.com/proxy-dev/proxy/pkg/event"
)

// DetailView shows every field of one decision.
type DetailView struct{}

// View renders d in width cells and height lines.
func (DetailView) View(d event.Decision, width, height int, s Styles) string {
	type field struct{ name, value string }
	fields := []field{
		{"time", d.Time.Local().Format("2006-01-02 15:04:05.000")},
		{"request", d.RequestID},
		{"client", orDash(d.Client)},
		{"path", d.Path + transportOf(d.Transport) + doorOf(d.Door)},
		{"session", orDash(d.Session) + " (from " + orDash(d.Source) + ")"},
		{"model", orDash(d.Model) + upstreamModelOf(d.UpstreamModel)},
		{"stream", fmt.Sprint(d.Stream)},
		{"candidates", orDash(strings.Join(d.Candidates, ", "))},
		{"account", orDash(d.Account) + typeOf(d.Type) + apiOf(d.API)},
		{"target", orDash(d.Target)},
		{"reason", orDash(d.Reason)},
		{"detail", orDash(d.Detail)},
	}
	if d.Items != "" {
		fields = append(fields, field{"items", d.Items})
	}
	if d.Translated != "" {
		fields = append(fields, field{"translated", d.Translated})
	}
	for i, a := range d.Attempts {
		v := fmt.Sprintf("%s → %s", a.Account, statusText(a.Status))
		if a.Error != "" {
			v += ": " + a.Error
		}
		fields = append(fields, field{fmt.Sprintf("attempt %d", i+1), v})
	}
	fields = append(fields,
		field{"status", statusText(d.Status)},
		field{"ttfb", latency(d.TTFB)},
		field{"duration", latency(d.Duration)},
		field{"tokens", fmt.Sprintf("in %d (cached %d, %s) · out %d (reasoning %d)",
			d.Usage.InputTokens, d.Usage.CachedTokens, percent(d.Usage.CachedTokens, d.Usage.InputTokens),
			d.Usage.OutputTokens, d.Usage.ReasoningTokens)},
	)
	if d.Error != "" {
		fields = append(fields, field{"error", d.Error})
	}
	lines := []string{s.Title.Render(fit("decision "+d.RequestID+"  (esc or enter: back)", width))}
	for _, f := range fields {
		values := []string{f.value}
		if f.name == "detail" || f.name == "items" {
			// Their last words matter as much as the first (the windows
			// the planner weighed against, what was removed): wrapped.
			values = wrapWords(f.value, width-12, maxWrappedLines)
		}
		for i, v := range values {
			name := f.name
			if i > 0 {
				name = ""
			}
			lines = append(lines, fit(s.Label.Render(fit(name, 11))+" "+v, width))
		}
	}
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func doorOf(door string) string {
	if door == event.DoorChat {
		return " (Chat Completions front door)"
	}
	return ""
}

func upstreamModelOf(m string) string {
	if m == "" {
		return ""
	}
	return " → " + m + " on the account (model_map)"
}

func apiOf(api string) string {
	if api == event.APIChat {
		return " speaking Chat Completions"
	}
	return ""
}

func typeOf(t string) string {
	if t == "" {
		return ""
	}
	return " (" + t + ")"
}

func statusText(code int) string {
	if code == 0 {
		return "no answer"
	}
	return fmt.Sprint(code)
}

// transportOf names a request's transport when it was not a plain POST.
func transportOf(t string) string {
	if t == "" {
		return ""
	}
	return " (" + t + ")"
}
