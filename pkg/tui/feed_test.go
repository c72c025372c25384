package tui

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// TestFeedSaysWhyItReconnects runs the feed against an address nothing
// listens on: the screen hears the cause in words, with what to check,
// and a wait to count down.
func TestFeedSaysWhyItReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs := make(chan tea.Msg, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Feed{Addr: "http://" + addr, MinBackoff: time.Hour}.Run(ctx, func(m tea.Msg) { msgs <- m })
	}()
	defer func() { cancel(); <-done }()
	for m := range msgs {
		c, ok := m.(ConnMsg)
		if !ok || c.State != Reconnecting {
			continue
		}
		want := "connection refused at " + addr + ": is `proxy serve` running?"
		if c.Err != want || c.Retry != time.Hour || c.At.IsZero() {
			t.Errorf("got %+v, want Err %q, Retry 1h and a start time", c, want)
		}
		if strings.Contains(c.Err, "dial tcp") {
			t.Errorf("Err %q keeps Go's wording", c.Err)
		}
		return
	}
}
