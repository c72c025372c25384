package fakeupstream

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// model is one entry of GET /models, in the OpenAI API's shape.
type model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// codexModel is one entry of the ChatGPT backend's GET /models, the shape
// Codex decodes into its ModelInfo (codex-rs/protocol/src/openai_models.rs).
// Codex fails the whole list when a field it requires is missing, so every
// field its decoder needs is here, with values modelled on the catalogue
// bundled in Codex 0.169.0. Two deliberate differences: prefer_websockets is
// false (the fake speaks HTTP only) and the instructions template is one
// short line, so requests built from it stay small in tests.
type codexModel struct {
	Slug                       string           `json:"slug"`
	DisplayName                string           `json:"display_name"`
	Description                string           `json:"description"`
	DefaultReasoningLevel      string           `json:"default_reasoning_level"`
	SupportedReasoningLevels   []reasoningLevel `json:"supported_reasoning_levels"`
	ShellType                  string           `json:"shell_type"`
	Visibility                 string           `json:"visibility"`
	MinimalClientVersion       string           `json:"minimal_client_version"`
	SupportedInAPI             bool             `json:"supported_in_api"`
	Priority                   int              `json:"priority"`
	Upgrade                    *struct{}        `json:"upgrade"`
	AvailabilityNux            *struct{}        `json:"availability_nux"`
	ModelMessages              modelMessages    `json:"model_messages"`
	SupportsReasoningSummaries bool             `json:"supports_reasoning_summaries"`
	DefaultReasoningSummary    string           `json:"default_reasoning_summary"`
	SupportVerbosity           bool             `json:"support_verbosity"`
	DefaultVerbosity           string           `json:"default_verbosity"`
	ApplyPatchToolType         string           `json:"apply_patch_tool_type"`
	WebSearchToolType          string           `json:"web_search_tool_type"`
	TruncationPolicy           truncationPolicy `json:"truncation_policy"`
	SupportsParallelToolCalls  bool             `json:"supports_parallel_tool_calls"`
	SupportsImageDetailOrig    bool             `json:"supports_image_detail_original"`
	ContextWindow              int64            `json:"context_window"`
	MaxContextWindow           int64            `json:"max_context_window"`
	AutoCompactTokenLimit      *int64           `json:"auto_compact_token_limit"`
	ExperimentalSupportedTools []string         `json:"experimental_supported_tools"`
	InputModalities            []string         `json:"input_modalities"`
	SupportsSearchTool         bool             `json:"supports_search_tool"`
	PreferWebsockets           bool             `json:"prefer_websockets"`
	UseResponsesLite           bool             `json:"use_responses_lite"`
	ServiceTiers               []string         `json:"service_tiers"`
	AdditionalSpeedTiers       []string         `json:"additional_speed_tiers"`
}

type reasoningLevel struct {
	Effort      string `json:"effort"`
	Description string `json:"description"`
}

type modelMessages struct {
	InstructionsTemplate string `json:"instructions_template"`
}

type truncationPolicy struct {
	Mode  string `json:"mode"`
	Limit int64  `json:"limit"`
}

// newCodexModel is the ChatGPT backend's entry for slug; priority orders the
// picker (lower first).
func newCodexModel(slug string, priority int) codexModel {
	return codexModel{
		Slug:                  slug,
		DisplayName:           strings.Replace(slug, "gpt", "GPT", 1),
		Description:           "Served by a fake upstream.",
		DefaultReasoningLevel: "medium",
		SupportedReasoningLevels: []reasoningLevel{
			{Effort: "low", Description: "Fast responses with lighter reasoning"},
			{Effort: "medium", Description: "Balances speed and reasoning depth for everyday tasks"},
			{Effort: "high", Description: "Greater reasoning depth for complex problems"},
		},
		ShellType:                  "shell_command",
		Visibility:                 "list",
		MinimalClientVersion:       "0.124.0",
		SupportedInAPI:             true,
		Priority:                   priority,
		ModelMessages:              modelMessages{InstructionsTemplate: "You are Codex, a coding agent. This is a fake upstream: it answers every request with a fixed reply."},
		SupportsReasoningSummaries: true,
		DefaultReasoningSummary:    "none",
		SupportVerbosity:           true,
		DefaultVerbosity:           "low",
		ApplyPatchToolType:         "freeform",
		WebSearchToolType:          "text",
		TruncationPolicy:           truncationPolicy{Mode: "tokens", Limit: 10000},
		SupportsParallelToolCalls:  true,
		ContextWindow:              272000,
		MaxContextWindow:           272000,
		ExperimentalSupportedTools: []string{},
		InputModalities:            []string{"text", "image"},
		ServiceTiers:               []string{},
		AdditionalSpeedTiers:       []string{},
	}
}

// serveModels lists the configured models, which is also what `proxy accounts
// test` can use as a cheap credential check. A ChatGPT-style server answers
// as the ChatGPT backend does: {"models":[{"slug":...}]} with an ETag, and only
// when the query names the client_version (the real backend refuses a request
// without one); any other server answers with the OpenAI list.
func (s *Server) serveModels(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.FirstEventFailed {
		status, b := f.failedReply()
		s.deliverJSON(w, r, status, b, f)
		return
	}
	var b []byte
	if s.auth.mode == authChatGPT {
		if r.URL.Query().Get("client_version") == "" {
			s.deliverJSON(w, r, http.StatusBadRequest, []byte(`{"detail":"Missing client_version"}`), f)
			return
		}
		list := struct {
			Models []codexModel `json:"models"`
		}{Models: make([]codexModel, 0, len(s.models))}
		for i, id := range s.models {
			list.Models = append(list.Models, newCodexModel(id, i+1))
		}
		b, _ = json.Marshal(list) // cannot fail: plain values only
		sum := sha256.Sum256(b)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	} else {
		created := s.windowStart.Unix()
		list := struct {
			Object string  `json:"object"`
			Data   []model `json:"data"`
		}{Object: "list", Data: make([]model, 0, len(s.models))}
		for _, id := range s.models {
			list.Data = append(list.Data, model{ID: id, Object: "model", Created: created, OwnedBy: "openai"})
		}
		b, _ = json.Marshal(list) // cannot fail: strings and ints only
	}
	s.writeRateLimitHeaders(w.Header())
	w.Header().Set("X-Request-Id", s.nextID("req"))
	s.deliverJSON(w, r, http.StatusOK, b, f)
}

// modelsFailure is the status GET /models answers with instead of a list, 0
// for none.
func (s *Server) modelsFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modelsStatus
}

// FailModels makes every later GET /models answer status (e.g. 500) with an
// OpenAI-shaped error, without using up a scripted Fault; 0 lists models
// again. Tests use it to make an account's model list fail and then recover.
func (s *Server) FailModels(status int) {
	s.mu.Lock()
	s.modelsStatus = status
	s.mu.Unlock()
}
