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
// store is forced to false. The backend also refuses an output limit,
// temperature, top_p and the penalties (400 "Unsupported parameter"), so
// they are left out: it sets its own. Other bodies are sent as they came,
// without a copy.
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
	if req.Sampling {
		if out, err = jsonscan.Delete(out, chatGPTRefuses...); err != nil {
			return nil, false, fmt.Errorf("leaving out what the ChatGPT backend refuses for account %s: %w", a.Name, err)
		}
	}
	return out, gather, nil
}

// chatGPTRefuses are the request fields the ChatGPT backend answers with
// 400 {"detail":"Unsupported parameter: ..."}.
var chatGPTRefuses = []string{"max_output_tokens", "temperature", "top_p", "frequency_penalty", "presence_penalty"}
