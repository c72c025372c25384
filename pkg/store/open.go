package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/redact"
)

// ErrUnreachable is wrapped by Open's error when the Redis server at the URL
// did not answer its first ping (down, wrong host or port, firewalled), as
// opposed to a URL that does not parse or a server that refused the login:
// a caller may then open it with SkipPing and run on while it comes back.
var ErrUnreachable = errors.New("redis unreachable")

// Open connects to the Redis server at o.URL, or starts an embedded
// miniredis private to the process when o.URL is empty (no TCP listener; see
// openEmbedded), and pings it once (unless o.SkipPing) so a wrong address
// fails at startup rather than on the first request. Errors name the URL
// without its user info and never show a password (nor one given as a query
// parameter).
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.URL == "" {
		return openEmbedded(ctx, o)
	}
	shown := redact.URL(o.URL)
	// What the client library says may quote part of the URL (an addr=
	// value, a parameter); hide the URL's secrets in it too.
	hide := redact.New(redact.URLSecrets(o.URL))
	client, err := newClient(o.URL)
	if err != nil {
		return nil, fmt.Errorf("store: parsing redis url %s: %w", shown, hidden(hide, parseDetail(o.URL, err)))
	}
	s := New(client, o)
	if o.SkipPing {
		return s, nil
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		_ = s.Close()
		err = hidden(hide, err)
		// A reply from the server (NOAUTH, WRONGPASS) means it is there
		// and refuses us: waiting will not help.
		var reply redis.Error
		if !errors.As(err, &reply) {
			err = unreachable{err}
		}
		return nil, fmt.Errorf("store: connecting to redis %s: %w", shown, err)
	}
	return s, nil
}

// unreachable marks a ping that got no answer; it reads as the cause alone
// and matches ErrUnreachable.
type unreachable struct{ error }

func (u unreachable) Unwrap() error        { return u.error }
func (u unreachable) Is(target error) bool { return target == ErrUnreachable }

// hiddenError is an error whose message had secrets masked; it still
// unwraps to the original, so errors.Is works, but shows only the masked
// text.
type hiddenError struct {
	msg string
	err error
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }

// hidden masks the secrets of set in err's message.
func hidden(set *redact.Set, err error) error {
	msg := err.Error()
	if m := set.String(msg); m != msg {
		return &hiddenError{msg: m, err: err}
	}
	return err
}

// errBadURL stands for the details of a URL that does not parse when they
// could show a password.
var errBadURL = errors.New("not a valid URL (details withheld: they would quote it, password included)")

// parseDetail is what a parse error may say. A URL that does not parse
// cannot be searched for its password, and net/url quotes the piece it
// choked on, which may be part of the password ("redis://:pa/ss@host"
// makes the password look like a port): when the URL could hold one (user
// info or query values), none of the details are kept.
func parseDetail(raw string, err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if strings.ContainsAny(raw, "@=") {
		return errBadURL
	}
	return ue.Err
}

// Short timeouts: a proxy must keep serving when Redis stops answering, so
// no request may wait on it for long. A URL's own query parameters
// (dial_timeout=..., read_timeout=...) win.
const (
	dialTimeout = time.Second
	ioTimeout   = time.Second
)

// newClient builds the client for a URL: a Sentinel-managed master when
// the query names master_name, a Cluster when it lists more nodes with
// addr=, else one server (redis://, rediss://, unix://).
func newClient(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, err
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = orDefault(o.DialTimeout, dialTimeout), orDefault(o.ReadTimeout, ioTimeout), orDefault(o.WriteTimeout, ioTimeout)
		return redis.NewFailoverClient(o), nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, err
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = orDefault(o.DialTimeout, dialTimeout), orDefault(o.ReadTimeout, ioTimeout), orDefault(o.WriteTimeout, ioTimeout)
		return redis.NewClusterClient(o), nil
	default:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = orDefault(o.DialTimeout, dialTimeout), orDefault(o.ReadTimeout, ioTimeout), orDefault(o.WriteTimeout, ioTimeout)
		return redis.NewClient(o), nil
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
