package account

import "sync/atomic"

// Pool is the set of configured accounts. It is replaced whole on a config
// reload, so a request that already holds a snapshot keeps a consistent view.
type Pool struct {
	snap atomic.Pointer[[]*Account]
}

// NewPool returns a pool holding accounts, in configuration order.
func NewPool(accounts []*Account) *Pool {
	p := &Pool{}
	p.Replace(accounts)
	return p
}

// All returns the current accounts in configuration order. Callers must not
// modify the slice.
func (p *Pool) All() []*Account {
	return *p.snap.Load()
}

// Get returns the account named name, or nil when it is no longer configured.
func (p *Pool) Get(name string) *Account {
	for _, a := range p.All() {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Replace swaps in a new set of accounts.
func (p *Pool) Replace(accounts []*Account) {
	cp := append([]*Account(nil), accounts...)
	p.snap.Store(&cp)
}
