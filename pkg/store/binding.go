package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/bound"
)

// Binding pins a conversation to the account it started on, so every turn
// reuses that account's prompt cache.
type Binding struct {
	Session  string // session hash (hex)
	Account  string // account name
	Type     string // account type
	Model    string
	Client   string // client key name ("" when no client keys)
	Created  time.Time
	LastUsed time.Time
	// Minters are the conversation's notes kept beside the binding (see
	// NoteConversation): the accounts that minted account-bound items in
	// it, and which refused what. They outlive the binding, so a
	// conversation that comes back finds them.
	Minters []string
}

// A binding is two string keys with the same TTL:
//
//	{prefix}session:{id}  the binding as JSON (storedBinding), written once
//	                      with SET NX so concurrent binders agree
//	{prefix}lastused:{id} LastUsed in unix milliseconds, rewritten by every
//	                      Lookup with SET XX so a miss creates nothing
//
// Every operation on them is plain commands in one MULTI/EXEC: one round
// trip, no Lua. (On the embedded miniredis each EVAL builds a fresh Lua VM,
// about 0.6 ms and 200 KB a call, which dominated the proxy's hot path.)
// The LastUsed key is outside the session: namespace so SCANs for bindings
// do not see it.

// storedBinding is the value of a binding key. Times are unix milliseconds.
// LastUsed is the value when the binding was written; the lastused key,
// when present, holds the current one.
type storedBinding struct {
	Account  string `json:"account"`
	Type     string `json:"type,omitempty"`
	Model    string `json:"model,omitempty"`
	Client   string `json:"client,omitempty"`
	Created  int64  `json:"created"`
	LastUsed int64  `json:"last_used"`
}

func (s *Store) lastUsedKey(session string) string {
	return s.prefix + "lastused:" + session
}

// tx runs fn's commands in one round trip: MULTI/EXEC on a single server. A
// cluster client refuses a transaction whose keys hash to different slots,
// as a binding's two keys do, so there the commands go as a plain pipeline
// (per node, in order); SET NX alone keeps concurrent binders agreeing.
// A redis.Nil reply (GET of a missing key) is not an error here: callers
// read each command's own result.
func (s *Store) tx(ctx context.Context, fn func(redis.Pipeliner) error) error {
	var err error
	if _, ok := s.client.(*redis.ClusterClient); ok {
		_, err = s.client.Pipelined(ctx, fn)
	} else {
		_, err = s.client.TxPipelined(ctx, fn)
	}
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// Lookup returns the session's binding and, since the session is in use,
// pushes its expiry back to ttl from now and sets LastUsed: one round trip.
// ok is false when the session has no binding; a miss writes nothing.
func (s *Store) Lookup(ctx context.Context, session string, ttl time.Duration) (Binding, bool, error) {
	if err := checkArgs(session, ttl); err != nil {
		return Binding{}, false, fmt.Errorf("store: lookup %s: %w", session, err)
	}
	now := s.now()
	if s.local != nil {
		if b, ok := s.local.get(session, now, ttl); ok {
			return b, true, nil
		}
	}
	m := s.localMark()
	key := s.sessionKey(session)
	// A plain pipeline of two commands, no MULTI: GETEX reads and extends
	// at once, and SET XX touches LastUsed only if it exists, so a miss
	// writes nothing and no interleaving can make the pair inconsistent.
	var get *redis.StringCmd
	var minters *redis.StringSliceCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.GetEx(ctx, key, ttl)
		p.SetXX(ctx, s.lastUsedKey(session), now.UnixMilli(), ttl)
		minters = p.SMembers(ctx, s.mintersKey(session))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Binding{}, false, fmt.Errorf("store: lookup %s: %w", session, err)
	}
	v, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return Binding{}, false, nil
	}
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: lookup %s: %w", session, err)
	}
	b, err := decodeBinding(session, v, "")
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: lookup %s: %w", session, err)
	}
	b.LastUsed = time.UnixMilli(now.UnixMilli()).UTC()
	b.Minters = membersOf(minters)
	if s.local != nil {
		s.local.put(b, ttl, m)
	}
	return b, true, nil
}

// Bind stores b only if b.Session has no binding yet and returns the binding
// now in force and whether this call created it. When another request won
// the race, its binding is returned and refreshed as by Lookup. Zero Created
// and LastUsed default to now. One round trip.
func (s *Store) Bind(ctx context.Context, b Binding, ttl time.Duration) (Binding, bool, error) {
	if err := checkBinding(b, ttl); err != nil {
		return Binding{}, false, fmt.Errorf("store: bind %s: %w", b.Session, err)
	}
	now := s.now()
	b = stamp(b, now)
	v, err := encodeBinding(b)
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: bind %s: %w", b.Session, err)
	}
	key, usedKey := s.sessionKey(b.Session), s.lastUsedKey(b.Session)
	m := s.localMark()
	var setNX *redis.BoolCmd
	var get *redis.StringCmd
	var minters *redis.StringSliceCmd
	err = s.tx(ctx, func(p redis.Pipeliner) error {
		setNX = p.SetNX(ctx, key, v, ttl)
		get = p.Get(ctx, key)
		minters = p.SMembers(ctx, s.mintersKey(b.Session))
		p.PExpire(ctx, key, ttl)
		// An existing binding is being used now; a new one starts at
		// b.LastUsed. The lastused key exists exactly when the binding
		// did, so XX then NX picks the right value without a script.
		p.SetXX(ctx, usedKey, now.UnixMilli(), ttl)
		p.SetNX(ctx, usedKey, b.LastUsed.UnixMilli(), ttl)
		return nil
	})
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: bind %s: %w", b.Session, err)
	}
	if err := setNX.Err(); err != nil {
		return Binding{}, false, fmt.Errorf("store: bind %s: %w", b.Session, err)
	}
	b.Minters = membersOf(minters)
	if setNX.Val() {
		if s.local != nil {
			s.local.put(b, ttl, m)
		}
		return b, true, nil
	}
	cur, err := get.Bytes()
	if err != nil {
		// redis.Nil: dropped between our SET NX and GET, which MULTI rules
		// out on a single server.
		return Binding{}, false, fmt.Errorf("store: bind %s: reading the binding in force: %w", b.Session, err)
	}
	got, err := decodeBinding(b.Session, cur, "")
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: bind %s: %w", b.Session, err)
	}
	got.LastUsed = time.UnixMilli(now.UnixMilli()).UTC()
	got.Minters = b.Minters
	if s.local != nil {
		s.local.put(got, ttl, m)
	}
	return got, false, nil
}

// Rebind replaces the session's binding unconditionally, for when the bound
// account is gone. SET replaces the whole value, so nothing of the old
// binding survives. One round trip (MULTI/EXEC).
func (s *Store) Rebind(ctx context.Context, b Binding, ttl time.Duration) error {
	if err := checkBinding(b, ttl); err != nil {
		return fmt.Errorf("store: rebind %s: %w", b.Session, err)
	}
	now := s.now()
	b = stamp(b, now)
	v, err := encodeBinding(b)
	if err != nil {
		return fmt.Errorf("store: rebind %s: %w", b.Session, err)
	}
	done := s.lockLocal(b.Session)
	var minters *redis.StringSliceCmd
	err = s.tx(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.sessionKey(b.Session), v, ttl)
		p.Set(ctx, s.lastUsedKey(b.Session), b.LastUsed.UnixMilli(), ttl)
		minters = p.SMembers(ctx, s.mintersKey(b.Session))
		return nil
	})
	if err != nil {
		done(nil, ttl)
		return fmt.Errorf("store: rebind %s: %w", b.Session, err)
	}
	// The conversation's notes stay: its items are as they were.
	b.Minters = membersOf(minters)
	done(&b, ttl)
	return nil
}

// Drop deletes the session's binding; dropping a missing one is no error.
func (s *Store) Drop(ctx context.Context, session string) error {
	if session == "" {
		return errors.New("store: drop: empty session")
	}
	done := s.lockLocal(session)
	err := s.tx(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.sessionKey(session))
		p.Del(ctx, s.lastUsedKey(session))
		return nil
	})
	done(nil, 0)
	if err != nil {
		return fmt.Errorf("store: drop %s: %w", session, err)
	}
	return nil
}

// lockLocal prepares an embedded store for a write that replaces or
// deletes the session's binding, and returns what ends it: done(b, ttl)
// with the binding Redis now holds (nil when deleted, or when the write
// failed and what Redis holds is unknown). In between, the session has no
// entry (a Lookup reads Redis), no older refresh of it can be written, and
// no round trip still in flight can put the old binding back in the copy.
// Without a copy, done does nothing.
func (s *Store) lockLocal(session string) (done func(b *Binding, ttl time.Duration)) {
	l := s.local
	if l == nil {
		return func(*Binding, time.Duration) {}
	}
	l.writeMu.Lock()
	l.forget(session)
	m := l.mark()
	return func(b *Binding, ttl time.Duration) {
		l.replace(session, b, ttl, m)
		l.writeMu.Unlock()
	}
}

// localMark is the copy's state as a round trip begins; zero without a
// copy.
func (s *Store) localMark() mark {
	if s.local == nil {
		return mark{}
	}
	return s.local.mark()
}

// checkArgs rejects what would write a wrong key or, with a TTL under a
// millisecond, make PEXPIRE delete the binding it means to keep.
func checkArgs(session string, ttl time.Duration) error {
	if session == "" {
		return errors.New("empty session")
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("ttl %v is under 1ms", ttl)
	}
	return nil
}

func checkBinding(b Binding, ttl time.Duration) error {
	if err := checkArgs(b.Session, ttl); err != nil {
		return err
	}
	if b.Account == "" {
		return errors.New("empty account")
	}
	return nil
}

// stamp fills zero times with now and rounds them to the milliseconds that
// are stored, so a returned binding equals what a later Lookup reads. The
// model, the one string in a binding a client chose, is cut to bound.Model.
func stamp(b Binding, now time.Time) Binding {
	b.Model = bound.Cut(b.Model, bound.Model)
	if b.Created.IsZero() {
		b.Created = now
	}
	if b.LastUsed.IsZero() {
		b.LastUsed = b.Created
	}
	b.Created = time.UnixMilli(b.Created.UnixMilli()).UTC()
	b.LastUsed = time.UnixMilli(b.LastUsed.UnixMilli()).UTC()
	return b
}

func encodeBinding(b Binding) ([]byte, error) {
	return json.Marshal(storedBinding{
		Account:  b.Account,
		Type:     b.Type,
		Model:    b.Model,
		Client:   b.Client,
		Created:  b.Created.UnixMilli(),
		LastUsed: b.LastUsed.UnixMilli(),
	})
}

// decodeBinding builds a Binding from a binding key's value and, when not
// empty, its lastused key's value. A binding without an account is reported
// rather than returned, since routing on it would fail.
func decodeBinding(session string, v []byte, lastUsed string) (Binding, error) {
	var sb storedBinding
	if err := json.Unmarshal(v, &sb); err != nil {
		return Binding{}, fmt.Errorf("decoding binding: %w", err)
	}
	if sb.Account == "" {
		return Binding{}, errors.New("binding has no account")
	}
	// The model is cut again on the way out: the key may have been
	// written by an older instance that kept it whole.
	b := Binding{
		Session:  session,
		Account:  sb.Account,
		Type:     sb.Type,
		Model:    bound.Cut(sb.Model, bound.Model),
		Client:   sb.Client,
		Created:  time.UnixMilli(sb.Created).UTC(),
		LastUsed: time.UnixMilli(sb.LastUsed).UTC(),
	}
	if lastUsed != "" {
		ms, err := strconv.ParseInt(lastUsed, 10, 64)
		if err != nil {
			return Binding{}, fmt.Errorf("binding last used %q: %w", lastUsed, err)
		}
		b.LastUsed = time.UnixMilli(ms).UTC()
	}
	return b, nil
}
