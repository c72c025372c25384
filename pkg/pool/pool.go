// Package pool owns the upstream accounts for as long as the process runs:
// the accounts themselves, the scheduler that chooses among them, their
// health and concurrency slots, the token refresher and the usage writer.
//
// The request path only leases an account, reports how the attempt went and
// adds its usage. Everything those calls set off that must outlive the
// request (a cooldown written to the store, a binding, a token refresh,
// usage counters) runs on the pool's own context with its own timeout, so a
// client that hangs up can never lose a rotated login or a cooldown. Close
// ends it all in order, after the HTTP server has drained.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/store"
)

// ErrBusy means the chosen account has no free concurrency slot: the
// caller tries another account.
var ErrBusy = errors.New("account busy: max_concurrency reached")

// effectTimeout bounds one side effect run on the pool's context (a
// cooldown write, a selection's store round trips): long enough for a
// healthy Redis, short enough that a dead one holds nothing up for long.
const effectTimeout = 3 * time.Second

// Options is what a Pool is built from.
type Options struct {
	Accounts  []*account.Account
	Scheduler *scheduler.Scheduler
	Health    *health.Tracker
	Refresher *account.Refresher // nil: tokens are never refreshed
	// Usage receives the per-account token counters and the usage ledger;
	// nil: not counted.
	Usage UsageRecorder
	// LedgerRetention is how long a day of the ledger is kept; 0 is
	// store.DefaultLedgerRetention.
	LedgerRetention time.Duration
	// Prices prices what each client key's requests served, for its
	// usd_per_month limit; nil counts only tokens.
	Prices Pricer
	Logger *slog.Logger
}

// Pool is the lifetime owner of the accounts. It is safe for concurrent use.
type Pool struct {
	accounts  *account.Pool
	sched     *scheduler.Scheduler
	health    *health.Tracker
	refresher *account.Refresher
	usage     *usageWriter // nil when usage is not recorded
	log       *slog.Logger

	ctx    context.Context // the process's lifetime; cancelled by Close
	cancel context.CancelFunc
	tasks  sync.WaitGroup // background loops started by New

	closeOnce sync.Once
}

// New returns a pool living until Close (or until ctx ends, whichever is
// first), and starts its background work: the health tracker's
// subscription to pushed cooldowns (in place before New returns) and its
// periodic sync with the store, and the usage writer. ctx must not be a
// request's.
func New(ctx context.Context, accounts *account.Pool, o Options) *Pool {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Pool{
		accounts:  accounts,
		sched:     o.Scheduler,
		health:    o.Health,
		refresher: o.Refresher,
		log:       o.Logger,
		ctx:       pctx,
		cancel:    cancel,
	}
	if o.Usage != nil {
		p.usage = newUsageWriter(o.Usage, o.LedgerRetention, o.Prices, o.Logger)
	}
	if p.health != nil {
		// Subscribed before New returns, so no change pushed after the
		// proxy starts serving is missed.
		p.health.Watch(pctx)
		p.tasks.Add(1)
		go func() {
			defer p.tasks.Done()
			p.health.Run(pctx)
		}()
	}
	return p
}

// Accounts is the running set of accounts (it changes on reload).
func (p *Pool) Accounts() *account.Pool { return p.accounts }

// Health is the pool's health tracker, for status and reloads.
func (p *Pool) Health() *health.Tracker { return p.health }

// Lease is an account chosen for one attempt, holding one of its
// concurrency slots until Release.
type Lease struct {
	Decision scheduler.Decision
	release  func()
	once     sync.Once
}

// NewLease returns a lease of d's account whose slot release frees; pools
// other than Pool (test doubles) build leases with it.
func NewLease(d scheduler.Decision, release func()) *Lease {
	return &Lease{Decision: d, release: release}
}

// Account is the leased account.
func (l *Lease) Account() *account.Account { return l.Decision.Account }

// Release frees the lease's slot; calling it again does nothing.
func (l *Lease) Release() {
	if l == nil || l.release == nil {
		return
	}
	l.once.Do(l.release)
}

// Lease chooses an account for r and takes one of its slots. When the
// choice is the conversation's own account it waits up to stickyWait for a
// slot to free, since a short wait beats moving the conversation; any
// other choice takes a free slot or none. The selection's store work (a lookup, a new
// binding) runs on the pool's context: a binding agreed with other
// instances is written even if the client has just left. The wait for a
// slot ends with ctx. On ErrBusy the Decision is still returned, so the
// caller can say which account was full.
func (p *Pool) Lease(ctx context.Context, r scheduler.Request, stickyWait time.Duration) (*Lease, error) {
	sctx, cancel := p.effectContext()
	d, err := p.sched.Select(sctx, r)
	cancel()
	if err != nil {
		return &Lease{Decision: d}, err
	}
	if p.health == nil {
		return &Lease{Decision: d}, nil
	}
	wait := time.Duration(0)
	if d.Reason == scheduler.ReasonSticky || d.Reason == scheduler.ReasonResumed {
		wait = stickyWait
	}
	release, ok := p.health.Acquire(ctx, d.Account, wait)
	if !ok {
		return &Lease{Decision: d}, fmt.Errorf("account %s: %w (%d)", d.Account.Name, ErrBusy, d.Account.MaxConcurrency)
	}
	return &Lease{Decision: d, release: release}, nil
}

// Report records how an attempt on a ended: the rate-limit windows its
// answer carried and its outcome, which may start or clear a cooldown. The
// store writes run on the pool's context, not the request's.
func (p *Pool) Report(a *account.Account, h http.Header, o health.Outcome) {
	if p.health == nil {
		return
	}
	if h != nil {
		p.health.ObserveLimits(a.Name, h)
	}
	ctx, cancel := p.effectContext()
	defer cancel()
	p.health.Report(ctx, a, o)
}

// Refresh renews a's ChatGPT access token unless it changed since seenTag.
// The refresh itself runs on the refresher's own lifetime: ctx only bounds
// how long this caller waits for it.
func (p *Pool) Refresh(ctx context.Context, a *account.Account, seenTag string) error {
	if p.refresher == nil {
		return errNoRefresher
	}
	return p.refresher.Refresh(ctx, a, seenTag)
}

// CanRefresh reports whether a's token can be renewed by this pool.
func (p *Pool) CanRefresh(a *account.Account) bool {
	return p.refresher != nil && a.CanRefresh()
}

var errNoRefresher = errors.New("token refresh is not configured")

// AddUsage counts one finished request's tokens against its account (today's
// counters) and its ledger line (the day, the client key, the account, the
// model). It never blocks: the writer sums and writes off the request path.
func (p *Pool) AddUsage(k store.LedgerKey, u store.Usage) {
	if p.usage != nil {
		p.usage.add(k, u)
	}
}

// effectContext is the context of one side effect: the pool's lifetime,
// bounded by effectTimeout.
func (p *Pool) effectContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, effectTimeout)
}

// Close ends the pool's life: the usage still queued is written, the
// background loops stop and the refresher's work in flight finishes. Call
// it once the HTTP server has stopped handing requests to the relay, and
// before closing the store. Calling it again does nothing.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		if p.usage != nil {
			p.usage.close()
		}
		if p.refresher != nil {
			p.refresher.Close()
		}
		p.cancel()
		p.tasks.Wait()
	})
}
