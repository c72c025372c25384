// Package server assembles the proxy's HTTP surface on one listener: the
// API routes served by the relay, the model list, health, and in front of
// them the checks that a request comes from the user's own program (its
// Host and Origin) and bears a client key.
package server

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/backendapi"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// Options is what the HTTP surface is built from.
type Options struct {
	Relay    *relay.Relay
	Accounts func() []*account.Account
	// Keys are the client keys, read on every request so a reload's
	// Replace takes effect at once; nil or empty: no client authentication.
	Keys *KeySet
	// Admin, when set, serves /_proxy/ and /metrics behind the same client
	// key rule as the API.
	Admin http.Handler
	// Backend, when set, serves the ChatGPT backend's paths Codex calls
	// under chatgpt_base_url (/backend-api/, /api/codex/), behind the same
	// client key rule as the API.
	Backend http.Handler
	// Logger receives a WARN line for each refused client credential
	// (its kind and the client's address, never the credential) and each
	// request refused as a web page's; nil: none.
	Logger *slog.Logger
	// Hosts is the names the proxy answers to in a request's Host; nil:
	// only IP addresses and localhost (NewHostRule("", nil)).
	Hosts *HostRule
}

// ClientKey is a key clients may present, known by its name.
type ClientKey struct {
	Name string
	Key  string
	// Role is the key's role; "" is an admin's while no key of its set
	// names a role, and a user's once one does.
	Role identity.Role
}

// New returns the proxy's handler.
func New(o Options) http.Handler {
	api := http.NewServeMux()
	// No method in the pattern for the API routes: the relay serves a
	// WebSocket GET on /responses (426 elsewhere) and answers anything
	// else but POST with 405, OpenAI-shaped.
	// One model list for both prefixes: one cache, one build at a time.
	models := o.Relay.Models(o.Accounts)
	for _, prefix := range []string{"", "/v1"} {
		api.Handle(prefix+"/responses", o.Relay.Handler("/responses"))
		api.Handle(prefix+"/responses/compact", o.Relay.Handler("/responses/compact"))
		api.Handle(prefix+"/chat/completions", o.Relay.ChatHandler())
		api.Handle("GET "+prefix+"/models", models)
	}
	if o.Admin != nil {
		api.Handle("/_proxy/", o.Admin)
		api.Handle("/metrics", o.Admin)
	}
	if o.Backend != nil {
		api.Handle(backendapi.Prefix, o.Backend)
		api.Handle(backendapi.CodexPrefix, o.Backend)
	}
	api.HandleFunc("/", notFound)

	root := http.NewServeMux()
	// Health stays open so load balancers need no key, and it is exempt
	// from the Host and Origin checks: a probe may name the proxy by any
	// name (a container's, a service's), and "ok" tells a web page nothing
	// and changes nothing.
	root.HandleFunc("GET /healthz", healthz)
	// Besides the client keys, the current access token of a configured
	// ChatGPT account is accepted: Codex signed in with that login sends it.
	hosts := o.Hosts
	if hosts == nil {
		hosts = NewHostRule("", nil)
	}
	root.Handle("/", requireOwnClient(hosts, o.Logger,
		requireClientKey(clientAuth{keys: o.Keys, logins: AccountLogins(o.Accounts), logger: o.Logger}, api)))
	return root
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	apierror.New(http.StatusNotFound, apierror.TypeInvalidRequest,
		"no route "+r.Method+" "+r.URL.Path+"; this proxy serves POST /v1/responses, POST /v1/responses/compact, POST /v1/chat/completions and GET /v1/models").
		WithCode("unknown_route").Write(w)
}
