// Package simulate is `proxy routing simulate`: a seeded workload replayed
// against simulated accounts, through the real scheduler, once per
// headroom.strategy, to show what each spends of the pool's windows.
package simulate

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/routesim"
)

// maxAccounts and maxDays bound a run: the simulation holds every turn of
// the workload in memory, which grows with both.
const (
	maxAccounts = 64
	maxDays     = 28
)

// Options are the inputs of `proxy routing simulate`.
type Options struct {
	IO       *cmdutil.IOStreams
	Accounts []int
	Days     float64
	Seed     uint64
	JSON     bool
}

// NewCmdSimulate returns `proxy routing simulate`.
func NewCmdSimulate(ios *cmdutil.IOStreams, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: ios}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Compare the routing strategies on a simulated pool and workload",
		Long: fmt.Sprintf(`Replays a seeded workload against simulated ChatGPT accounts on a simulated
clock, through the proxy's own scheduler, once for each headroom.strategy
(weighted, headroom, planner), and reports what each served.

Each account has a five-hour window of %dM tokens and a weekly window of
%d of them, reset on schedules at seeded phases. Conversations arrive over
the days with a day and night pattern, several turns each, with lognormal
token sizes; demand is %.1f times the pool's weekly capacity, so the pool
cannot serve it all. The pool runs three weeks before it is measured.

Columns: what was served before the first moment every account was limited
at once, and when; everything served (and its share of the demand); the
demand no account could serve; the share of the weekly and five-hour
capacity that reset unused; and the conversations moved off a limited
account (each loses its prompt cache). Nothing is sent anywhere. The
defaults take a few seconds; the largest run (64 accounts, 28 days) about a
minute and 220 MB. Ctrl-C stops it.`,
			routesim.FiveHourTokens/1_000_000, routesim.WeekPerFiveHours, routesim.Demand),
		Example: `  proxy routing simulate
  proxy routing simulate --accounts 3 --days 14 --seed 7 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunSimulate(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&opts.Accounts, "accounts", []int{2, 3, 8}, fmt.Sprintf("pool sizes to simulate, comma-separated (1 to %d)", maxAccounts))
	f.Float64Var(&opts.Days, "days", 7, fmt.Sprintf("days measured, after the warm-up (more than 0, at most %d)", maxDays))
	f.Uint64Var(&opts.Seed, "seed", 1, "the seed of the workload, the reset phases and the scheduler's draws")
	f.BoolVar(&opts.JSON, "json", false, "print JSON: one object a pool size and strategy")
	return cmd
}

// RunSimulate runs the simulation opts asks for and prints its report.
func RunSimulate(ctx context.Context, opts *Options) error {
	if len(opts.Accounts) == 0 {
		return fmt.Errorf("--accounts: give at least one pool size")
	}
	for _, n := range opts.Accounts {
		if n < 1 || n > maxAccounts {
			return fmt.Errorf("--accounts %d: a pool size is 1 to %d", n, maxAccounts)
		}
	}
	if !(opts.Days > 0 && opts.Days <= maxDays) {
		return fmt.Errorf("--days %v: give more than 0 and at most %d", opts.Days, maxDays)
	}
	rs, err := routesim.Simulate(ctx, opts.Accounts, opts.Days, opts.Seed)
	if err != nil {
		return fmt.Errorf("simulating: %w", err)
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, rs)
	}
	t := cmdutil.NewTable(opts.IO.Out, routesim.Header...)
	for _, row := range routesim.Cells(rs) {
		t.Add(row...)
	}
	return t.Render()
}
