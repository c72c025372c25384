package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// The Chat Completions front door: a chat request becomes the loop's
// Responses request on the way in, and the loop's Responses answer
// becomes chat chunks on the way out (chatWriter). An account that
// speaks Chat Completions itself gets the client's own bytes instead
// (formFor), and its chunks go back as they came.

// chatDoor is what the front door tells the send about the request the
// loop carries.
type chatDoor struct {
	body []byte // the client's chat request, as it came
	req  translate.ChatRequest
}

type chatDoorKey struct{}

// withChatDoor records the chat request behind the loop's request; nil
// says there is none.
func withChatDoor(ctx context.Context, d *chatDoor) context.Context {
	return context.WithValue(ctx, chatDoorKey{}, d)
}

// chatDoorFrom is the chat request behind ctx's request, nil when it came
// as a Responses request.
func chatDoorFrom(ctx context.Context) *chatDoor {
	d, _ := ctx.Value(chatDoorKey{}).(*chatDoor)
	return d
}

// neededAPI is the API an account must speak to serve the request:
// Chat Completions for a chat request asking what no translation can
// carry, Responses for a compaction (a chat account gets summary turns
// in /responses instead); "" when any account will do.
func neededAPI(ctx context.Context, suffix string) string {
	if d := chatDoorFrom(ctx); d != nil && len(d.req.NativeOnly) > 0 {
		return config.APIChatCompletions
	}
	if suffix == "/responses/compact" {
		return config.APIResponses
	}
	return ""
}

// nativeOnlyError answers a chat request that only an account speaking
// Chat Completions could serve, when the pool has none for it.
func nativeOnlyError(fields []string) *apierror.Error {
	return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
		fmt.Sprintf("%s cannot be served by the accounts of this proxy: they speak the Responses API, which has no equivalent, and no account with api: %s serves this model; leave %s out of the request, or add an account whose provider speaks Chat Completions",
			strings.Join(fields, ", "), config.APIChatCompletions, strings.Join(fields, " and "))).
		WithParam(fields[0]).WithCode("unsupported_parameter")
}

// ChatHandler serves POST /v1/chat/completions (and /chat/completions) on
// the account chosen for each request, whatever API it speaks.
func (rl *Relay) ChatHandler() http.Handler {
	return http.HandlerFunc(rl.serveChat)
}

// serveChat handles one Chat Completions request from the client to its
// end.
func (rl *Relay) serveChat(w http.ResponseWriter, r *http.Request) {
	rl.serveHTTP(w, r, event.DoorChat, "/responses", session.ParseChat, (*Relay).chat)
}

// chat translates a chat request for the loop's Responses request for
// suffix, and its answer back.
func (rl *Relay) chat(w http.ResponseWriter, r *http.Request, suffix string, body []byte, req session.Request, rec *event.Decision, sent func()) {
	if rl.onlyChatAccounts() {
		// Every account gets the request as it came: there is nothing to
		// translate it for, nor to refuse in it (the provider judges its
		// own request), and its answer goes back as it came.
		door := &chatDoor{body: body, req: translate.ChatRequest{Model: req.Model, Stream: req.Stream}}
		cw := newChatWriter(w, door.req, rl.o.Redact)
		rl.relay(cw, r.WithContext(withChatDoor(r.Context(), door)), suffix, nil, req, rec, sent)
		cw.finish(rec)
		return
	}
	out, creq, err := translate.ChatToResponses(body)
	if err != nil {
		rl.fail(w, rec, chatRequestError(err))
		return
	}
	door := &chatDoor{body: body, req: creq}
	cw := newChatWriter(w, creq, rl.o.Redact)
	rl.relay(cw, r.WithContext(withChatDoor(r.Context(), door)), suffix, out, req, rec, sent)
	cw.finish(rec)
}

// accountLister is the side of a Pool that lists its accounts
// (*pool.Pool has it).
type accountLister interface{ Accounts() *account.Pool }

// onlyChatAccounts reports a pool whose every enabled account speaks Chat
// Completions: a chat request is then never translated.
func (rl *Relay) onlyChatAccounts() bool {
	l, ok := rl.pool.(accountLister)
	if !ok {
		return false
	}
	found := false
	for _, a := range l.Accounts().All() {
		if a.Enabled {
			if !a.ChatCompletions() {
				return false
			}
			found = true
		}
	}
	return found
}

// chatRequestError is the 400 of a request the translation refused (a
// chat request at the front door, or a Responses request for an account
// that speaks only Chat Completions).
func chatRequestError(err error) *apierror.Error {
	var te *translate.Error
	if !errors.As(err, &te) {
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"the request cannot be translated: "+err.Error()).WithCode("invalid_request")
	}
	e := apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, te.Message)
	if te.Param != "" {
		e = e.WithParam(te.Param)
	}
	code := te.Code
	if code == "" {
		code = "invalid_request"
	}
	return e.WithCode(code)
}
