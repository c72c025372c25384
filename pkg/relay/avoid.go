package relay

import (
	"sync"
	"time"
)

// avoidFor is how long a conversation's retry keeps away from the account
// that failed its last turn after output had reached the client.
const avoidFor = time.Minute

// maxAvoided bounds the list; past it the oldest entries go first.
const maxAvoided = 4096

// avoidList remembers, per conversation, the account whose stream failed
// after output reached the client. Such a failure cannot be hidden, and
// the client retries the turn: the retry goes to the conversation's next
// account instead of back to the one that just failed it, while the
// binding stays (the account may only be briefly out).
type avoidList struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]avoided
}

type avoided struct {
	account string
	until   time.Time
}

func newAvoidList(now func() time.Time) *avoidList {
	return &avoidList{now: now, entries: map[string]avoided{}}
}

// add makes session's next requests avoid account for a while.
func (l *avoidList) add(session, account string) {
	if session == "" {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= maxAvoided {
		for k, e := range l.entries {
			if !e.until.After(now) || len(l.entries) >= maxAvoided {
				delete(l.entries, k)
			}
		}
	}
	l.entries[session] = avoided{account: account, until: now.Add(avoidFor)}
}

// get returns the account session should avoid now, or "".
func (l *avoidList) get(session string) string {
	if session == "" {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[session]
	if !ok {
		return ""
	}
	if !e.until.After(l.now()) {
		delete(l.entries, session)
		return ""
	}
	return e.account
}

// clear forgets session's entry once a turn succeeded.
func (l *avoidList) clear(session string) {
	if session == "" {
		return
	}
	l.mu.Lock()
	if _, ok := l.entries[session]; ok {
		delete(l.entries, session)
	}
	l.mu.Unlock()
}
