package relay

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/bound"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/session"
)

// refusedModel is the 400 for a body whose model session.Parse refused, or
// nil when err is not about the model. The refusal is recorded with what
// was parsed (the model cut), so it shows in the log and the TUI like any
// request; no account is tried.
func refusedModel(err error, req session.Request, rec *event.Decision) *apierror.Error {
	var msg, code string
	switch {
	case errors.Is(err, session.ErrModelTooLong):
		msg = fmt.Sprintf("model is longer than %d bytes, longer than any model's name; send the model's id, such as gpt-5 (GET /v1/models lists those the proxy serves)", bound.Model)
		code = "model_too_long"
	case errors.Is(err, session.ErrModelControl):
		msg = "model holds a control character, which no model's name does; send the model's id, such as gpt-5 (GET /v1/models lists those the proxy serves)"
		code = "invalid_model"
	default:
		return nil
	}
	rec.Session, rec.Source, rec.Model, rec.Stream = req.Key.Short(), string(req.Key.Source), req.Model, req.Stream
	return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, msg).WithParam("model").WithCode(code)
}
