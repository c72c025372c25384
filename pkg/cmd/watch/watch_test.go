package watch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/watch"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/tui"
)

func TestWatchAddr(t *testing.T) {
	dir := t.TempDir()
	cfg := cmdtest.WriteFile(t, dir, "proxy.yaml", "listen: 127.0.0.1:9911\n", 0o600)
	tests := []struct {
		name, flag, config, want string
	}{
		{"--addr as given", "http://127.0.0.1:9000", "", "http://127.0.0.1:9000"},
		{"--addr without scheme", "127.0.0.1:9000", "", "http://127.0.0.1:9000"},
		{"--addr with a trailing slash", "http://127.0.0.1:9000/", "", "http://127.0.0.1:9000"},
		{"the config's listen", "", cfg, "http://127.0.0.1:9911"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _ := cmdtest.IO(nil, false)
			got, err := watch.WatchAddr(&watch.WatchOptions{IO: ios, Addr: tt.flag, ConfigPath: tt.config})
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestWatchFlags(t *testing.T) {
	ios, _, _ := cmdtest.IO(nil, false)
	var got *watch.WatchOptions
	cmd := watch.NewCmdWatch(ios, func(_ context.Context, o *watch.WatchOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--addr", "http://127.0.0.1:1234", "--config", "x.yaml"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Addr != "http://127.0.0.1:1234" || got.ConfigPath != "x.yaml" {
		t.Errorf("options %+v", got)
	}
}

// observed passes every message to the screen and tells the test about the
// ones from the feed, so it waits on events rather than on time.
type observed struct {
	tea.Model
	seen chan tea.Msg
}

func (o observed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := o.Model.Update(msg)
	switch msg.(type) {
	case tui.DecisionMsg, tui.ConnMsg:
		o.seen <- msg
	}
	return observed{m, o.seen}, cmd
}

// waitMsg waits for the first feed message that ok accepts.
func waitMsg(t *testing.T, seen <-chan tea.Msg, what string, ok func(tea.Msg) bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case msg := <-seen:
			if ok(msg) {
				return
			}
		case <-timeout:
			t.Fatalf("the screen never got %s", what)
		}
	}
}

func isDecision(reason string) func(tea.Msg) bool {
	return func(msg tea.Msg) bool { d, ok := msg.(tui.DecisionMsg); return ok && d.Reason == reason }
}

func isConn(s tui.ConnState) func(tea.Msg) bool {
	return func(msg tea.Msg) bool { c, ok := msg.(tui.ConnMsg); return ok && c.State == s }
}

// TestWatchEndToEnd runs the watch program against a live demo server:
// decisions appear as requests are made, the screen says reconnecting
// while the server restarts, and picks up the new server by itself.
func TestWatchEndToEnd(t *testing.T) {
	url, stop := cmdtest.DemoServer(t, "127.0.0.1:0")
	seen := make(chan tea.Msg, 10000)
	tm := teatest.NewTestModel(t, observed{tui.New(tui.Options{Addr: url}), seen}, teatest.WithInitialTermSize(100, 30))
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() {
		tui.Feed{Addr: url, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}.Run(ctx, tm.Send)
		close(fed)
	}()
	defer func() {
		cancel()
		<-fed
	}()

	waitMsg(t, seen, "a live stream", isConn(tui.Live))
	cmdtest.Turn(t, url, "watch-one")
	cmdtest.Turn(t, url, "watch-one")
	waitMsg(t, seen, "the first turn", isDecision("new"))
	waitMsg(t, seen, "the second turn", isDecision("sticky"))

	// The server restarts on the same address.
	stop()
	waitMsg(t, seen, "reconnecting", isConn(tui.Reconnecting))
	url2, _ := cmdtest.DemoServer(t, strings.TrimPrefix(url, "http://"))
	waitMsg(t, seen, "the stream back", isConn(tui.Live))
	cmdtest.Turn(t, url2, "watch-two")
	waitMsg(t, seen, "a turn on the new server", isDecision("new"))

	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(30*time.Second)).(observed)
	screen := ansi.Strip(final.View().Content)
	for _, want := range []string{"● live", "demo-", "sticky", "new", "3 req", "cache hit"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
}

// TestWatchWithoutTerminal says what to use instead of the screen.
func TestWatchWithoutTerminal(t *testing.T) {
	code, _, stderr := cmdtest.RunWith(t, nil, "watch", "--addr", cmdtest.ClosedAddr(t))
	want := "proxy watch needs a terminal; use `proxy accounts list` or GET /_proxy/events"
	if code != cmdutil.ExitFailure || strings.TrimSpace(stderr) != "error: "+want {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}
