// Package scheduler decides which account serves a request: it filters the
// pool to the accounts that can serve it, honours the conversation's sticky
// binding, and otherwise makes a weighted choice and binds the conversation
// to it.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/store"
)

// ErrNoAccount means no configured account can serve the request: none is
// enabled, none allows the model, or every one was already tried.
var ErrNoAccount = errors.New("no available account")

// ErrNotAllowed means accounts serve the request, but none of those its
// client key may use (Request.Allow) does.
var ErrNotAllowed = errors.New("no account the client key may use serves the request")

// Bindings keeps conversations on accounts. *store.Store implements it.
type Bindings interface {
	Lookup(ctx context.Context, session string, ttl time.Duration) (store.Binding, bool, error)
	Bind(ctx context.Context, b store.Binding, ttl time.Duration) (store.Binding, bool, error)
	Rebind(ctx context.Context, b store.Binding, ttl time.Duration) error
}

// Availability says whether an account may take traffic now. *health.Tracker
// implements it; the scheduler never asks how that was decided.
type Availability interface {
	// Cooldown returns the account's active cooldown, if any.
	Cooldown(a *account.Account) (store.Cooldown, bool)
	// HasSlot reports whether the account can take one more stream.
	HasSlot(a *account.Account) bool
}

// alwaysAvailable is the Availability of a pool with no health tracking.
type alwaysAvailable struct{}

func (alwaysAvailable) Cooldown(*account.Account) (store.Cooldown, bool) {
	return store.Cooldown{}, false
}
func (alwaysAvailable) HasSlot(*account.Account) bool { return true }

// Accounts is the configured pool. *account.Pool implements it.
type Accounts interface {
	All() []*account.Account
	Get(name string) *account.Account
}

// Reason says why an account was chosen; the TUI and logs show it.
type Reason string

const (
	// ReasonSticky: the conversation's binding named this account.
	ReasonSticky Reason = "sticky"
	// ReasonNew: a new conversation was bound to a weighted choice.
	ReasonNew Reason = "new"
	// ReasonRebound: the bound account can no longer serve; the
	// conversation moved to a new weighted choice.
	ReasonRebound Reason = "rebound"
	// ReasonUnsticky: the request has no session key, or the store did not
	// answer, so a weighted choice serves it without a binding.
	ReasonUnsticky Reason = "unsticky"
	// ReasonFailover: an earlier attempt of this request failed; another
	// account serves this turn and the binding is left alone.
	ReasonFailover Reason = "failover"
	// ReasonHeadroom: a new conversation (or one without a binding) went
	// to another account than the weights alone would have chosen,
	// because that one had used more of its rate limits; Detail names it
	// and its used share.
	ReasonHeadroom Reason = "headroom"
	// ReasonPlanner: a new conversation (or one without a binding) went
	// to another account than the weights alone would have chosen,
	// because that one's room expires sooner (see WithPlanner); Detail
	// names the windows weighed.
	ReasonPlanner Reason = "planner"
	// ReasonResumed: a conversation without a binding carried items only
	// one account can read (encrypted reasoning, a compaction), and went
	// back to the account that minted them; Detail says so.
	ReasonResumed Reason = "resumed"
)

// Request is what the scheduler needs to know about a request.
type Request struct {
	Session session.Key
	Model   string
	Client  string          // client key name, recorded in new bindings
	Exclude map[string]bool // accounts already tried by this request
	// API, when set, admits only accounts that speak that wire API
	// (config.APIResponses or config.APIChatCompletions): what a request
	// asks may be more than a translation can carry.
	API string
	// Owner, when set, names the account that minted the account-bound
	// items the request carries (its latest), "" when none or unknown. It
	// is asked only when the conversation has no binding, so the lookup
	// it may make costs nothing on a sticky hit.
	Owner func(ctx context.Context) string
	// Allow, when set, admits only the accounts the client key may use
	// (client_keys[].limits.accounts). A conversation bound elsewhere
	// moves to one of them.
	Allow func(*account.Account) bool
}

// Decision is the outcome of Select.
type Decision struct {
	Account    *account.Account
	Reason     Reason
	Detail     string   // why, in words, when the reason alone does not say
	Candidates []string // names of the accounts that could serve the request
	Bound      string   // the account the conversation was bound to before, if any
	// Minters are the notes kept beside the conversation's binding: who
	// minted account-bound items in it (see package items).
	Minters []string
}

// Scheduler selects accounts. It is safe for concurrent use.
type Scheduler struct {
	accounts  Accounts
	bindings  Bindings
	avail     Availability
	ttl       time.Duration
	moveAfter time.Duration
	pick      *picker
	now       func() time.Time
	log       *slog.Logger
	breaker   breaker
	steering  steering // nil: choices by weight alone
	mem       *memory  // the conversations' accounts, for when the store fails
}

// Option changes a Scheduler built by New.
type Option func(*Scheduler)

// WithSeed makes weighted choices reproducible, for tests.
func WithSeed(seed uint64) Option { return func(s *Scheduler) { s.pick = newPicker(seed) } }

// WithClock sets the clock stamped on new bindings.
func WithClock(now func() time.Time) Option { return func(s *Scheduler) { s.now = now } }

// WithAvailability makes selection skip accounts that are cooling down or
// full.
func WithAvailability(av Availability) Option { return func(s *Scheduler) { s.avail = av } }

// WithMoveAfter sets how long a bound account may be out before its
// conversations move for good (default 5m).
func WithMoveAfter(d time.Duration) Option { return func(s *Scheduler) { s.moveAfter = d } }

// WithLogger sets where store failures are reported.
func WithLogger(l *slog.Logger) Option { return func(s *Scheduler) { s.log = l } }

// New returns a scheduler over accounts whose bindings live in bindings for
// ttl after their last use.
func New(accounts Accounts, bindings Bindings, ttl time.Duration, opts ...Option) *Scheduler {
	s := &Scheduler{
		accounts:  accounts,
		bindings:  bindings,
		avail:     alwaysAvailable{},
		ttl:       ttl,
		moveAfter: 5 * time.Minute,
		pick:      newPicker(0),
		now:       time.Now,
		log:       slog.Default(),
		mem:       newMemory(DefaultRemembered),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Select chooses the account for r. It returns ErrNoAccount when no
// enabled account serves r's model, and an *UnavailableError (which
// unwraps to ErrNoAccount) when some do but none can take r now: cooling
// down, invalid, or already tried by r.
func (s *Scheduler) Select(ctx context.Context, r Request) (Decision, error) {
	d, err := s.selectFor(ctx, r)
	if errors.Is(err, errNoneReady) {
		// Said once, from every account serving the model, so the answer
		// names each cause whichever path found no account.
		err = s.unavailable(r)
	}
	if err == nil && r.Session.Hash != "" {
		s.remember(r.Session.Hash, d)
	}
	return d, err
}

// remember notes the account d leaves the conversation bound to: the one
// chosen, or on a failover the one it stays bound to.
func (s *Scheduler) remember(session string, d Decision) {
	name := d.Account.Name
	if d.Reason == ReasonFailover && d.Bound != "" {
		name = d.Bound
	}
	s.mem.note(session, name, s.now())
}

// errNoneReady means accounts serve the request's model but none is ready
// for it; Select explains it as an *UnavailableError.
var errNoneReady = errors.New("no account ready")

func (s *Scheduler) selectFor(ctx context.Context, r Request) (Decision, error) {
	eligible := s.eligible(r)
	ready := s.ready(eligible)
	d := Decision{Candidates: names(ready)}
	if len(eligible) == 0 {
		if r.Allow != nil && len(r.Exclude) == 0 && len(s.eligible(Request{Model: r.Model, API: r.API})) > 0 {
			return d, ErrNotAllowed
		}
		if len(r.Exclude) > 0 {
			// Every account was tried: say whether they are all out.
			return d, errNoneReady
		}
		return d, ErrNoAccount
	}
	if r.Session.Hash == "" {
		return s.choose(r.Session.Hash, d, ready, eligible, ReasonUnsticky, "")
	}

	if !s.breaker.allow(s.now()) {
		return s.withoutStore(r, d, ready, eligible, "store unavailable")
	}
	b, found, err := s.bindings.Lookup(ctx, r.Session.Hash, s.ttl)
	if err != nil {
		// A store outage must not stop requests: serve from this
		// instance's memory of the conversation, else without stickiness
		// (rendezvous still sends a new conversation where every instance
		// would), and stop asking the store for a while.
		return s.withoutStore(r, d, ready, eligible, storeDetail(s.storeFailed(ctx, err)))
	}
	s.storeAnswered()
	if !found {
		return s.bindNew(ctx, r, d, ready, eligible)
	}

	d.Bound, d.Minters = b.Account, b.Minters
	bound := find(eligible, b.Account)
	switch {
	case bound != nil:
		cd, cooling := s.avail.Cooldown(bound)
		if !cooling {
			// Sticky even when the account is full: the relay waits
			// briefly for a slot rather than move the conversation.
			d.Account, d.Reason = bound, ReasonSticky
			return d, nil
		}
		if s.outForLong(cd) {
			return s.rebind(ctx, r, d, ready, eligible, b, fmt.Sprintf("bound account %s is out: %s", b.Account, cd.Message))
		}
		// Out briefly: serve this turn elsewhere and keep the binding, so
		// the conversation returns to its prompt cache.
		return s.choose(r.Session.Hash, d, ready, eligible, ReasonFailover,
			fmt.Sprintf("bound account %s is cooling down (%s) until %s", b.Account, cd.Reason, cd.Until.Format(time.TimeOnly)))
	case r.Exclude[b.Account]:
		// The bound account failed this turn; keep the binding.
		return s.choose(r.Session.Hash, d, ready, eligible, ReasonFailover, "bound account "+b.Account+" failed")
	default:
		return s.rebind(ctx, r, d, ready, eligible, b, s.whyUnusable(b.Account, r))
	}
}

// outForLong reports whether a cooldown keeps its account out longer than
// a conversation waits for it: the conversation then moves.
func (s *Scheduler) outForLong(cd store.Cooldown) bool {
	return cd.Until.IsZero() || cd.Until.Sub(s.now()) > s.moveAfter
}

// withoutStore places a request the store could not be asked about: on the
// account this instance last served the conversation with, when it can
// serve, so an outage moves no conversation; else by a weighted choice,
// which is then remembered.
func (s *Scheduler) withoutStore(r Request, d Decision, ready, eligible []*account.Account, detail string) (Decision, error) {
	name, ok := s.mem.recall(r.Session.Hash, s.now(), s.ttl)
	if !ok {
		return s.choose(r.Session.Hash, d, ready, eligible, ReasonUnsticky, detail)
	}
	d.Bound = name
	bound := find(eligible, name)
	switch {
	case bound != nil:
		cd, cooling := s.avail.Cooldown(bound)
		if !cooling {
			d.Account, d.Reason, d.Detail = bound, ReasonSticky, detail+"; kept on the account this instance last served it with"
			return d, nil
		}
		if s.outForLong(cd) {
			return s.choose(r.Session.Hash, d, ready, eligible, ReasonUnsticky,
				fmt.Sprintf("%s; its account %s is out: %s", detail, name, cd.Message))
		}
		return s.choose(r.Session.Hash, d, ready, eligible, ReasonFailover,
			fmt.Sprintf("%s; its account %s is cooling down (%s) until %s", detail, name, cd.Reason, cd.Until.Format(time.TimeOnly)))
	case r.Exclude[name]:
		return s.choose(r.Session.Hash, d, ready, eligible, ReasonFailover, detail+"; its account "+name+" failed")
	default:
		return s.choose(r.Session.Hash, d, ready, eligible, ReasonUnsticky, detail+"; "+s.whyUnusable(name, r))
	}
}

// bindNew binds a conversation seen for the first time.
func (s *Scheduler) bindNew(ctx context.Context, r Request, d Decision, ready, eligible []*account.Account) (Decision, error) {
	d = s.resume(ctx, r, d, ready)
	var err error
	if d.Account == nil {
		d, err = s.choose(r.Session.Hash, d, ready, eligible, ReasonNew, "")
	}
	if err != nil {
		return d, err
	}
	won, created, err := s.bindings.Bind(ctx, s.binding(r, d.Account), s.ttl)
	switch {
	case err != nil:
		d.Reason, d.Detail = ReasonUnsticky, storeDetail(s.storeFailed(ctx, err))
	case created:
		d.Minters = won.Minters
	default:
		d.Minters = won.Minters
		// Another request of this conversation bound it first: follow it
		// when it can serve.
		d.Bound = won.Account
		if a := find(ready, won.Account); a != nil {
			d.Account, d.Reason = a, ReasonSticky
		} else {
			d.Reason, d.Detail = ReasonFailover, "bound account "+won.Account+" is unavailable"
		}
	}
	return d, nil
}

// resume sends a conversation without a binding that carries items only
// one account can read back to that account, when it can serve: whatever
// the weights or the headroom would choose, only there does the model see
// its own reasoning and compacted history. d.Account stays nil otherwise.
func (s *Scheduler) resume(ctx context.Context, r Request, d Decision, ready []*account.Account) Decision {
	if r.Owner == nil {
		return d
	}
	if owner := r.Owner(ctx); owner != "" {
		if a := find(ready, owner); a != nil {
			d.Account, d.Reason, d.Detail = a, ReasonResumed, "the conversation's items were minted by "+owner
		}
	}
	return d
}

// rebind moves a conversation whose account cannot serve it any more.
func (s *Scheduler) rebind(ctx context.Context, r Request, d Decision, ready, eligible []*account.Account, old store.Binding, why string) (Decision, error) {
	d, err := s.choose(r.Session.Hash, d, ready, eligible, ReasonRebound, why)
	if err != nil {
		return d, err
	}
	nb := s.binding(r, d.Account)
	nb.Created = old.Created
	d.Minters = old.Minters
	if err := s.bindings.Rebind(ctx, nb, s.ttl); err != nil {
		s.storeFailed(ctx, err)
	}
	return d, nil
}

// storeDetail is a Decision's Detail when a store call failed: an outage,
// or the cancellation of the request.
func storeDetail(outage bool) string {
	if outage {
		return "store unavailable"
	}
	return "request cancelled during the store call"
}

// choose makes the weighted choice among ready accounts, preferring those
// with a free slot, or explains why there is none.
func (s *Scheduler) choose(key string, d Decision, ready, eligible []*account.Account, reason Reason, detail string) (Decision, error) {
	if len(ready) == 0 {
		return d, errNoneReady
	}
	pool := ready
	var free []*account.Account
	for _, a := range ready {
		if s.avail.HasSlot(a) {
			free = append(free, a)
		}
	}
	if len(free) > 0 {
		pool = free
	}
	c := s.pick.start(key, pool)
	plain := c.pick(c.as, c.weight)
	d.Account, d.Reason, d.Detail = plain, reason, detail
	if s.steering == nil || !steered(reason) {
		return d, nil
	}
	chosen, why := s.steering.steer(c, plain, s.now())
	if chosen == plain {
		return d, nil
	}
	d.Account, d.Detail = chosen, joinDetail(detail, why)
	if reason != ReasonRebound {
		// A move says why it moved first; the steering is in its detail.
		d.Reason = s.steering.reason()
	}
	return d, nil
}

// joinDetail puts two explanations in one Detail.
func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (s *Scheduler) binding(r Request, a *account.Account) store.Binding {
	now := s.now()
	return store.Binding{
		Session:  r.Session.Hash,
		Account:  a.Name,
		Type:     string(a.Type),
		Model:    r.Model,
		Client:   r.Client,
		Created:  now,
		LastUsed: now,
	}
}

// eligible are the accounts that could serve r at all: enabled, allowing
// its model, not yet tried by it. Both account types are eligible for
// /responses.
func (s *Scheduler) eligible(r Request) []*account.Account {
	var out []*account.Account
	for _, a := range s.accounts.All() {
		if a.Enabled && a.Serves(r.Model) && !r.Exclude[a.Name] && (r.API == "" || a.API == r.API) && (r.Allow == nil || r.Allow(a)) {
			out = append(out, a)
		}
	}
	return out
}

// ready are the eligible accounts not cooling down.
func (s *Scheduler) ready(eligible []*account.Account) []*account.Account {
	out := make([]*account.Account, 0, len(eligible))
	for _, a := range eligible {
		if _, cooling := s.avail.Cooldown(a); !cooling {
			out = append(out, a)
		}
	}
	return out
}

// whyUnusable explains why the bound account is not a candidate.
func (s *Scheduler) whyUnusable(name string, r Request) string {
	a, model := s.accounts.Get(name), r.Model
	switch {
	case a == nil:
		return fmt.Sprintf("bound account %s was removed", name)
	case !a.Enabled:
		return fmt.Sprintf("bound account %s is disabled", name)
	case !a.Serves(model):
		return fmt.Sprintf("bound account %s does not serve model %s", name, model)
	case r.API != "" && a.API != r.API:
		return fmt.Sprintf("bound account %s does not speak %s, which the request needs", name, r.API)
	case r.Allow != nil && !r.Allow(a):
		return fmt.Sprintf("bound account %s is not one the client key may use", name)
	default:
		return fmt.Sprintf("bound account %s is unavailable", name)
	}
}

func find(as []*account.Account, name string) *account.Account {
	for _, a := range as {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func names(as []*account.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}
