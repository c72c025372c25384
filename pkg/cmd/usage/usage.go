// Package usage is `proxy usage`: the usage ledger of a running proxy,
// grouped, priced and charted. A user key sees only its own lines: the
// server filters them.
package usage

import (
	"context"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/usagereport"
)

// Options are the inputs of `proxy usage`.
type Options struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	Addr       string
	Since      string
	By         []string
	JSON, CSV  bool
	// ChartWidth is the bars' room on a terminal; 0 is 50 cells.
	ChartWidth int
}

// NewCmdUsage returns `proxy usage`.
func NewCmdUsage(ios *cmdutil.IOStreams, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: ios}
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "What each client key, account and model used, and what it cost",
		Long: `Reads the usage ledger of the running proxy: requests and input, cached, output
and reasoning tokens per UTC day, client key, account and model, priced at
the price table (an API account's cost, a ChatGPT account's API-equivalent;
unpriced models show as unpriced, never as zero). On a terminal a chart of
bars a day follows the table, split by the first grouping that is not the
day. With a user key (PROXY_API_KEY) it shows that key's usage only.`,
		Example: `  proxy usage --since 7d
  proxy usage --since 2026-12-01 --by key,model
  proxy usage --by day --by account --csv > usage.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunUsage(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Since, "since", "7d", "the first day: a number of days back, today included (7d), or a date (2006-01-02, UTC)")
	f.StringSliceVar(&opts.By, "by", nil, "group by key, account, model and/or day (comma-separated or repeated; default key)")
	f.BoolVar(&opts.JSON, "json", false, "print JSON: one object a row, with its grouping fields")
	f.BoolVar(&opts.CSV, "csv", false, "print CSV with a header")
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file, for the listen address (default $PROXY_CONFIG, ./proxy.yaml, ...)")
	f.StringVar(&opts.Addr, "addr", "", "address of the running proxy (default: the config's listen)")
	return cmd
}

// RunUsage asks the server for the ledger since opts.Since and prints it.
func RunUsage(ctx context.Context, opts *Options) error {
	if opts.JSON && opts.CSV {
		return fmt.Errorf("--json and --csv are two formats: choose one")
	}
	by, err := usagereport.ParseBy(opts.By)
	if err != nil {
		return err
	}
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		if opts.Addr == "" {
			return err
		}
		cfg = nil // --addr says where the server is
	}
	var list admin.UsageList
	if err := cmdutil.NewLiveClient(opts.IO, opts.Addr, cfg).Do(ctx, "GET", "/_proxy/usage?since="+url.QueryEscape(opts.Since), &list); err != nil {
		return err
	}
	rows := usagereport.Group(list.Data, by)
	out := opts.IO.Out
	switch {
	case opts.JSON:
		return usagereport.WriteJSON(out, rows)
	case opts.CSV:
		return usagereport.WriteCSV(out, rows, by)
	}
	if len(rows) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no usage since %s\n", list.Since)
		return nil
	}
	if !cmdutil.IsTerminal(out) {
		// Piped: tab-separated under the same header, as every table.
		header, lines, note := usagereport.Cells(rows, by)
		t := cmdutil.NewTable(out, header...)
		for _, l := range lines {
			t.Add(l...)
		}
		if note != "" {
			fmt.Fprintln(opts.IO.ErrOut, note)
		}
		return t.Render()
	}
	if err := usagereport.WriteTable(out, rows, by); err != nil {
		return err
	}
	width := opts.ChartWidth
	if width <= 0 {
		width = 50
	}
	fmt.Fprintln(out)
	return usagereport.WriteChart(out, list.Data, usagereport.Days(list.Since, list.Today), usagereport.ChartSplit(by), width)
}
