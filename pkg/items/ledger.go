package items

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Store is where a Ledger keeps its records, shared by every instance.
// *store.Store implements it.
type Store interface {
	// ItemRecords returns the records kept for sums, nil where none: one
	// round trip.
	ItemRecords(ctx context.Context, sums []string) ([][]byte, error)
	// SetItemRecords keeps records by sum for ttl.
	SetItemRecords(ctx context.Context, records map[string][]byte, ttl time.Duration) error
	// NoteConversation adds member to the notes of the conversation whose
	// session hash is session (its binding's Minters), for ttl.
	NoteConversation(ctx context.Context, session, member string, ttl time.Duration) error
	// KeepCompaction keeps data (a compressed request) under sum for ttl,
	// evicting the oldest kept ones while all of them take more than
	// budget bytes; it returns how many it evicted.
	KeepCompaction(ctx context.Context, sum string, data []byte, ttl time.Duration, budget int64) (int, error)
	// KeptCompaction is what KeepCompaction kept under sum; nil when
	// gone.
	KeptCompaction(ctx context.Context, sum string) ([]byte, error)
	// SetRemade keeps account's own compaction item made for the history
	// of the compaction sum.
	SetRemade(ctx context.Context, sum, account string, item []byte, ttl time.Duration) error
	// Remade is what SetRemade kept; nil when none.
	Remade(ctx context.Context, sum, account string) ([]byte, error)
}

// Options tune a Ledger; zero values take the defaults.
type Options struct {
	// TTL is how long who minted an item is remembered: as long as a user
	// may resume a conversation. Default 7 days.
	TTL time.Duration
	// KeptTTL is how long the request behind a compaction is kept;
	// default TTL.
	KeptTTL time.Duration
	// KeptBudget bounds the kept compaction requests, compressed, in the
	// store (limits.kept_compactions); past it the oldest go first. 0 keeps
	// none.
	KeptBudget int64
	// MaxKept bounds one kept request, decompressed (max_body_bytes);
	// default 32 MiB.
	MaxKept int64
	// Queue is how many writes may wait; past it a write is dropped and
	// logged. Default 4096.
	Queue  int
	Now    func() time.Time
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultTTL     = 7 * 24 * time.Hour
	defaultMaxKept = 32 << 20
	defaultQueue   = 4096
	// writeTimeout bounds one write to the store, off the request path.
	writeTimeout = 3 * time.Second
)

// Ledger remembers, in the store, who minted each account-bound item, the
// request behind each compaction, and each account's own remake of a
// compaction. Reads are the request path's; writes are queued and made off
// it, on the Ledger's own lifetime. It is safe for concurrent use.
type Ledger struct {
	st  Store
	o   Options
	dec *zstd.Decoder

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	jobs   chan job
	done   chan struct{}

	recent recent
}

// recentFor is how long this instance remembers what it noted, so its own
// next request sees it even before the write reaches the store (a tool
// turn follows its answer within milliseconds); other instances read the
// store.
const recentFor = time.Minute

// maxRecent bounds each of recent's maps; past it the oldest half goes.
const maxRecent = 8192

// recent is what this instance noted in the last recentFor.
type recent struct {
	mu     sync.Mutex
	notes  map[string]recentNotes
	recs   map[Sum]recentRecord
	remade map[string]recentRemade // by sum and account
	// kept are the compaction requests queued to be kept and not yet
	// written: a move right after a compaction finds them here.
	kept map[Sum][]byte
}

type recentRemade struct {
	item []byte
	at   time.Time
}

type recentNotes struct {
	members []string
	at      time.Time
}

type recentRecord struct {
	r  Record
	at time.Time
}

// prune lets entries older than recentFor go, and when a map is still
// full, any half of it.
func prune[K comparable, V any](m map[K]V, at func(V) time.Time, now time.Time) {
	if len(m) < maxRecent {
		return
	}
	for k, v := range m {
		if now.Sub(at(v)) >= recentFor {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < maxRecent/2 {
			return
		}
		delete(m, k)
	}
}

func (r *recent) note(session, member string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notes == nil {
		r.notes = map[string]recentNotes{}
	}
	prune(r.notes, func(n recentNotes) time.Time { return n.at }, now)
	n := r.notes[session]
	if !slices.Contains(n.members, member) {
		n.members = append(n.members, member)
	}
	n.at = now
	r.notes[session] = n
}

func (r *recent) record(sum Sum, rec Record, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recs == nil {
		r.recs = map[Sum]recentRecord{}
	}
	prune(r.recs, func(v recentRecord) time.Time { return v.at }, now)
	r.recs[sum] = recentRecord{rec, now}
}

func (r *recent) keep(sum Sum, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kept == nil {
		r.kept = map[Sum][]byte{}
	}
	r.kept[sum] = body
}

// written forgets a kept request once the store has it (or failed to
// take it).
func (r *recent) written(sum Sum, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.kept[sum]; ok && &b[0] == &body[0] {
		delete(r.kept, sum)
	}
}

func (r *recent) pendingKept(sum Sum) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kept[sum]
}

func (r *recent) remake(sum Sum, account string, item []byte, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.remade == nil {
		r.remade = map[string]recentRemade{}
	}
	prune(r.remade, func(v recentRemade) time.Time { return v.at }, now)
	r.remade[string(sum)+"\x00"+account] = recentRemade{item, now}
}

func (r *recent) remadeFor(sum Sum, account string, now time.Time) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.remade[string(sum)+"\x00"+account]
	if !ok || now.Sub(v.at) >= recentFor {
		return nil
	}
	return v.item
}

// Recent merges into notes (a binding's) what this instance noted for the
// conversation in the last minute and may not have written yet.
func (l *Ledger) Recent(session string, notes []string) []string {
	if session == "" {
		return notes
	}
	now := l.o.Now()
	l.recent.mu.Lock()
	defer l.recent.mu.Unlock()
	n, ok := l.recent.notes[session]
	if !ok || now.Sub(n.at) >= recentFor {
		return notes
	}
	out := notes
	for _, m := range n.members {
		if !slices.Contains(out, m) {
			if len(out) == len(notes) {
				out = slices.Clone(notes)
			}
			out = append(out, m)
		}
	}
	return out
}

type job struct {
	what string
	run  func(ctx context.Context, enc *zstd.Encoder) error
	// after runs once the job is done or dropped (a kept body's budget
	// share goes back then).
	after func()
}

// NewLedger returns a ledger on st and starts its writer; Close stops it.
func NewLedger(st Store, o Options) *Ledger {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.KeptTTL <= 0 {
		o.KeptTTL = o.TTL
	}
	if o.MaxKept <= 0 {
		o.MaxKept = defaultMaxKept
	}
	if o.Queue <= 0 {
		o.Queue = defaultQueue
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// DecodeAll is safe for concurrent use; the bound keeps a corrupt or
	// hostile record from asking for more than a request may be.
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uint64(o.MaxKept)))
	l := &Ledger{st: st, o: o, dec: dec, jobs: make(chan job, o.Queue), done: make(chan struct{})}
	go l.run()
	return l
}

// TTL is how long records are kept.
func (l *Ledger) TTL() time.Duration { return l.o.TTL }

func (l *Ledger) run() {
	defer close(l.done)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	for j := range l.jobs {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		if err := j.run(ctx, enc); err != nil {
			l.o.Logger.Warn("recording conversation items", "what", j.what, "err", err)
		}
		cancel()
		if j.after != nil {
			j.after()
		}
	}
}

// queue hands a job to the writer; it never blocks.
func (l *Ledger) queue(j job) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.closed {
		select {
		case l.jobs <- j:
			return
		default:
		}
		l.o.Logger.Warn("conversation item writes are queued past their bound; one is dropped", "what", j.what, "queue", cap(l.jobs))
	}
	if j.after != nil {
		j.after()
	}
}

// Close writes what is queued and stops the writer. Calling it again does
// nothing.
func (l *Ledger) Close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.jobs)
	}
	l.mu.Unlock()
	<-l.done
}

// storedRecord is a record's value in the store.
type storedRecord struct {
	Account string `json:"a"`
	At      int64  `json:"t"`
	Items   int    `json:"n,omitempty"`
}

// Records returns the store's records of sums (one round trip); a sum
// with no record is missing from the map.
func (l *Ledger) Records(ctx context.Context, sums []Sum) (map[Sum]Record, error) {
	out := make(map[Sum]Record, len(sums))
	keys := make([]string, 0, len(sums))
	for _, s := range sums {
		if s != "" {
			keys = append(keys, string(s))
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	l.recentRecords(out, keys)
	vals, err := l.st.ItemRecords(ctx, keys)
	if err != nil {
		return out, fmt.Errorf("reading who minted %d items: %w", len(keys), err)
	}
	for i, v := range vals {
		var r storedRecord
		if v == nil || json.Unmarshal(v, &r) != nil || r.Account == "" {
			continue
		}
		out[Sum(keys[i])] = Record{Account: r.Account, At: time.Unix(r.At, 0), Items: r.Items}
	}
	return out, nil
}

// recentRecords puts in out what this instance recorded of keys in the
// last minute; the store's records, read after, win.
func (l *Ledger) recentRecords(out map[Sum]Record, keys []string) {
	now := l.o.Now()
	l.recent.mu.Lock()
	defer l.recent.mu.Unlock()
	for _, k := range keys {
		if v, ok := l.recent.recs[Sum(k)]; ok && now.Sub(v.at) < recentFor {
			out[Sum(k)] = v.r
		}
	}
}

// Note records that account minted items in the answer to a request of
// the conversation session ("" when it has none). known are the
// conversation's minters as its binding had them, so an account already
// among them is not written again. It never blocks.
func (l *Ledger) Note(session, account string, minted []Minted, known []string, items int) {
	if len(minted) == 0 || account == "" {
		return
	}
	now := l.o.Now()
	at := now.Unix()
	recs := make(map[string][]byte, len(minted))
	for _, m := range minted {
		r := storedRecord{Account: account, At: at}
		if m.Kind == Compaction {
			r.Items = items
		}
		v, _ := json.Marshal(r) // plain data
		recs[string(m.Sum)] = v
		l.recent.record(m.Sum, Record{Account: account, At: time.Unix(at, 0), Items: r.Items}, now)
	}
	addMinter := session != "" && !slices.Contains(known, account)
	if addMinter {
		l.recent.note(session, account, now)
	}
	ttl := l.o.TTL
	l.queue(job{what: "minted items", run: func(ctx context.Context, _ *zstd.Encoder) error {
		if err := l.st.SetItemRecords(ctx, recs, ttl); err != nil {
			return err
		}
		if addMinter {
			return l.st.NoteConversation(ctx, session, account, ttl)
		}
		return nil
	}})
}

// NoteRefused remembers that account refused items of kind in the
// conversation session although nothing showed another account minted
// them, so its next turns are cleaned before they are sent. It never
// blocks.
func (l *Ledger) NoteRefused(session, account string, kind Kind) {
	if session == "" {
		return
	}
	member := refusedPrefix + kind.String() + ":" + account
	l.recent.note(session, member, l.o.Now())
	ttl := l.o.TTL
	l.queue(job{what: "refused items", run: func(ctx context.Context, _ *zstd.Encoder) error {
		return l.st.NoteConversation(ctx, session, member, ttl)
	}})
}

// Keep keeps the request that asked for a compaction (the client's body,
// compaction_trigger and all) under the compaction item the answer
// minted, compressed, off the request path. release runs once the body is
// no longer needed (written, or dropped).
func (l *Ledger) Keep(m Minted, body []byte, release func()) {
	if l.o.KeptBudget <= 0 {
		if release != nil {
			release()
		}
		return
	}
	if int64(len(body)) > l.o.MaxKept {
		l.o.Logger.Warn("a compacted request is larger than the bound of a kept one; it is not kept", "bytes", len(body), "max", l.o.MaxKept)
		if release != nil {
			release()
		}
		return
	}
	if len(body) == 0 {
		if release != nil {
			release()
		}
		return
	}
	ttl, budget := l.o.KeptTTL, l.o.KeptBudget
	l.recent.keep(m.Sum, body)
	l.queue(job{what: "kept compaction", after: func() {
		l.recent.written(m.Sum, body)
		if release != nil {
			release()
		}
	}, run: func(ctx context.Context, enc *zstd.Encoder) error {
		data := enc.EncodeAll(body, make([]byte, 0, len(body)/4))
		evicted, err := l.st.KeepCompaction(ctx, string(m.Sum), data, ttl, budget)
		if evicted > 0 {
			l.o.Logger.Info("kept compactions past their memory budget; the oldest were let go", "evicted", evicted, "budget", budget)
		}
		return err
	}})
}

// ErrNotKept is returned by Kept when the request behind a compaction is
// no longer kept.
var ErrNotKept = errors.New("the request behind this compaction is no longer kept")

// Kept returns the request that asked for the compaction sum, as the
// client sent it; ErrNotKept when it is gone.
func (l *Ledger) Kept(ctx context.Context, sum Sum) ([]byte, error) {
	if body := l.recent.pendingKept(sum); body != nil {
		return body, nil // queued, not yet in the store
	}
	data, err := l.st.KeptCompaction(ctx, string(sum))
	if err != nil {
		return nil, fmt.Errorf("reading a kept compaction: %w", err)
	}
	if data == nil {
		return nil, ErrNotKept
	}
	body, err := l.dec.DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding a kept compaction: %w", err)
	}
	return body, nil
}

// Remade returns account's own compaction item for the history of the
// compaction sum, nil when it has made none.
func (l *Ledger) Remade(ctx context.Context, sum Sum, account string) ([]byte, error) {
	if item := l.recent.remadeFor(sum, account, l.o.Now()); item != nil {
		return item, nil
	}
	item, err := l.st.Remade(ctx, string(sum), account)
	if err != nil {
		return nil, fmt.Errorf("reading a compaction made again: %w", err)
	}
	return item, nil
}

// NoteRemade records account's own compaction item (as minted) for the
// history of the compaction sum, and that account minted it. It never
// blocks.
func (l *Ledger) NoteRemade(session string, sum Sum, account string, remade Minted, items int, known []string) {
	ttl := l.o.KeptTTL
	item := remade.Raw
	l.recent.remake(sum, account, item, l.o.Now())
	l.queue(job{what: "remade compaction", run: func(ctx context.Context, _ *zstd.Encoder) error {
		return l.st.SetRemade(ctx, string(sum), account, item, ttl)
	}})
	l.Note(session, account, []Minted{remade}, known, items)
}

// refusedPrefix starts the conversation notes that say an account refused
// items of a kind.
const refusedPrefix = "refused:"

// OnlyBy reports whether a conversation's notes (its binding's Minters)
// show nothing from another account than account, and no refusal by it: a
// request for it then needs no look at its items. It allocates nothing:
// it runs on every sticky turn.
func OnlyBy(notes []string, account string) bool {
	for _, n := range notes {
		if n != account {
			return false
		}
	}
	return true
}

// RefusedBy is the kinds account refused in a conversation, by its notes,
// although nothing showed another account minted them.
func RefusedBy(notes []string, account string) Kind {
	var k Kind
	for _, n := range notes {
		rest, ok := strings.CutPrefix(n, refusedPrefix)
		if !ok {
			continue
		}
		if kind, who, ok := strings.Cut(rest, ":"); ok && who == account {
			k |= ParseKind(kind)
		}
	}
	return k
}
