package pool

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// usageWriteTimeout bounds one usage write, so a slow store cannot stall
// the writer.
const usageWriteTimeout = 2 * time.Second

// usageQueue is how many finished requests may wait to be added up before
// further ones are dropped (and logged).
const usageQueue = 4096

// usageFlushEvery bounds how often counters are written: at most one write
// per account this often, however busy the proxy, so counting costs the
// store (and the CPU the streams need) next to nothing.
const usageFlushEvery = 250 * time.Millisecond

// usageWriter writes usage counters off the request path (a chunked
// response ends only when its handler returns, so a store write there would
// delay the end of every stream). Requests that finish within
// usageFlushEvery of the last write are summed per account and written
// together; a lone request is written at once.
type usageWriter struct {
	rec       UsageRecorder
	retention time.Duration // the ledger's; 0 is store.DefaultLedgerRetention
	prices    Pricer        // nil: spending counts tokens only
	log       *slog.Logger
	ch        chan usageItem
	done      chan struct{}

	// mu guards closed: a request that finishes after shutdown's grace
	// must find the queue shut and log the loss, not send on a closed
	// channel.
	mu     sync.RWMutex
	closed bool
}

// UsageRecorder keeps per-account token counters, the usage ledger and
// each client key's spending, which its limits read. *store.Store
// implements it.
type UsageRecorder interface {
	AddUsage(ctx context.Context, account string, u store.Usage) error
	AddLedger(ctx context.Context, lines map[store.LedgerKey]store.Usage, retention time.Duration) error
	AddSpend(ctx context.Context, spend map[string]store.Spend) error
}

// Pricer prices usage of a model at the price table; ok is false for an
// unpriced model, which costs nothing toward a budget.
type Pricer interface {
	Cost(model string, u store.Usage) (usd float64, ok bool)
}

type usageItem struct {
	key   store.LedgerKey
	usage store.Usage
}

// usageSums are the requests finished since the last write: per account
// for today's counters, per day line for the ledger.
type usageSums struct {
	accounts map[string]store.Usage
	ledger   map[store.LedgerKey]store.Usage
}

func newUsageWriter(rec UsageRecorder, retention time.Duration, prices Pricer, log *slog.Logger) *usageWriter {
	u := &usageWriter{rec: rec, retention: retention, prices: prices, log: log, ch: make(chan usageItem, usageQueue), done: make(chan struct{})}
	go u.run()
	return u
}

func (u *usageWriter) run() {
	defer close(u.done)
	sums := usageSums{accounts: map[string]store.Usage{}, ledger: map[store.LedgerKey]store.Usage{}}
	var last time.Time
	for it := range u.ch {
		sum(sums, it)
		if wait := time.Until(last.Add(usageFlushEvery)); wait > 0 {
			// Written a moment ago: gather what else finishes meanwhile.
			timer := time.NewTimer(wait)
		gather:
			for {
				select {
				case more, ok := <-u.ch:
					if !ok {
						break gather
					}
					sum(sums, more)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		u.flush(sums)
		last = time.Now()
	}
}

func sum(sums usageSums, it usageItem) {
	sums.accounts[it.key.Account] = plus(sums.accounts[it.key.Account], it.usage)
	sums.ledger[it.key] = plus(sums.ledger[it.key], it.usage)
}

func plus(a, b store.Usage) store.Usage {
	a.Requests += b.Requests
	a.InputTokens += b.InputTokens
	a.CachedTokens += b.CachedTokens
	a.OutputTokens += b.OutputTokens
	a.ReasoningTokens += b.ReasoningTokens
	return a
}

// flush writes and forgets the sums; a failed write is logged and lost,
// as counters are statistics, not billing.
func (u *usageWriter) flush(sums usageSums) {
	for account, s := range sums.accounts {
		ctx, cancel := context.WithTimeout(context.Background(), usageWriteTimeout)
		if err := u.rec.AddUsage(ctx, account, s); err != nil {
			u.log.Warn("recording usage", "account", account, "err", err)
		}
		cancel()
		delete(sums.accounts, account)
	}
	if len(sums.ledger) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), usageWriteTimeout)
		if err := u.rec.AddLedger(ctx, sums.ledger, u.retention); err != nil {
			u.log.Warn("recording the usage ledger", "lines", len(sums.ledger), "err", err)
		}
		cancel()
		if spend := u.spending(sums.ledger); len(spend) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), usageWriteTimeout)
			if err := u.rec.AddSpend(ctx, spend); err != nil {
				u.log.Warn("recording client keys' spending; their limits count less than was served", "clients", len(spend), "err", err)
			}
			cancel()
		}
		clear(sums.ledger)
	}
}

// spending is what each client key's lines served: tokens in and out, and
// their cost, each line priced from its summed tokens.
func (u *usageWriter) spending(lines map[store.LedgerKey]store.Usage) map[string]store.Spend {
	var spend map[string]store.Spend
	for k, use := range lines {
		if k.Client == "" {
			continue // the proxy checks no keys: nothing to limit
		}
		if spend == nil {
			spend = map[string]store.Spend{}
		}
		s := spend[k.Client]
		s.Tokens += use.InputTokens + use.OutputTokens
		if u.prices != nil {
			if usd, ok := u.prices.Cost(k.Model, use); ok {
				s.MicroUSD += int64(math.Round(usd * 1e6))
			}
		}
		spend[k.Client] = s
	}
	return spend
}

// add queues one request's usage; it never blocks.
func (u *usageWriter) add(key store.LedgerKey, usage store.Usage) {
	account := key.Account
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed {
		u.log.Warn("usage of a request that ended after shutdown is not counted", "account", account)
		return
	}
	select {
	case u.ch <- usageItem{key, usage}:
	default:
		u.log.Warn("usage queue full; a request's usage is not counted", "account", account)
	}
}

// close writes what is queued and stops.
func (u *usageWriter) close() {
	u.mu.Lock()
	if !u.closed {
		u.closed = true
		close(u.ch)
	}
	u.mu.Unlock()
	<-u.done
}
