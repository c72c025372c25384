package scheduler

import (
	"fmt"
	"time"
)

// UnavailableError means accounts serve the request's model but none can
// take it now. It counts every such account by its cause, so the answer
// can name them all. It unwraps to ErrNoAccount.
type UnavailableError struct {
	// AllQuota is true when every account is out of quota: the client
	// should be told when to come back, not to retry.
	AllQuota bool
	// Until is the earliest time a cooling account comes back; zero when
	// none will by itself (every one is invalid, or none is cooling).
	Until time.Time
	// Reasons counts the accounts cooling down by why they are out (a
	// cooldown's Reason: "quota", "rate_limit", "invalid", ...).
	Reasons map[string]int
	// Tried counts the accounts the request already tried (Exclude) that
	// are not cooling down: they failed without a cooldown, or were busy.
	Tried int
	// Back counts the accounts whose cooldown ended while the request was
	// being placed: a retry at once finds them.
	Back int
}

func (e *UnavailableError) Error() string {
	if e.AllQuota {
		return fmt.Sprintf("all accounts are limited until %s", e.Until.Format(time.RFC3339))
	}
	return fmt.Sprintf("no available account: cooling %v, tried %d, back %d", e.Reasons, e.Tried, e.Back)
}

// Unwrap makes errors.Is(err, ErrNoAccount) hold.
func (e *UnavailableError) Unwrap() error { return ErrNoAccount }

// unavailable explains why no account serving r's model can take r now.
// Each account is looked at once, here: one whose cooldown ended since
// it was found not ready counts as Back, never as a reason to say that no
// account serves the model.
func (s *Scheduler) unavailable(r Request) error {
	all := s.eligible(Request{Model: r.Model, Allow: r.Allow})
	if len(all) == 0 {
		return ErrNoAccount
	}
	e := &UnavailableError{AllQuota: true, Reasons: map[string]int{}}
	for _, a := range all {
		cd, cooling := s.avail.Cooldown(a)
		switch {
		case cooling:
			e.Reasons[cd.Reason]++
			if cd.Reason != "quota" {
				e.AllQuota = false
			}
			if !cd.Until.IsZero() && (e.Until.IsZero() || cd.Until.Before(e.Until)) {
				e.Until = cd.Until
			}
		case r.Exclude[a.Name]:
			e.Tried++
			e.AllQuota = false
		default:
			e.Back++
			e.AllQuota = false
		}
	}
	return e
}
