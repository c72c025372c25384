package tui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/usagereport"
)

// Feed connects the screen to a running proxy: it follows
// /_proxy/events, polls /_proxy/status, and reconnects by itself with
// backoff when the server goes away (a restart, a crash), telling the
// screen what it is doing.
type Feed struct {
	// Addr is the server's base URL, like http://127.0.0.1:8787.
	Addr string
	// Key is the client key sent as a bearer token; empty sends none.
	Key string
	// Client makes the requests; http.DefaultClient when nil. It must not
	// have a timeout: the event stream lasts.
	Client *http.Client
	// StatusEvery is how often the status is polled; 2 s when 0.
	StatusEvery time.Duration
	// UsageEvery is how often the last seven days of usage are polled;
	// 30 s when 0 (the ledger is written a moment after each request).
	UsageEvery time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnects; 250 ms
	// and 5 s when 0.
	MinBackoff, MaxBackoff time.Duration
}

// maxEventBytes bounds one SSE line: a decision is a few hundred bytes.
const maxEventBytes = 1 << 20

// Run sends the screen's messages to send until ctx ends.
func (f Feed) Run(ctx context.Context, send func(tea.Msg)) {
	if f.Client == nil {
		f.Client = http.DefaultClient
	}
	if f.StatusEvery <= 0 {
		f.StatusEvery = 2 * time.Second
	}
	if f.UsageEvery <= 0 {
		f.UsageEvery = 30 * time.Second
	}
	if f.MinBackoff <= 0 {
		f.MinBackoff = 250 * time.Millisecond
	}
	if f.MaxBackoff <= 0 {
		f.MaxBackoff = 5 * time.Second
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		poll(ctx, f.StatusEvery, func() {
			doc, err := f.status(ctx)
			if ctx.Err() == nil {
				send(StatusMsg{Doc: doc, Err: err})
			}
		})
	})
	wg.Go(func() {
		poll(ctx, f.UsageEvery, func() {
			msg := f.usage(ctx)
			if ctx.Err() == nil {
				send(msg)
			}
		})
	})
	f.followEvents(ctx, send)
	wg.Wait()
}

// followEvents keeps an event stream open, reconnecting with doubling
// waits; a stream that got going resets the wait.
func (f Feed) followEvents(ctx context.Context, send func(tea.Msg)) {
	wait := f.MinBackoff
	for ctx.Err() == nil {
		send(ConnMsg{State: Connecting})
		live, err := f.stream(ctx, send)
		if ctx.Err() != nil {
			return
		}
		if live {
			wait = f.MinBackoff
		}
		send(ConnMsg{State: Reconnecting, Err: f.problem(err), Retry: wait, At: time.Now()})
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, f.MaxBackoff)
	}
}

// stream reads one connection's events; live reports whether it got as
// far as a 200.
func (f Feed) stream(ctx context.Context, send func(tea.Msg)) (live bool, err error) {
	req, err := f.request(ctx, "/_proxy/events")
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := f.Client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, httpError(resp)
	}
	send(ConnMsg{State: Live})
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var name string
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if name == "decision" && data.Len() > 0 {
				var d event.Decision
				if json.Unmarshal(data.Bytes(), &d) == nil {
					send(DecisionMsg(d))
				}
			}
			name = ""
			data.Reset()
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	return true, errors.New("the server closed the event stream")
}

// poll runs fetch now and every every, until ctx ends.
func poll(ctx context.Context, every time.Duration, fetch func()) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		fetch()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// usage fetches the last seven days of the ledger (a user key's own).
func (f Feed) usage(ctx context.Context) UsageMsg {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := f.request(ctx, "/_proxy/usage?since=7d")
	if err != nil {
		return UsageMsg{Err: err}
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return UsageMsg{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return UsageMsg{Err: httpError(resp)}
	}
	var list struct {
		Since string             `json:"since"`
		Data  []usagereport.Line `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxUsageBytes)).Decode(&list); err != nil {
		return UsageMsg{Err: fmt.Errorf("reading usage: %w", err)}
	}
	return UsageMsg{Since: list.Since, Lines: list.Data}
}

// maxUsageBytes bounds the usage read: a week of a large team's ledger is
// well under it.
const maxUsageBytes = 8 << 20

func (f Feed) status(ctx context.Context) (*status.Document, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := f.request(ctx, "/_proxy/status")
	if err != nil {
		return nil, err
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpError(resp)
	}
	var doc status.Document
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	return &doc, nil
}

func (f Feed) request(ctx context.Context, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(f.Addr, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	if f.Key != "" {
		req.Header.Set("Authorization", "Bearer "+f.Key)
	}
	return req, nil
}

// httpError says why the server refused, with its message when short.
func httpError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(b))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	if resp.StatusCode == http.StatusUnauthorized {
		msg += " (set $PROXY_API_KEY to one of the server's client keys)"
	}
	return fmt.Errorf("%s: %s", resp.Status, msg)
}

// problem puts why the event stream failed in words, with what to check:
// Go's own text ("Get \"http://...\": dial tcp ...: connect: connection
// refused") buries the cause at its end.
func (f Feed) problem(err error) string {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused at " + hostOf(f.Addr) + ": is `proxy serve` running?"
	case errors.As(err, &dnsErr):
		return "cannot resolve " + dnsErr.Name + ": check --addr"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer from " + hostOf(f.Addr) + ": is it a proxy, and is it up?"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// hostOf is the host:port of a base URL, for messages.
func hostOf(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		return u.Host
	}
	return addr
}
