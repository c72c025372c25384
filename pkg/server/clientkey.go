package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// KeySet is the client keys the proxy accepts. A reload swaps the whole set
// at once, so a rotated key is refused from the next request on and a new
// one admitted, with no request ever seeing half of each. The zero value
// and a nil *KeySet hold no keys.
type KeySet struct {
	table  atomic.Pointer[keyTable]
	pinned []ClientKey // kept across every Replace; see NewKeySetPinned
}

// keyTable is one immutable generation of keys. Only the digests are kept:
// the keys themselves are not needed to check a presented one.
type keyTable struct {
	digests [][sha256.Size]byte
	names   []string
}

// NewKeySet returns a set holding keys.
func NewKeySet(keys []ClientKey) *KeySet {
	s := &KeySet{}
	s.Replace(keys)
	return s
}

// NewKeySetPinned returns a set holding keys plus pinned, which every later
// Replace keeps while the set holds any key: the proxy's own watch screen
// keeps working when the user rotates the configured keys.
func NewKeySetPinned(keys []ClientKey, pinned ...ClientKey) *KeySet {
	s := &KeySet{pinned: pinned}
	s.Replace(keys)
	return s
}

// Replace makes keys the accepted set for every request that starts after
// it returns; requests already admitted are not affected.
func (s *KeySet) Replace(keys []ClientKey) {
	if len(keys) > 0 && len(s.pinned) > 0 {
		keys = append(append([]ClientKey(nil), keys...), s.pinned...)
	}
	t := &keyTable{digests: make([][sha256.Size]byte, len(keys)), names: make([]string, len(keys))}
	for i, k := range keys {
		// Compare fixed-size digests so neither the key's content nor its
		// length leaks through timing.
		t.digests[i] = sha256.Sum256([]byte(k.Key))
		t.names[i] = k.Name
	}
	s.table.Store(t)
}

// Len is the number of keys in the set; 0 means clients are not checked.
func (s *KeySet) Len() int {
	if t := s.load(); t != nil {
		return len(t.digests)
	}
	return 0
}

func (s *KeySet) load() *keyTable {
	if s == nil {
		return nil
	}
	return s.table.Load()
}

// requireClientKey admits requests bearing one of the keys in the set at the
// time of the request and records the key's name for the relay. While the
// set is empty every request passes (the proxy then only listens on
// loopback: serve refuses a reload that empties it otherwise).
func requireClientKey(keys *KeySet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := keys.load()
		if t == nil || len(t.digests) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		presented, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			presented = r.Header.Get("X-Api-Key")
		}
		got := sha256.Sum256([]byte(presented))
		name := ""
		for i, d := range t.digests {
			if subtle.ConstantTimeCompare(got[:], d[:]) == 1 {
				name = t.names[i]
			}
		}
		if presented == "" || name == "" {
			msg := "missing client key: send Authorization: Bearer <key> with one of the keys in the proxy's client_keys"
			if presented != "" {
				msg = "invalid client key: the key sent is not one of the proxy's client_keys"
			}
			// Refused before its body is read: close the connection after
			// the answer, and let no read wait for the body, or net/http
			// would drain a body a hostile client may trickle for ever.
			if r.ContentLength != 0 {
				w.Header().Set("Connection", "close")
				_ = http.NewResponseController(w).SetReadDeadline(time.Now())
			}
			apierror.New(http.StatusUnauthorized, apierror.TypeAuthentication, msg).WithCode("invalid_api_key").Write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(relay.WithClient(r.Context(), name)))
	})
}

func bearer(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):]), true
	}
	return "", false
}
