// Package codexauthtest builds test credentials in the shapes Codex uses.
package codexauthtest

import (
	"encoding/base64"
	"encoding/json"
)

// JWT returns an unsigned JWT carrying claims. The proxy reads claims (exp,
// the ChatGPT account id) but never verifies signatures: it is not the
// issuer. It panics on claims that do not marshal, a test's own mistake.
func JWT(claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + ".sig"
}
