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

// Bindings keeps conversations on accounts. *store.Store implements it.
type Bindings interface {
	Lookup(ctx context.Context, session string, ttl time.Duration) (store.Binding, bool, error)
	Bind(ctx context.Context, b store.Binding, ttl time.Duration) (store.Binding, bool, error)
	Rebind(ctx context.Context, b store.Binding, ttl time.Duration) error
}

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
)

// Request is what the scheduler needs to know about a request.
type Request struct {
	Session session.Key
	Model   string
	Client  string          // client key name, recorded in new bindings
	Exclude map[string]bool // accounts already tried by this request
}

// Decision is the outcome of Select.
type Decision struct {
	Account    *account.Account
	Reason     Reason
	Detail     string   // why, in words, when the reason alone does not say
	Candidates []string // names of the accounts that could serve the request
	Bound      string   // the account the conversation was bound to before, if any
}

// Scheduler selects accounts. It is safe for concurrent use.
type Scheduler struct {
	accounts Accounts
	bindings Bindings
	ttl      time.Duration
	pick     *picker
	now      func() time.Time
	log      *slog.Logger
}

// Option changes a Scheduler built by New.
type Option func(*Scheduler)

// WithSeed makes weighted choices reproducible, for tests.
func WithSeed(seed uint64) Option { return func(s *Scheduler) { s.pick = newPicker(seed) } }

// WithClock sets the clock stamped on new bindings.
func WithClock(now func() time.Time) Option { return func(s *Scheduler) { s.now = now } }

// WithLogger sets where store failures are reported.
func WithLogger(l *slog.Logger) Option { return func(s *Scheduler) { s.log = l } }

// New returns a scheduler over accounts whose bindings live in bindings for
// ttl after their last use.
func New(accounts Accounts, bindings Bindings, ttl time.Duration, opts ...Option) *Scheduler {
	s := &Scheduler{
		accounts: accounts,
		bindings: bindings,
		ttl:      ttl,
		pick:     newPicker(0),
		now:      time.Now,
		log:      slog.Default(),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Select chooses the account for r. It returns ErrNoAccount when no account
// can serve it.
func (s *Scheduler) Select(ctx context.Context, r Request) (Decision, error) {
	cands := s.candidates(r)
	d := Decision{Candidates: names(cands)}
	if len(cands) == 0 {
		return d, ErrNoAccount
	}
	if r.Session.Hash == "" {
		d.Account, d.Reason = s.pick.choose(cands), ReasonUnsticky
		return d, nil
	}

	b, found, err := s.bindings.Lookup(ctx, r.Session.Hash, s.ttl)
	if err != nil {
		// A store outage must not stop requests: serve without stickiness
		// and say so.
		s.log.Warn("session store unavailable; serving without stickiness", "err", err)
		d.Account, d.Reason, d.Detail = s.pick.choose(cands), ReasonUnsticky, "store unavailable"
		return d, nil
	}
	if found {
		d.Bound = b.Account
		if a := find(cands, b.Account); a != nil {
			d.Account, d.Reason = a, ReasonSticky
			return d, nil
		}
		if r.Exclude[b.Account] {
			// The bound account failed this turn; serve elsewhere but keep
			// the binding so the conversation returns to its cache.
			d.Account, d.Reason = s.pick.choose(cands), ReasonFailover
			d.Detail = "bound account " + b.Account + " failed"
			return d, nil
		}
		d.Detail = s.whyUnusable(b.Account, r.Model)
		d.Account, d.Reason = s.pick.choose(cands), ReasonRebound
		nb := s.binding(r, d.Account)
		nb.Created = b.Created
		if err := s.bindings.Rebind(ctx, nb, s.ttl); err != nil {
			s.log.Warn("session store unavailable; rebinding skipped", "err", err)
		}
		return d, nil
	}

	choice := s.pick.choose(cands)
	won, created, err := s.bindings.Bind(ctx, s.binding(r, choice), s.ttl)
	switch {
	case err != nil:
		s.log.Warn("session store unavailable; serving without stickiness", "err", err)
		d.Account, d.Reason, d.Detail = choice, ReasonUnsticky, "store unavailable"
	case created:
		d.Account, d.Reason = choice, ReasonNew
	default:
		// Another request of this conversation bound it first: follow it.
		if a := find(cands, won.Account); a != nil {
			d.Account, d.Reason, d.Bound = a, ReasonSticky, won.Account
		} else {
			d.Account, d.Reason, d.Bound = choice, ReasonFailover, won.Account
		}
	}
	return d, nil
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

// candidates are the accounts able to serve r, in configuration order.
func (s *Scheduler) candidates(r Request) []*account.Account {
	var out []*account.Account
	for _, a := range s.accounts.All() {
		if a.Enabled && a.Serves(r.Model) && !r.Exclude[a.Name] {
			out = append(out, a)
		}
	}
	return out
}

// whyUnusable explains why the bound account is not a candidate.
func (s *Scheduler) whyUnusable(name, model string) string {
	a := s.accounts.Get(name)
	switch {
	case a == nil:
		return fmt.Sprintf("bound account %s was removed", name)
	case !a.Enabled:
		return fmt.Sprintf("bound account %s is disabled", name)
	case !a.Serves(model):
		return fmt.Sprintf("bound account %s does not serve model %s", name, model)
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
