package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/session"
)

// NewCmdSessions returns `proxy sessions` and its subcommands.
func NewCmdSessions(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List or clear the running proxy's sticky sessions",
		Long: `Each conversation is bound to the account it started on, so the upstream's
prompt cache keeps working. These commands show and drop those bindings
through the running proxy (whatever its store, embedded or Redis).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdSessionsList(ios, nil), NewCmdSessionsClear(ios, nil))
	return cmd
}

// SessionsOptions are the inputs of `proxy sessions list` and `clear`.
type SessionsOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	Addr       string
	JSON       bool
	Key        string // clear: the session key prefix
	All        bool   // clear: every session
	// Now is the clock for ages; nil is time.Now.
	Now func() time.Time
}

func sessionsFlags(cmd *cobra.Command, opts *SessionsOptions) {
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file, for the listen address (default $PROXY_CONFIG, ./proxy.yaml, ...)")
	f.StringVar(&opts.Addr, "addr", "", "address of the running proxy (default: the config's listen)")
}

// NewCmdSessionsList returns `proxy sessions list`.
func NewCmdSessionsList(ios *cmdutil.IOStreams, runF func(context.Context, *SessionsOptions) error) *cobra.Command {
	opts := &SessionsOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the live session bindings, most recently used first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsList(cmd.Context(), opts)
		},
	}
	sessionsFlags(cmd, opts)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

// NewCmdSessionsClear returns `proxy sessions clear`.
func NewCmdSessionsClear(ios *cmdutil.IOStreams, runF func(context.Context, *SessionsOptions) error) *cobra.Command {
	opts := &SessionsOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "clear KEY | ID | --all",
		Short: "Drop a session binding, so its conversation picks an account afresh",
		Long: `Drop the binding whose session key starts with KEY (as ` + "`proxy sessions list`" + `
shows it; at least four characters, and it must match one session only), or
whose conversation id is KEY (the session-id header the client sends, such
as Codex's; the proxy keeps only its hash), or every binding with --all.
The conversation's next turn picks an account by weight again, and loses
the old account's prompt cache.`,
		Example: `  proxy sessions clear 3f2a9c
  proxy sessions clear 019a4c2e-7d1b-7c33-9e0f-5b8a6d2c1e47
  proxy sessions clear --all`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Key = args[0]
				// An empty variable in a script: it meant one session,
				// never all of them, whatever else the line says.
				if strings.Trim(opts.Key, "/ \t") == "" {
					return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf(
						"the session KEY given is empty (%q; an unset variable?): give a key prefix or a conversation id, or --all alone to clear every session", opts.Key)}
				}
			}
			if (opts.Key == "") == !opts.All {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("give a session KEY (prefix) or --all")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsClear(cmd.Context(), opts)
		},
	}
	sessionsFlags(cmd, opts)
	cmd.Flags().BoolVar(&opts.All, "all", false, "drop every session binding")
	return cmd
}

func sessionsClient(opts *SessionsOptions) (*cmdutil.LiveClient, error) {
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		if opts.Addr == "" {
			return nil, err
		}
		// --addr says where the server is; a config that does not load
		// need not stop us from asking it.
		cfg = nil
	}
	return cmdutil.NewLiveClient(opts.IO, opts.Addr, cfg), nil
}

func runSessionsList(ctx context.Context, opts *SessionsOptions) error {
	now, _ := cmdutil.ClockOf(opts.Now, nil)
	c, err := sessionsClient(opts)
	if err != nil {
		return err
	}
	var list admin.SessionList
	if err := c.Do(ctx, "GET", "/_proxy/sessions", &list); err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, list.Data)
	}
	// The client column says something only when the proxy has client
	// keys; without them it would be empty on every row.
	clients := slices.ContainsFunc(list.Data, func(s admin.SessionInfo) bool { return s.Client != "" })
	header := []string{"KEY", "ACCOUNT", "TYPE", "MODEL", "CLIENT", "AGE", "LAST USED", "TTL LEFT"}
	if !clients {
		header = slices.Delete(header, 4, 5)
	}
	t := cmdutil.NewTable(opts.IO.Out, header...)
	for _, s := range list.Data {
		ttl := ""
		if s.TTLLeftSeconds != nil {
			ttl = age(time.Duration(*s.TTLLeftSeconds) * time.Second)
		}
		row := []string{s.Key, s.Account, s.Type, s.Model, s.Client, age(now().Sub(s.Created)), age(now().Sub(s.LastUsed)) + " ago", ttl}
		if !clients {
			row = slices.Delete(row, 4, 5)
		}
		t.Add(row...)
	}
	if len(list.Data) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "no sessions bound")
	}
	return t.Render()
}

func runSessionsClear(ctx context.Context, opts *SessionsOptions) error {
	c, err := sessionsClient(opts)
	if err != nil {
		return err
	}
	var res admin.SessionsDeleted
	if opts.All {
		if err := c.Do(ctx, "DELETE", "/_proxy/sessions", &res); err != nil {
			return err
		}
	} else if err := clearOne(ctx, c, opts.Key, &res); err != nil {
		return err
	}
	for _, s := range res.Deleted {
		fmt.Fprintf(opts.IO.Out, "cleared %s (was on %s)\n", s.Key, s.Account)
	}
	fmt.Fprintf(opts.IO.ErrOut, "%d session(s) cleared; their next turn picks an account afresh\n", len(res.Deleted))
	return nil
}

// clearOne drops the session KEY names: a key prefix as `sessions list`
// shows it, or the conversation id the client sent (Codex's session-id),
// which the proxy only knows hashed. A hex prefix is tried as given first;
// the id's hash after, when no key starts with it.
func clearOne(ctx context.Context, c *cmdutil.LiveClient, key string, res *admin.SessionsDeleted) error {
	tries := []string{session.HashID(key)}
	if isHex(key) {
		tries = []string{strings.ToLower(key), session.HashID(key)}
	}
	var err error
	for _, k := range tries {
		err = c.Do(ctx, "DELETE", "/_proxy/sessions/"+url.PathEscape(k), res)
		var se *cmdutil.ServerError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound || !se.Proxy {
			break
		}
		err = &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf(
			"no session matches %q, as a key prefix or as a conversation id; `proxy sessions list` shows the keys", key)}
	}
	return err
}

// isHex reports whether s could be a session key prefix.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range strings.ToLower(s) {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// age shows a duration the way people say it: 45s, 12m, 3h5m, 2d4h.
func age(d time.Duration) string {
	d = max(0, d).Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
