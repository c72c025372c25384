package event

import (
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/bound"
)

// TestBoundedCutsEveryString fills each string of a decision with 1 MiB and
// checks what is kept is at its limit, and that the attempts the caller
// shares are left as they were.
func TestBoundedCutsEveryString(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	attempts := []Attempt{{Account: "a", Error: huge}}
	d := Decision{
		RequestID: huge, Client: huge, Path: huge, Transport: huge, Session: huge, Source: huge,
		Model: huge, Account: huge, Type: huge, Target: huge, Reason: huge, Detail: huge,
		Error: huge, Items: huge, Attempts: attempts,
	}
	got := d.Bounded()
	fields := map[string]struct {
		v   string
		max int
	}{
		"request_id": {got.RequestID, bound.Text}, "client": {got.Client, bound.Text}, "path": {got.Path, bound.Text},
		"transport": {got.Transport, bound.Text}, "session": {got.Session, bound.Text}, "source": {got.Source, bound.Text},
		"model": {got.Model, bound.Model}, "account": {got.Account, bound.Text}, "type": {got.Type, bound.Text},
		"target": {got.Target, bound.Text}, "reason": {got.Reason, bound.Text}, "detail": {got.Detail, bound.Text},
		"error": {got.Error, bound.Text}, "items": {got.Items, bound.Text}, "attempt error": {got.Attempts[0].Error, bound.Text},
	}
	for name, f := range fields {
		if len(f.v) > f.max || !strings.HasSuffix(f.v, "…") {
			t.Errorf("%s: %d bytes, want at most %d ending …", name, len(f.v), f.max)
		}
	}
	if attempts[0].Error != huge {
		t.Error("the caller's attempts were changed in place")
	}
}
