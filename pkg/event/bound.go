package event

import "github.com/proxy-dev/proxy/pkg/bound"

// Bounded returns d with every string a client or an upstream could have
// made long cut to its limit (see package bound), so a kept decision (the
// events backlog, the TUI's rows) and its log line stay small whatever the
// request or the answer held. The model is cut to bound.Model, the rest to
// bound.Text. Attempts are copied before any is changed: the slice may be
// shared with the bus's other readers.
func (d Decision) Bounded() Decision {
	d.Model = bound.Cut(d.Model, bound.Model)
	d.UpstreamModel = bound.Cut(d.UpstreamModel, bound.Model)
	// The proxy makes these itself; they are cut too for a reader (the TUI)
	// that gets decisions from another process.
	for _, s := range []*string{&d.RequestID, &d.Client, &d.Transport, &d.Session, &d.Source, &d.Account, &d.Type, &d.Door, &d.API} {
		*s = bound.Cut(*s, bound.Text)
	}
	d.Path = bound.Cut(d.Path, bound.Text)
	d.Target = bound.Cut(d.Target, bound.Text)
	d.Reason = bound.Cut(d.Reason, bound.Text)
	d.Detail = bound.Cut(d.Detail, bound.Text)
	d.Error = bound.Cut(d.Error, bound.Text)
	d.Items = bound.Cut(d.Items, bound.Text)
	d.Translated = bound.Cut(d.Translated, bound.Text)
	copied := false
	for i, a := range d.Attempts {
		if e := bound.Cut(a.Error, bound.Text); e != a.Error {
			if !copied {
				d.Attempts, copied = append([]Attempt(nil), d.Attempts...), true
			}
			d.Attempts[i].Error = e
		}
	}
	return d
}
