package routesim_test

import (
	"context"
	"errors"
	"testing"

	"github.com/proxy-dev/proxy/pkg/routesim"
)

// The simulation CI runs: two days, pools of 2 and 3, seeded. It drives
// the real scheduler, so it fails if a strategy ever routes to a limited
// account; and it is deterministic.
func TestSimulateSmall(t *testing.T) {
	one, err := routesim.Simulate(t.Context(), []int{2, 3}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	// One row again, from scratch: a seed gives the same result.
	again, err := routesim.Run(t.Context(), routesim.NewWorkload(3, 2, 1), 3, routesim.Strategies[2], 1)
	if err != nil {
		t.Fatal(err)
	}
	if again != one[5] {
		t.Errorf("the same seed gave two results:\n%+v\n%+v", one[5], again)
	}
	if len(one) != 2*len(routesim.Strategies) {
		t.Fatalf("%d rows, want %d", len(one), 2*len(routesim.Strategies))
	}
	for i, r := range one {
		t.Logf("%v", routesim.Cells(one)[i])
		if r.Served <= 0 || r.Served+r.Lost != r.Demand {
			t.Errorf("%d accounts, %s: served %d + lost %d, want the demand %d", r.Accounts, r.Strategy, r.Served, r.Lost, r.Demand)
		}
		if r.BeforeAllLimited > r.Served {
			t.Errorf("%d accounts, %s: %d served before all were limited, more than the %d served", r.Accounts, r.Strategy, r.BeforeAllLimited, r.Served)
		}
	}
}

// An interrupt stops a run with the context's error, not a result.
func TestSimulateStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := routesim.Simulate(ctx, []int{2}, 1, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled simulation returned %v, want context.Canceled", err)
	}
}
