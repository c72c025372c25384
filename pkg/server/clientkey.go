package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/identity"
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
	roles   []identity.Role // each key's role, made effective (see effectiveRoles)
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
	t := &keyTable{digests: make([][sha256.Size]byte, len(keys)), names: make([]string, len(keys)), roles: effectiveRoles(keys, len(s.pinned))}
	for i, k := range keys {
		// Compare fixed-size digests so neither the key's content nor its
		// length leaks through timing.
		t.digests[i] = sha256.Sum256([]byte(k.Key))
		t.names[i] = k.Name
	}
	s.table.Store(t)
}

// effectiveRoles is each key's role as the proxy applies it: while no key
// names one, every key is an admin's (a config from before roles keeps
// today's behaviour, and nobody who upgrades is locked out of `proxy
// watch`); once one does, a key that names none is a user's. The last
// pinned keys are the proxy's own and say their role themselves.
func effectiveRoles(keys []ClientKey, pinned int) []identity.Role {
	named := false
	for _, k := range keys[:len(keys)-min(pinned, len(keys))] {
		named = named || k.Role != ""
	}
	roles := make([]identity.Role, len(keys))
	for i, k := range keys {
		switch {
		case k.Role != "":
			roles[i] = k.Role
		case named:
			roles[i] = identity.User
		default:
			roles[i] = identity.Admin
		}
	}
	return roles
}

// RolesConfigured reports whether a key of the set names a role.
func (s *KeySet) RolesConfigured() bool {
	t := s.load()
	if t == nil {
		return false
	}
	for _, r := range t.roles {
		if r == identity.User {
			return true
		}
	}
	return false
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

// LoginOwner returns the name of the configured ChatGPT account whose
// current access token is token, false when none is. The server asks it
// about a presented credential that is no client key: Codex with a ChatGPT
// login sends the user's own access token, and when that login is one of
// the proxy's accounts the caller has proven to hold it.
type LoginOwner func(token string) (name string, ok bool)

// AccountLogins is the LoginOwner over accounts: it compares token with each
// openai-responses account's access token as that account would send it
// upstream now, so a rotated token is accepted at once and the old one no
// longer. Only a token equal to a current one counts; a JWT's claims alone
// (its chatgpt_account_id) prove nothing, as anyone can write them.
func AccountLogins(accounts func() []*account.Account) LoginOwner {
	return func(token string) (string, bool) {
		if accounts == nil || !looksLikeJWT(token) {
			return "", false
		}
		got := sha256.Sum256([]byte(token))
		name := ""
		for _, a := range accounts() {
			if a.Type != account.OpenAIResponses {
				continue
			}
			h := http.Header{}
			a.Authorize(h)
			current, ok := bearer(h.Get("Authorization"))
			if !ok {
				continue
			}
			want := sha256.Sum256([]byte(current))
			if subtle.ConstantTimeCompare(got[:], want[:]) == 1 && name == "" {
				name = a.Name
			}
		}
		return name, name != ""
	}
}

// loginClientPrefix marks a client admitted by its ChatGPT login in
// bindings, logs and metrics, apart from the client_keys' names.
const loginClientPrefix = "login:"

// clientAuth is what requireClientKey checks a request against.
type clientAuth struct {
	keys   *KeySet
	logins LoginOwner   // nil: only client keys are accepted
	logger *slog.Logger // where refused credentials are reported
}

// requireClientKey admits requests bearing one of the keys in the set at the
// time of the request, or the current access token of one of the proxy's
// ChatGPT accounts, and records the key's name (or "login:" and the
// account's) for the relay. While the set is empty every request passes
// (the proxy then only listens on loopback: serve refuses a reload that
// empties it otherwise). A refused request is logged at WARN with the kind
// of credential and the client's address, never the credential.
func requireClientKey(auth clientAuth, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := auth.keys.load()
		r = auth.dropCredentials(t, r)
		if t == nil || len(t.digests) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		presented, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			presented = r.Header.Get("X-Api-Key")
		}
		caller := auth.admit(t, presented)
		if caller.Name == "" {
			refuse(w, r, auth.logger, presented)
			return
		}
		ctx := identity.With(r.Context(), caller)
		// A WebSocket outlives this check: each of its requests checks
		// the key again, so a key a reload removed stops working at once.
		if r.Header.Get("Upgrade") != "" {
			ctx = relay.WithClientCheck(ctx, func() bool {
				t := auth.keys.load()
				return t == nil || len(t.digests) == 0 || auth.admit(t, presented).Name != ""
			})
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// dropCredentials returns r without the query parameters whose value is a
// credential the proxy accepts: a client key, or the current access token
// of one of its ChatGPT accounts, whatever the parameter's name (api_key,
// key, ...). The relay passes the query on to the account, so a client
// that also puts its key in the URL would hand it over. The parameters
// kept keep their bytes and order; r itself comes back when none goes.
func (auth clientAuth) dropCredentials(t *keyTable, r *http.Request) *http.Request {
	raw := r.URL.RawQuery
	if raw == "" {
		return r
	}
	var kept []string
	dropped := false
	for _, kv := range strings.Split(raw, "&") {
		_, v, _ := strings.Cut(kv, "=")
		if auth.accepts(t, v) {
			dropped = true
			continue
		}
		kept = append(kept, kv)
	}
	if !dropped {
		return r
	}
	out := r.Clone(r.Context())
	out.URL.RawQuery = strings.Join(kept, "&")
	out.RequestURI = out.URL.RequestURI()
	return out
}

// accepts reports whether a query value, as written or decoded, is a
// client key or a login the proxy admits.
func (auth clientAuth) accepts(t *keyTable, written string) bool {
	if written == "" {
		return false
	}
	values := []string{written}
	if decoded, err := url.QueryUnescape(written); err == nil && decoded != written {
		values = append(values, decoded)
	}
	for _, v := range values {
		if t != nil && t.holds(v) {
			return true
		}
		if auth.logins != nil {
			if _, ok := auth.logins(v); ok {
				return true
			}
		}
	}
	return false
}

// holds reports whether key is one of the table's, by its digest.
func (t *keyTable) holds(key string) bool {
	got := sha256.Sum256([]byte(key))
	found := false
	for _, d := range t.digests {
		if subtle.ConstantTimeCompare(got[:], d[:]) == 1 {
			found = true
		}
	}
	return found
}

// admit returns the name the presented credential is admitted under: a
// client key's, or "login:" and a ChatGPT account's; "" when refused.
func (auth clientAuth) admit(t *keyTable, presented string) identity.Caller {
	if presented == "" {
		return identity.Caller{}
	}
	got := sha256.Sum256([]byte(presented))
	var c identity.Caller
	for i, d := range t.digests {
		if subtle.ConstantTimeCompare(got[:], d[:]) == 1 {
			c = identity.Caller{Name: t.names[i], Role: t.roles[i]}
		}
	}
	if c.Name == "" && auth.logins != nil {
		// Holding the current token of one of the proxy's own ChatGPT
		// accounts is holding the account: its owner's.
		if owner, ok := auth.logins(presented); ok {
			c = identity.Caller{Name: loginClientPrefix + owner, Role: identity.Admin, Login: true}
		}
	}
	return c
}

// howToSend ends every refusal: what the proxy expects, and where Codex
// users find the setting that sends it.
const howToSend = "send Authorization: Bearer <one of the proxy's client_keys> " +
	"(for Codex CLI: export the variable the provider's env_key names; `proxy codex config` prints the provider block)"

// refuse answers 401 with what was expected and logs the refusal.
func refuse(w http.ResponseWriter, r *http.Request, logger *slog.Logger, presented string) {
	kind := credentialKind(presented)
	var msg string
	switch {
	case presented == "":
		msg = "missing client key: " + howToSend
	case kind == kindChatGPT:
		msg = "invalid client key: the ChatGPT access token sent is not the current token of any of the proxy's ChatGPT accounts; " +
			"import this login with `proxy accounts import-codex`, or " + howToSend
	default:
		msg = "invalid client key: the key sent is not one of the proxy's client_keys; " + howToSend
	}
	if logger != nil {
		logger.Warn("client credential refused", "credential", kind, "client", r.RemoteAddr,
			"method", r.Method, "path", r.URL.Path)
	}
	closeUnread(w, r)
	apierror.New(http.StatusUnauthorized, apierror.TypeAuthentication, msg).WithCode("invalid_api_key").Write(w)
}

// closeUnread is for a request refused before its body is read: close the
// connection after the answer, and let no read wait for the body, or
// net/http would drain a body a hostile client may trickle for ever.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

const kindChatGPT = "a ChatGPT token"

// credentialKind describes a presented credential for a log line without
// revealing it: its kind, or only its length.
func credentialKind(presented string) string {
	switch {
	case presented == "":
		return "no credential"
	case looksLikeJWT(presented):
		if claims, err := codexauth.Claims(presented); err == nil {
			if _, ok := claims["https://api.openai.com/auth"]; ok {
				return kindChatGPT
			}
		}
		return "a JWT"
	case strings.HasPrefix(presented, "sk-"):
		return fmt.Sprintf("an sk- key of %d chars", len(presented))
	default:
		return fmt.Sprintf("a key of %d chars", len(presented))
	}
}

// looksLikeJWT reports three non-empty dot-separated parts, the first of
// them base64url JSON: cheap enough to run before comparing with tokens.
func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	head, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	return err == nil && len(head) > 0 && head[0] == '{'
}

func bearer(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):]), true
	}
	return "", false
}
