package relay

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// The account APIs. The relay loop speaks Responses whatever came in;
// here, at the send, a request takes the form its account's API reads,
// and the account's answer is made Responses events again.

// sendForm is one request as one account takes it.
type sendForm struct {
	body   []byte
	suffix string // the upstream path: "/responses", "/responses/compact" or "/chat/completions"
	// gather: the client asked for JSON but the account is sent a stream,
	// so the stream is gathered into the JSON answer.
	gather bool
	// chat: the account speaks Chat Completions, so its answer is rebuilt
	// as Responses events (plan maps tool names back; nil when the body
	// is the client's own chat request).
	chat bool
	plan *translate.Plan
	// passthrough: the client's chat request went byte for byte, and its
	// answer goes back so (each chunk rides beside the rebuilt events).
	passthrough bool
	// translated says what translating left out or changed, for the record.
	translated string
}

// formFor shapes body for account a: the model renamed by its model_map,
// and for an account that speaks only Chat Completions, the request
// translated (or the client's own chat request, when it came as one).
func (rl *Relay) formFor(ctx context.Context, a *account.Account, suffix string, body []byte, req session.Request) (sendForm, error) {
	door := chatDoorFrom(ctx)
	model := a.MapModel(req.Model)
	if !a.ChatCompletions() {
		out, gather, err := a.Prepare(suffix, body, req)
		if err != nil {
			return sendForm{}, err
		}
		if model != req.Model {
			if out, err = jsonscan.Set(out, "model", strconv.Quote(model)); err != nil {
				return sendForm{}, fmt.Errorf("mapping the model for account %s: %w", a.Name, err)
			}
		}
		// A translated chat request always asks for a stream, and the
		// front door gathers it for a client that asked for JSON: the
		// ChatGPT backend's last event may lack the output its items had.
		if door != nil {
			gather = false
		}
		f := sendForm{body: out, suffix: suffix, gather: gather}
		if door != nil {
			f.translated = strings.Join(door.req.Notes, "; ")
		}
		return f, nil
	}
	f := sendForm{suffix: "/chat/completions", chat: true}
	if door != nil {
		f.body, f.passthrough = door.body, true
		if model != req.Model {
			out, err := jsonscan.Set(door.body, "model", strconv.Quote(model))
			if err != nil {
				return sendForm{}, fmt.Errorf("mapping the model for account %s: %w", a.Name, err)
			}
			f.body = out
		}
		return f, nil
	}
	out, plan, err := translate.ResponsesToChat(body, translate.ChatOptions{Model: model})
	if err != nil {
		return sendForm{}, fmt.Errorf("translating the request for account %s, which speaks only Chat Completions: %w", a.Name, err)
	}
	f.body, f.plan, f.gather = out, plan, !req.Stream
	if dropped := plan.Dropped(); len(dropped) > 0 {
		f.translated = "left out for a chat-only account: " + strings.Join(dropped, ", ")
	}
	return f, nil
}

// answer makes a chat account's successful answer a Responses event
// stream. An error answer is OpenAI-shaped in both APIs and goes as it
// came; so does a passed-through request's JSON answer, which its client
// reads as is. Anything not labelled JSON or SSE is left for the not-the-
// API check.
func (f *sendForm) answer(resp *http.Response, rl *Relay) {
	if !f.chat || resp.StatusCode/100 != 2 || !health.IsAPIAnswer(resp.Header, nil) {
		return
	}
	if f.passthrough && !isEventStream(resp.Header) {
		return
	}
	resp.Body = translate.Rebuild(resp.Body, resp.Header.Get("Content-Type"), f.plan, translate.RebuildOptions{
		MaxEvent: rl.o.MaxEventBytes, Passthrough: f.passthrough, Now: rl.o.Now,
	})
	resp.Header.Set("Content-Type", "text/event-stream")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
}

// upstreamSuffix is the path a request for suffix takes on a.
func upstreamSuffix(a *account.Account, suffix string) string {
	if a.ChatCompletions() {
		return "/chat/completions"
	}
	return suffix
}

// apiName is the Decision's name of the API a speaks, "" for Responses.
func apiName(a *account.Account) string {
	if a.ChatCompletions() {
		return event.APIChat
	}
	return ""
}
