// Package routesim replays a workload against simulated accounts on a
// simulated clock, through the real scheduler, to compare how the routing
// strategies (weighted, headroom, planner) spend a pool's rate limits.
//
// The model:
//
//   - N accounts of one plan and weight 1. Each has a five-hour window of
//     FiveHourTokens and a weekly window of WeekTokens = WeekPerFiveHours ×
//     FiveHourTokens, filled by the tokens it serves. Windows reset on
//     fixed schedules, each account at its own seeded phase, so the pool's
//     reset times are spread out. The week is ten five-hour windows' worth
//     (WeekPerFiveHours): a heavy user working two full five-hour windows a
//     working day meets the weekly limit by the end of the working week,
//     so both windows bind; with much
//     less (the week three windows' worth) only the week would ever bind,
//     with much more only the five hours. The pool runs three weeks of the
//     same workload before it is measured (WarmUp), so it is measured in
//     its steady state rather than filling from empty.
//   - The workload (workload.go): conversations arrive as a seeded Poisson
//     process with a day and night pattern (quiet nights, a peak in the
//     afternoon, UTC), each of several turns minutes apart, each turn's
//     tokens drawn from a lognormal distribution (heavy-tailed, capped).
//     Demand is Demand (1.1) times the pool's weekly capacity, scaled
//     with N, so the pool cannot serve it all and routing matters.
//   - A conversation stays on its account (the scheduler binds it, in
//     memory here); a turn whose account is limited is served where the
//     scheduler sends it (its failover or move), and a turn no account can
//     serve is lost demand. An account is limited, in cooldown for the
//     scheduler, from the turn that fills a window until that window
//     resets. A turn takes what room its account has left and the rest of
//     it is lost, as the upstream cuts an answer off at the limit, so no
//     strategy serves more than the windows hold.
//     The scheduler sees an account's windows as the proxy does: after each
//     turn that account serves, through a real health.Tracker.
//
// Everything is deterministic for a seed.
package routesim
