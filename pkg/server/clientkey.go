package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// requireClientKey admits requests bearing one of keys and records the
// key's name for the relay. With no keys configured every request passes
// (the proxy then only listens on loopback).
func requireClientKey(keys []ClientKey, next http.Handler) http.Handler {
	if len(keys) == 0 {
		return next
	}
	// Compare fixed-size digests so neither the key's content nor its
	// length leaks through timing.
	digests := make([][sha256.Size]byte, len(keys))
	for i, k := range keys {
		digests[i] = sha256.Sum256([]byte(k.Key))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			presented = r.Header.Get("X-Api-Key")
		}
		got := sha256.Sum256([]byte(presented))
		name := ""
		for i, d := range digests {
			if subtle.ConstantTimeCompare(got[:], d[:]) == 1 {
				name = keys[i].Name
			}
		}
		if presented == "" || name == "" {
			msg := "missing client key: send Authorization: Bearer <key> with one of the keys in the proxy's client_keys"
			if presented != "" {
				msg = "invalid client key: the key sent is not one of the proxy's client_keys"
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
