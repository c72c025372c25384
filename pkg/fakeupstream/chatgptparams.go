package fakeupstream

import (
	"net/http"
	"slices"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// chatGPTUnsupported are the sampling parameters of the Responses API that
// the ChatGPT Codex backend refuses: it sets its own budget and sampling,
// and answers a request naming one with 400 {"detail":"Unsupported
// parameter: <name>"} (the body many relays have logged), so a proxy that
// passes a client's max_output_tokens on to a ChatGPT account fails here as
// it would there.
var chatGPTUnsupported = []string{"max_output_tokens", "temperature", "top_p", "frequency_penalty", "presence_penalty"}

// unsupportedParameter is the first top-level member of body the ChatGPT
// backend refuses, "" when there is none.
func unsupportedParameter(body []byte) string {
	found := ""
	_ = jsonscan.ObjectFields(body, func(k, _ []byte) bool {
		if slices.Contains(chatGPTUnsupported, string(k)) {
			found = string(k)
			return false
		}
		return true
	})
	return found
}

// unsupportedDetail is the backend's body for the refused parameter name, one
// of chatGPTUnsupported, so it needs no escaping.
func unsupportedDetail(name string) []byte {
	return []byte(`{"detail":"Unsupported parameter: ` + name + `"}`)
}

// writeUnsupportedParameter answers as the backend answers a refused
// parameter.
func writeUnsupportedParameter(w http.ResponseWriter, name string) {
	writeJSONBytes(w, http.StatusBadRequest, unsupportedDetail(name))
}
