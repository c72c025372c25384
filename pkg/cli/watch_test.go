package cli

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/tui"
)

func TestWatchAddr(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "proxy.yaml", "listen: 127.0.0.1:9911\n", 0o600)
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
			ios, _, _ := testIO(nil, false)
			got, err := watchAddr(&WatchOptions{IO: ios, Addr: tt.flag, ConfigPath: tt.config})
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestWatchFlags(t *testing.T) {
	ios, _, _ := testIO(nil, false)
	var got *WatchOptions
	cmd := NewCmdWatch(ios, func(_ context.Context, o *WatchOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--addr", "http://127.0.0.1:1234", "--config", "x.yaml"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Addr != "http://127.0.0.1:1234" || got.ConfigPath != "x.yaml" {
		t.Errorf("options %+v", got)
	}
}

// demoServer runs `proxy serve --demo` on addr until stop is called.
func demoServer(t *testing.T, addr string) (url string, stop func()) {
	t.Helper()
	cfg := writeFile(t, t.TempDir(), "proxy.yaml", "listen: 127.0.0.1:0\n", 0o600)
	ios, _, _ := testIO(nil, false)
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunServe(ctx, &ServeOptions{IO: ios, ConfigPath: cfg, Listen: addr, Demo: true,
			LogLevel: "error", LogFormat: "text", Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		stopped := false
		stop = func() {
			if !stopped {
				stopped = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}
		}
		t.Cleanup(stop)
		return "http://" + a, stop
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	return "", nil
}

func turn(t *testing.T, url, session string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
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
	url, stop := demoServer(t, "127.0.0.1:0")
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
	turn(t, url, "watch-one")
	turn(t, url, "watch-one")
	waitMsg(t, seen, "the first turn", isDecision("new"))
	waitMsg(t, seen, "the second turn", isDecision("sticky"))

	// The server restarts on the same address.
	stop()
	waitMsg(t, seen, "reconnecting", isConn(tui.Reconnecting))
	url2, _ := demoServer(t, strings.TrimPrefix(url, "http://"))
	waitMsg(t, seen, "the stream back", isConn(tui.Live))
	turn(t, url2, "watch-two")
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

func TestTUILogPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG_STATE_HOME", map[string]string{"XDG_STATE_HOME": "/state"}, filepath.Join("/state", "proxy", "serve.log")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cmdutil.TUILogPath(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
