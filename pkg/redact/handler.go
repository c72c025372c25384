package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// handler is a slog.Handler that masks secrets before the next handler
// formats a record.
type handler struct {
	next slog.Handler
	set  *Set
}

// NewHandler wraps next so every record's message and string attribute
// values (in groups too, and those added with WithAttrs) pass through set
// first. An error or other value is rendered to its text and masked when
// that text holds a secret; values without one are passed on untouched, so
// the JSON handler still encodes them as it would. Attributes given to
// WithAttrs are masked once, with the secrets the set holds at that time.
func NewHandler(next slog.Handler, set *Set) slog.Handler {
	return &handler{next: next, set: set}
}

// Enabled implements slog.Handler.
func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler. A record with nothing to hide, the
// common case, goes on as it came, without a copy.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	msg := h.set.String(r.Message)
	changed := msg != r.Message
	if !changed {
		r.Attrs(func(a slog.Attr) bool {
			_, changed = h.attr(a)
			return !changed
		})
	}
	if !changed {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		m, _ := h.attr(a)
		out.AddAttrs(m)
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i], _ = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(masked), set: h.set}
}

// WithGroup implements slog.Handler.
func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), set: h.set}
}

// attr masks one attribute's value and reports whether that changed it.
func (h *handler) attr(a slog.Attr) (slog.Attr, bool) {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); s != "" {
			if m := h.set.String(s); m != s {
				return slog.String(a.Key, m), true
			}
		}
	case slog.KindGroup:
		group := v.Group()
		var masked []slog.Attr
		for i, g := range group {
			m, changed := h.attr(g)
			if changed && masked == nil {
				masked = append(make([]slog.Attr, 0, len(group)), group[:i]...)
			}
			if masked != nil {
				masked = append(masked, m)
			}
		}
		if masked != nil {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}, true
		}
	case slog.KindAny:
		if m, changed := h.any(v); changed {
			return slog.Attr{Key: a.Key, Value: m}, true
		}
	}
	return slog.Attr{Key: a.Key, Value: v}, false
}

// any masks a value of kind Any. An error becomes its masked message (the
// handlers print errors by their message anyway); another value is
// rendered as the text handler would and replaced by the masked text only
// when that text holds a secret.
func (h *handler) any(v slog.Value) (slog.Value, bool) {
	switch x := v.Any().(type) {
	case nil:
		return v, false
	case error:
		msg := x.Error()
		if m := h.set.String(msg); m != msg {
			return slog.StringValue(m), true
		}
		return v, false
	case []byte:
		// Bytes returns x itself when nothing matched.
		if m := h.set.Bytes(x); len(x) > 0 && (len(m) != len(x) || &m[0] != &x[0]) {
			return slog.StringValue(string(m)), true
		}
		return v, false
	default:
		s := fmt.Sprintf("%+v", x)
		if m := h.set.String(s); m != s {
			return slog.StringValue(m), true
		}
		return v, false
	}
}
