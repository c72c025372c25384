package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
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
}

// Hash fields of a binding key. Times are unix milliseconds.
const (
	fieldAccount  = "account"
	fieldType     = "type"
	fieldModel    = "model"
	fieldClient   = "client"
	fieldCreated  = "created"
	fieldLastUsed = "last_used"
)

// lookupScript reads a binding and refreshes it in the same round trip, and
// creates nothing when the key is gone (a plain HSET would resurrect an
// expired binding as a hash holding only last_used).
// KEYS[1] binding key; ARGV[1] now (ms); ARGV[2] ttl (ms).
var lookupScript = redis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return false end
redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
`)

// bindScript is SET NX for a hash: it writes the binding only when none
// exists, else refreshes and returns the one in force. Being a script it is
// atomic, so concurrent first requests, even on different proxies, agree.
// KEYS[1] binding key; ARGV[1] now (ms); ARGV[2] ttl (ms); ARGV[3..8] account,
// type, model, client, created, last_used. Returns 1 when it created the
// binding, else the existing hash's field/value pairs.
var bindScript = redis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then
  redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return v
end
redis.call('HSET', KEYS[1], 'account', ARGV[3], 'type', ARGV[4], 'model', ARGV[5],
  'client', ARGV[6], 'created', ARGV[7], 'last_used', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// Lookup returns the session's binding and, since the session is in use,
// pushes its expiry back to ttl from now and sets LastUsed: one round trip.
// ok is false when the session has no binding.
func (s *Store) Lookup(ctx context.Context, session string, ttl time.Duration) (Binding, bool, error) {
	if err := checkArgs(session, ttl); err != nil {
		return Binding{}, false, fmt.Errorf("store: lookup %s: %w", session, err)
	}
	now := s.now()
	res, err := lookupScript.Run(ctx, s.client, []string{s.sessionKey(session)},
		now.UnixMilli(), ttl.Milliseconds()).Result()
	if errors.Is(err, redis.Nil) {
		return Binding{}, false, nil
	}
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: lookup %s: %w", session, err)
	}
	b, err := decodeBinding(session, res)
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: lookup %s: %w", session, err)
	}
	b.LastUsed = time.UnixMilli(now.UnixMilli()).UTC()
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
	res, err := bindScript.Run(ctx, s.client, []string{s.sessionKey(b.Session)},
		append([]any{now.UnixMilli(), ttl.Milliseconds()}, bindingArgs(b)...)...).Result()
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: bind %s: %w", b.Session, err)
	}
	if n, ok := res.(int64); ok && n == 1 {
		return b, true, nil
	}
	cur, err := decodeBinding(b.Session, res)
	if err != nil {
		return Binding{}, false, fmt.Errorf("store: bind %s: %w", b.Session, err)
	}
	cur.LastUsed = time.UnixMilli(now.UnixMilli()).UTC()
	return cur, false, nil
}

// Rebind replaces the session's binding unconditionally, for when the bound
// account is gone. The old hash is deleted first so no field of it survives.
// One round trip (MULTI/EXEC).
func (s *Store) Rebind(ctx context.Context, b Binding, ttl time.Duration) error {
	if err := checkBinding(b, ttl); err != nil {
		return fmt.Errorf("store: rebind %s: %w", b.Session, err)
	}
	b = stamp(b, s.now())
	key := s.sessionKey(b.Session)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, bindingFields(b)...)
		p.PExpire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: rebind %s: %w", b.Session, err)
	}
	return nil
}

// Drop deletes the session's binding; dropping a missing one is no error.
func (s *Store) Drop(ctx context.Context, session string) error {
	if session == "" {
		return errors.New("store: drop: empty session")
	}
	if err := s.client.Del(ctx, s.sessionKey(session)).Err(); err != nil {
		return fmt.Errorf("store: drop %s: %w", session, err)
	}
	return nil
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
// are stored, so a returned binding equals what a later Lookup reads.
func stamp(b Binding, now time.Time) Binding {
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

// bindingArgs are the bind script's ARGV[3..8], in its order.
func bindingArgs(b Binding) []any {
	return []any{b.Account, b.Type, b.Model, b.Client, b.Created.UnixMilli(), b.LastUsed.UnixMilli()}
}

func bindingFields(b Binding) []any {
	return []any{
		fieldAccount, b.Account,
		fieldType, b.Type,
		fieldModel, b.Model,
		fieldClient, b.Client,
		fieldCreated, b.Created.UnixMilli(),
		fieldLastUsed, b.LastUsed.UnixMilli(),
	}
}

// decodeBinding reads a script's HGETALL reply: alternating fields and values.
func decodeBinding(session string, res any) (Binding, error) {
	pairs, ok := res.([]any)
	if !ok || len(pairs)%2 != 0 {
		return Binding{}, fmt.Errorf("unexpected reply %T", res)
	}
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, _ := pairs[i].(string)
		v, _ := pairs[i+1].(string)
		m[k] = v
	}
	return bindingFromMap(session, m)
}

// bindingFromMap builds a Binding from a binding hash. A hash without an
// account is reported rather than returned, since routing on it would fail.
func bindingFromMap(session string, m map[string]string) (Binding, error) {
	b := Binding{
		Session: session,
		Account: m[fieldAccount],
		Type:    m[fieldType],
		Model:   m[fieldModel],
		Client:  m[fieldClient],
	}
	if b.Account == "" {
		return Binding{}, errors.New("binding has no account")
	}
	var err error
	if b.Created, err = parseMillis(m[fieldCreated]); err != nil {
		return Binding{}, fmt.Errorf("binding field %s: %w", fieldCreated, err)
	}
	if b.LastUsed, err = parseMillis(m[fieldLastUsed]); err != nil {
		return Binding{}, fmt.Errorf("binding field %s: %w", fieldLastUsed, err)
	}
	return b, nil
}

func parseMillis(s string) (time.Time, error) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}
