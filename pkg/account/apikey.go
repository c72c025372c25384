package account

import "net/http"

// apiKey is the credential of an OpenAI-compatible account.
type apiKey string

func (k apiKey) authorize(h http.Header) {
	h.Set("Authorization", "Bearer "+string(k))
}

func (k apiKey) fingerprint() string { return fingerprint(string(k)) }

func (k apiKey) id() string { return hashID(string(k)) }

func (k apiKey) secrets() []string { return []string{string(k)} }
