package sessions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/session"
)

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
