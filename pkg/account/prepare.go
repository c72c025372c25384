package account

import (
	"fmt"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/session"
)

// Prepare adapts a request body to what the account's upstream accepts and
// says whether the answer must be gathered back into one JSON response.
// The ChatGPT backend serves /responses only as an unstored stream, so for
// a ChatGPT account a non-streaming request is sent with stream:true (the
// relay then gathers the stream into the JSON the client asked for) and
// store is forced to false. Other bodies are sent as they came, without a
// copy.
func (a *Account) Prepare(suffix string, body []byte, req session.Request) (out []byte, gather bool, err error) {
	if a.Type != OpenAIResponses || suffix != "/responses" {
		return body, false, nil
	}
	out = body
	if !req.Stream {
		if out, err = jsonscan.Set(out, "stream", "true"); err != nil {
			return nil, false, fmt.Errorf("setting stream for account %s: %w", a.Name, err)
		}
		gather = true
	}
	if !req.NoStore {
		if out, err = jsonscan.Set(out, "store", "false"); err != nil {
			return nil, false, fmt.Errorf("setting store for account %s: %w", a.Name, err)
		}
	}
	return out, gather, nil
}
