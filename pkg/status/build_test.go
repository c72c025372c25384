package status_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/store"
)

// TestBuildNamesTheProcess checks that the document carries the server's
// pid (for reload hints) and whether it is a demo, and leaves both out
// when unknown or false.
func TestBuildNamesTheProcess(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{KeyPrefix: "status-test:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := func() time.Time { return time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		pid       int
		demo      bool
		want, not []string
	}{
		{"a demo", 4242, true, []string{`"pid":4242`, `"demo":true`}, nil},
		{"unknown pid, not a demo", 0, false, nil, []string{`"pid"`, `"demo"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := status.Build(ctx, status.Sources{Now: now, Started: now(), Health: health.New(st), Store: st, PID: tt.pid, Demo: tt.demo})
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", b, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(string(b), w) {
					t.Errorf("%s has %s", b, w)
				}
			}
		})
	}
}
