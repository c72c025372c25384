package admin

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
)

const wait = 5 * time.Second

func newAdmin(t *testing.T, backlog int) (*Admin, *event.Bus, *httptest.Server) {
	t.Helper()
	bus := event.NewBus()
	a := New(Options{Bus: bus, Backlog: backlog})
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		a.Close()
		srv.Close()
	})
	return a, bus, srv
}

// publishAndSettle publishes ids and waits until the admin has taken them
// in, by watching its own live bus through a subscription.
func publishAndSettle(t *testing.T, a *Admin, bus *event.Bus, ids ...string) {
	t.Helper()
	probe := a.live.Subscribe(len(ids))
	defer probe.Cancel()
	for _, id := range ids {
		bus.Publish(event.Decision{RequestID: id})
	}
	for range ids {
		select {
		case <-probe.C:
		case <-time.After(wait):
			t.Fatal("the admin did not take the decisions in")
		}
	}
}

// readIDs reads event ids from an open stream until n arrived.
func readIDs(t *testing.T, sc *bufio.Scanner, n int) []string {
	t.Helper()
	var ids []string
	for len(ids) < n && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestEventsBacklogThenLive(t *testing.T) {
	tests := []struct {
		name      string
		backlog   int
		published int
		want      string // ids of the backlog
	}{
		{"none yet", 3, 0, ""},
		{"fewer than the backlog", 3, 2, "d0 d1"},
		{"the last ones when more", 3, 5, "d2 d3 d4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, bus, srv := newAdmin(t, tt.backlog)
			var ids []string
			for i := range tt.published {
				ids = append(ids, fmt.Sprintf("d%d", i))
			}
			publishAndSettle(t, a, bus, ids...)

			resp, err := http.Get(srv.URL + "/_proxy/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			var backlog []string
			for sc.Scan() && sc.Text() != ": live" {
				if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
					backlog = append(backlog, id)
				}
			}
			if got := strings.Join(backlog, " "); got != tt.want {
				t.Errorf("backlog %q, want %q", got, tt.want)
			}
			bus.Publish(event.Decision{RequestID: "live-1"})
			if got := readIDs(t, sc, 1); len(got) != 1 || got[0] != "live-1" {
				t.Errorf("live %v", got)
			}
		})
	}
}

func TestSlowClientNeverBlocksTheBus(t *testing.T) {
	a, bus, srv := newAdmin(t, 10)
	resp, err := http.Get(srv.URL + "/_proxy/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // never read: the slowest client there is

	// Far more than the client's buffer and its socket hold (32 MiB), yet
	// less than the admin's own buffer so the admin itself drops nothing:
	// publishing must still return at once, and the client's loss must be
	// counted.
	n := busBuffer / 2
	done := make(chan struct{})
	go func() {
		for i := range n {
			bus.Publish(event.Decision{RequestID: fmt.Sprint(i), Detail: strings.Repeat("x", 16<<10)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("publishing blocked on a slow client")
	}
	publishAndSettle(t, a, bus, "last")
	if a.Dropped() == 0 {
		t.Error("no drop counted")
	}
}

func TestCloseEndsStreams(t *testing.T) {
	a, _, srv := newAdmin(t, 10)
	resp, err := http.Get(srv.URL + "/_proxy/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
		close(ended)
	}()
	a.Close()
	a.Close() // idempotent
	select {
	case <-ended:
	case <-time.After(wait):
		t.Fatal("the stream outlived Close")
	}
}

func TestRing(t *testing.T) {
	tests := []struct {
		name string
		size int
		add  int
		want string
	}{
		{"empty", 3, 0, ""},
		{"partial", 3, 2, "0 1"},
		{"exactly full", 3, 3, "0 1 2"},
		{"wrapped", 3, 7, "4 5 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing(tt.size)
			for i := range tt.add {
				r.add(event.Decision{RequestID: fmt.Sprint(i)})
			}
			var ids []string
			for _, d := range r.all() {
				ids = append(ids, d.RequestID)
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
