package routesim

import (
	"context"
	"fmt"
	"strconv"
)

// Simulate runs every strategy on one workload per pool size in pools,
// over days, from seed: the rows of the report, pool by pool. It stops
// with ctx's error when ctx ends (an interrupt).
func Simulate(ctx context.Context, pools []int, days float64, seed uint64) ([]Result, error) {
	var out []Result
	for _, n := range pools {
		if n < 1 {
			return nil, fmt.Errorf("a pool needs at least one account, got %d", n)
		}
		w := NewWorkload(n, days, seed)
		for _, st := range Strategies {
			r, err := Run(ctx, w, n, st, seed)
			if err != nil {
				return nil, fmt.Errorf("%d accounts, %s: %w", n, st, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// Header is the report's column names.
var Header = []string{"ACCOUNTS", "STRATEGY", "SERVED BEFORE ALL LIMITED", "ALL LIMITED AT", "SERVED", "LOST", "WEEK UNUSED AT RESET", "5H UNUSED AT RESET", "MOVED"}

// Cells are the report's rows: tokens in millions, with the served share
// of the demand; times as the simulated weekday and hour (the measure
// starts on a Monday).
func Cells(rs []Result) [][]string {
	out := make([][]string, len(rs))
	for i, r := range rs {
		at := "never"
		if !r.AllLimitedAt.IsZero() {
			at = r.AllLimitedAt.Format("Mon 15:04")
		}
		weekUnused := "-"
		if r.WeekResets > 0 {
			weekUnused = pct(r.WeekUnused)
		}
		out[i] = []string{strconv.Itoa(r.Accounts), string(r.Strategy), millions(r.BeforeAllLimited), at,
			fmt.Sprintf("%s (%s)", millions(r.Served), pct(float64(r.Served)/float64(max(r.Demand, 1)))),
			millions(r.Lost), weekUnused, pct(r.FiveHourUnused), strconv.Itoa(r.Moved)}
	}
	return out
}

func millions(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M" }

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }
