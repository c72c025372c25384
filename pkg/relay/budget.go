package relay

import "sync"

// Budget bounds the request bodies the whole process holds in memory at
// once, decompressed ones included: many large bodies arriving together
// get a clear 503 instead of taking the machine's memory.
type Budget struct {
	mu    sync.Mutex
	used  int64
	limit int64
}

// NewBudget returns a budget of limit bytes; limit <= 0 is no limit.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// take reserves n bytes, or reports false when they would pass the limit.
func (b *Budget) take(n int64) bool {
	if b == nil || b.limit <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

// give returns n reserved bytes.
func (b *Budget) give(n int64) {
	if b == nil || b.limit <= 0 || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// Used is how many bytes are reserved now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Limit is the budget's size; 0 when unbounded.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}
