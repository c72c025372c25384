package sessions

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

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
