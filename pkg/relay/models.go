package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
)

const (
	// modelsCacheFor is how long a model list every account answered is
	// reused: upstream lists change rarely and Codex asks 3-4 times per start.
	modelsCacheFor = time.Minute
	// modelsPartialCacheFor is how long a list some accounts failed to
	// answer is reused: long enough not to hammer a dead account, short
	// enough that its models are back soon after it recovers.
	modelsPartialCacheFor = 10 * time.Second
	// modelsTimeout bounds one build: the wait for every account's list.
	modelsTimeout = 5 * time.Second
	// modelsMaxBody caps one account's answer; the ChatGPT backend's list,
	// instructions included, is about half a megabyte.
	modelsMaxBody = 8 << 20
	// modelsMaxCached bounds the cached lists: one per shape and Codex
	// version, and a client may send any version.
	modelsMaxCached = 16
	// defaultClientVersion is the client_version the proxy sends a ChatGPT
	// account when the client named none (the OpenAI list): the backend
	// refuses a request without one. It is the Codex release the proxy is
	// tested against.
	defaultClientVersion = "0.169.0"
)

// Models serves GET /models and /v1/models in the shape the client asked
// for. With client_version in the query (Codex with a ChatGPT login) it
// answers the ChatGPT backend's {"models":[...]}: the enabled ChatGPT
// accounts' own entries, passed through byte for byte, first account in
// config order winning a slug. API-key accounts are left out of that shape:
// Codex decodes each entry into a ModelInfo with a dozen required fields
// (instructions, truncation policy, reasoning levels, ...) that an API's
// model id does not carry, and one undecodable entry fails the whole list.
// Without client_version it answers the OpenAI list {"object":"list",
// "data":[...]} of every enabled account's models.
//
// Each shape and client_version is built once for all concurrent callers,
// on a context of its own, and cached only when at least one account
// answered; when none did the client gets a 502 and the next request tries
// again.
type Models struct {
	accounts func() []*account.Account
	egress   *account.Egress // each account's client (its proxy_url's)
	now      func() time.Time
	log      *slog.Logger
	timeout  time.Duration
	joined   func() // test hook: a caller is about to wait for a build it did not start

	mu      sync.Mutex
	cache   map[string]*modelsList   // successful builds by modelsKey
	flights map[string]*modelsFlight // builds in progress by modelsKey
}

// Models returns the /v1/models handler for the accounts returned by all.
func (rl *Relay) Models(all func() []*account.Account) *Models {
	return newModels(all, rl.egress, rl.o.Now, rl.o.Logger)
}

func newModels(all func() []*account.Account, egress *account.Egress, now func() time.Time, log *slog.Logger) *Models {
	if log == nil {
		log = slog.Default()
	}
	return &Models{
		accounts: all,
		egress:   egress,
		now:      now,
		log:      log,
		timeout:  modelsTimeout,
		cache:    map[string]*modelsList{},
		flights:  map[string]*modelsFlight{},
	}
}

// modelsList is one built answer.
type modelsList struct {
	body    []byte
	etag    string // Codex shape only: the accounts' common ETag
	xetag   string // the same for X-Models-Etag
	set     string // accountSet it was built from
	expires time.Time
}

// modelsFlight is a build in progress; list and err are set before done
// closes.
type modelsFlight struct {
	done chan struct{}
	list *modelsList
	err  *apierror.Error
}

// ServeHTTP answers with the model list in the shape the query asks for.
func (m *Models) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version := r.URL.Query().Get("client_version")
	codex := version != ""
	if codex && !validClientVersion(version) {
		apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"client_version must be a version such as 0.169.0").WithParam("client_version").WithCode("invalid_client_version").Write(w)
		return
	}
	key := "openai"
	if codex {
		key = "codex/" + version
	}
	accounts := m.accounts()
	set := accountSet(accounts)

	m.mu.Lock()
	if c := m.cache[key]; c != nil && c.set == set && m.now().Before(c.expires) {
		m.mu.Unlock()
		c.write(w)
		return
	}
	fl, building := m.flights[key]
	if !building {
		fl = &modelsFlight{done: make(chan struct{})}
		m.flights[key] = fl
		// Detached from this caller: one client hanging up must not fail
		// the build the others are waiting for.
		go m.run(context.WithoutCancel(r.Context()), key, set, fl, accounts, codex, version)
	}
	m.mu.Unlock()
	if building && m.joined != nil {
		m.joined()
	}

	select {
	case <-fl.done:
	case <-r.Context().Done():
		return // the client is gone; the build goes on for the others
	}
	if fl.err != nil {
		fl.err.Write(w)
		return
	}
	fl.list.write(w)
}

func (l *modelsList) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(l.body)))
	if l.etag != "" {
		h.Set("ETag", l.etag)
	}
	if l.xetag != "" {
		h.Set("X-Models-Etag", l.xetag)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(l.body)
}

// run builds one list, caches it when it is worth keeping and hands it to
// every caller waiting on fl.
func (m *Models) run(ctx context.Context, key, set string, fl *modelsFlight, accounts []*account.Account, codex bool, version string) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	list, complete, err := m.build(ctx, accounts, codex, version)

	m.mu.Lock()
	delete(m.flights, key)
	if err == nil {
		ttl := modelsCacheFor
		if !complete {
			ttl = modelsPartialCacheFor
		}
		list.set, list.expires = set, m.now().Add(ttl)
		m.store(key, list)
	}
	m.mu.Unlock()

	fl.list, fl.err = list, err
	close(fl.done)
}

// store caches list under key, first dropping expired lists and, when still
// full, the one that expires first. The caller holds m.mu.
func (m *Models) store(key string, list *modelsList) {
	now := m.now()
	for k, c := range m.cache {
		if !now.Before(c.expires) {
			delete(m.cache, k)
		}
	}
	if _, ok := m.cache[key]; !ok && len(m.cache) >= modelsMaxCached {
		var oldest string
		for k, c := range m.cache {
			if oldest == "" || c.expires.Before(m.cache[oldest].expires) {
				oldest = k
			}
		}
		delete(m.cache, oldest)
	}
	m.cache[key] = list
}

// accountAnswer is what one account said about its models.
type accountAnswer struct {
	models [][]byte // Codex entries, byte for byte
	slugs  []string // their slugs, index for index
	ids    []string // every model id, both shapes
	etag   string
	xetag  string
	err    error
}

// errNoListing is an upstream without a model listing (404): it counts as
// an answer with no models, as an API that serves /responses only.
var errNoListing = errors.New("upstream has no model listing")

// build asks the accounts concurrently and merges their answers. complete
// is false when some account failed; an error means none answered.
func (m *Models) build(ctx context.Context, all []*account.Account, codex bool, version string) (*modelsList, bool, *apierror.Error) {
	var asked []*account.Account
	for _, a := range all {
		if a.Enabled && (!codex || a.Type == account.OpenAIResponses) {
			asked = append(asked, a)
		}
	}
	answers := make([]accountAnswer, len(asked))
	var wg sync.WaitGroup
	for i, a := range asked {
		query := ""
		if codex {
			query = "client_version=" + url.QueryEscape(version)
		} else if a.Type == account.OpenAIResponses {
			query = "client_version=" + defaultClientVersion
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = m.fetch(ctx, a, query)
		}()
	}
	wg.Wait()

	var failed []string
	for i, ans := range answers {
		if ans.err != nil && !errors.Is(ans.err, errNoListing) {
			m.log.Warn("model list failed", "account", asked[i].Name, "err", ans.err)
			failed = append(failed, asked[i].Name+": "+ans.err.Error())
		}
	}
	if len(asked) > 0 && len(failed) == len(asked) {
		return nil, false, apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
			"no account answered the model list ("+strings.Join(failed, "; ")+"); try again shortly").WithCode("upstream_unreachable")
	}
	complete := len(failed) == 0
	if codex {
		return codexList(asked, answers, complete), complete, nil
	}
	return openAIList(asked, answers), complete, nil
}

// codexList merges the ChatGPT accounts' entries in config order, each
// filtered by its account's allow-list, the first account winning a slug.
// The upstreams' ETag is passed on only when the list is complete and every
// account that answered gave the same one: Codex compares it with the
// x-models-etag of later responses to decide when to ask again.
func codexList(asked []*account.Account, answers []accountAnswer, complete bool) *modelsList {
	var body bytes.Buffer
	body.WriteString(`{"models":[`)
	seen := map[string]bool{}
	etag, xetag, sameTags, n := "", "", true, 0
	for i, ans := range answers {
		if ans.err != nil {
			continue
		}
		if n == 0 {
			etag, xetag = ans.etag, ans.xetag
		} else if ans.etag != etag || ans.xetag != xetag {
			sameTags = false
		}
		n++
		for j, raw := range ans.models {
			slug := ans.slugs[j]
			if slug == "" || seen[slug] || !asked[i].Serves(slug) {
				continue
			}
			seen[slug] = true
			if len(seen) > 1 {
				body.WriteByte(',')
			}
			body.Write(raw)
		}
	}
	body.WriteString(`]}`)
	l := &modelsList{body: body.Bytes()}
	if complete && sameTags {
		l.etag, l.xetag = etag, xetag
	}
	return l
}

// openAIList is the OpenAI list of every model any account serves, sorted.
// An account that could not list its models contributes the literal names
// of its allow-list.
func openAIList(asked []*account.Account, answers []accountAnswer) *modelsList {
	type entry struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	seen := map[string]bool{}
	data := []entry{}
	for i, ans := range answers {
		ids := ans.ids
		if ans.err != nil || len(ids) == 0 {
			ids = literalModels(asked[i].Models)
		}
		for _, id := range clientNames(asked[i], ids) {
			if id != "" && !seen[id] && asked[i].Serves(id) {
				seen[id] = true
				data = append(data, entry{ID: id, Object: "model", OwnedBy: "proxy"})
			}
		}
	}
	sort.Slice(data, func(i, j int) bool { return data[i].ID < data[j].ID })
	body, _ := json.Marshal(struct {
		Object string  `json:"object"`
		Data   []entry `json:"data"`
	}{"list", data}) // cannot fail: strings and ints only
	return &modelsList{body: body}
}

// fetch asks one account for its models. Errors say what went wrong without
// the URL, which may carry credentials.
func (m *Models) fetch(ctx context.Context, a *account.Account, query string) accountAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Target("/models", query), nil)
	if err != nil {
		return accountAnswer{err: errors.New("invalid base_url")}
	}
	req.Header.Set("Accept", "application/json")
	a.Authorize(req.Header)
	resp, err := m.egress.Client(a).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return accountAnswer{err: errors.New("no answer in time")}
		}
		return accountAnswer{err: fmt.Errorf("request failed: %w", err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return accountAnswer{err: errNoListing}
	case resp.StatusCode != http.StatusOK:
		return accountAnswer{err: fmt.Errorf("status %d", resp.StatusCode)}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, modelsMaxBody+1))
	if err != nil {
		return accountAnswer{err: fmt.Errorf("reading the list: %w", err)}
	}
	if len(raw) > modelsMaxBody {
		return accountAnswer{err: fmt.Errorf("list larger than %d bytes", modelsMaxBody)}
	}
	var body struct {
		Data   []json.RawMessage `json:"data"`   // OpenAI: {"object":"list","data":[{"id"}]}
		Models []json.RawMessage `json:"models"` // ChatGPT backend: {"models":[{"slug"}]}
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return accountAnswer{err: errors.New("the list is not the JSON expected")}
	}
	ans := accountAnswer{etag: resp.Header.Get("ETag"), xetag: resp.Header.Get("X-Models-Etag")}
	for _, d := range body.Data {
		var e struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(d, &e) == nil && e.ID != "" {
			ans.ids = append(ans.ids, e.ID)
		}
	}
	for _, d := range body.Models {
		var e struct {
			Slug string `json:"slug"`
		}
		if json.Unmarshal(d, &e) == nil && e.Slug != "" {
			ans.models = append(ans.models, d)
			ans.slugs = append(ans.slugs, e.Slug)
			ans.ids = append(ans.ids, e.Slug)
		}
	}
	return ans
}

// validClientVersion accepts what a client version looks like (0.169.0,
// 1.2.3-alpha.1+build), so an arbitrary query never reaches an upstream.
func validClientVersion(v string) bool {
	if len(v) > 64 {
		return false
	}
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '-', c == '+', c == '_':
		default:
			return false
		}
	}
	return true
}

// accountSet identifies the accounts a list was built from, so a config
// reload that changes them is not answered from the cache.
func accountSet(all []*account.Account) string {
	var b strings.Builder
	for _, a := range all {
		fmt.Fprintf(&b, "%s\x00%s\x00%s\x00%t\x00%s\x00%v\x01", a.Name, a.Type, a.BaseURL, a.Enabled, strings.Join(a.Models, "\x00"), a.ModelMap)
	}
	return b.String()
}

// clientNames are the names a client may ask a for, given the models the
// account itself lists: its model_map's names, and the account's own
// unless a "*" entry sends every other name to one model (then only the
// allow-list's literal names are the client's).
func clientNames(a *account.Account, own []string) []string {
	if len(a.ModelMap) == 0 {
		return own
	}
	out := make([]string, 0, len(a.ModelMap)+len(own))
	for name := range a.ModelMap {
		if name != "*" {
			out = append(out, name)
		}
	}
	if _, all := a.ModelMap["*"]; all {
		return append(out, literalModels(a.Models)...)
	}
	return append(out, own...)
}

// literalModels are the allow-list entries that name one model, not a glob.
func literalModels(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if !strings.ContainsAny(p, "*?[\\") {
			out = append(out, p)
		}
	}
	return out
}
