package relay

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
)

// modelsCacheFor is how long the pool's model list is reused: upstream
// model lists change rarely and clients may ask on every start.
const modelsCacheFor = time.Minute

// modelsTimeout bounds the wait for one account's model list.
const modelsTimeout = 5 * time.Second

// Models serves GET /v1/models: the union of what the pool's enabled
// accounts list, each filtered by its allow-list, refreshed at most once a
// minute. An account that does not answer contributes the plain names of
// its allow-list.
type Models struct {
	accounts func() []*account.Account
	client   *http.Client
	now      func() time.Time

	mu      sync.Mutex
	cached  []byte
	expires time.Time
}

// Models returns the /v1/models handler for the accounts returned by all.
func (rl *Relay) Models(all func() []*account.Account) *Models {
	return &Models{accounts: all, client: rl.client, now: rl.o.Now}
}

type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ServeHTTP answers with an OpenAI model list.
func (m *Models) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cached == nil || m.now().After(m.expires) {
		m.cached = m.build(r.Context())
		m.expires = m.now().Add(modelsCacheFor)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(m.cached)
}

func (m *Models) build(ctx context.Context) []byte {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		owner = map[string]string{}
	)
	for _, a := range m.accounts() {
		if !a.Enabled {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := m.fetch(ctx, a)
			if ids == nil {
				ids = literalModels(a.Models)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if _, seen := owner[id]; !seen && a.Serves(id) {
					owner[id] = a.Name
				}
			}
		}()
	}
	wg.Wait()
	list := struct {
		Object string       `json:"object"`
		Data   []modelEntry `json:"data"`
	}{Object: "list", Data: []modelEntry{}}
	for id := range owner {
		list.Data = append(list.Data, modelEntry{ID: id, Object: "model", OwnedBy: "proxy"})
	}
	sort.Slice(list.Data, func(i, j int) bool { return list.Data[i].ID < list.Data[j].ID })
	out, _ := json.Marshal(list)
	return out
}

// fetch asks one account for its models; nil when it cannot say.
func (m *Models) fetch(ctx context.Context, a *account.Account) []string {
	ctx, cancel := context.WithTimeout(ctx, modelsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Target("/models", ""), nil)
	if err != nil {
		return nil
	}
	a.Authorize(req.Header)
	resp, err := m.client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var body struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		// The ChatGPT backend lists {"models":[{"slug":...}]}.
		Models []struct {
			Slug string `json:"slug"`
		} `json:"models"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&body); err != nil {
		return nil
	}
	ids := []string{}
	for _, d := range body.Data {
		ids = append(ids, d.ID)
	}
	for _, d := range body.Models {
		ids = append(ids, d.Slug)
	}
	return ids
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
