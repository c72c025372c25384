package fakeupstream

import "time"

// Option configures a Server built by New.
type Option func(*Server)

// WithAPIKey makes the server behave like an OpenAI API account: every request
// must carry "Authorization: Bearer key", else 401 invalid_api_key.
func WithAPIKey(key string) Option {
	return func(s *Server) {
		s.auth = authConfig{mode: authAPIKey, secret: key}
	}
}

// WithChatGPT makes the server behave like the ChatGPT Codex backend: requests
// must carry "Authorization: Bearer accessToken" and "chatgpt-account-id:
// accountID", POST /responses must ask for stream:true and must not ask for
// store:true (the real backend refuses both), and responses carry the
// x-codex-* rate-limit headers Codex and the proxy read.
func WithChatGPT(accessToken, accountID string) Option {
	return func(s *Server) {
		s.auth = authConfig{mode: authChatGPT, secret: accessToken, accountID: accountID}
	}
}

// WithReply sets the text every successful response answers with. The default
// is "Hello from <name>." so a test can tell which account served it.
func WithReply(text string) Option {
	return func(s *Server) { s.reply = text }
}

// WithClock replaces time.Now, so created_at and the rate-limit reset times are
// deterministic in tests.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithModels sets the model ids GET /models lists. It does not restrict which
// model a request may name: the fake answers any model, as a permissive
// compatible upstream does.
func WithModels(ids ...string) Option {
	return func(s *Server) { s.models = append([]string(nil), ids...) }
}

// WithUsedPercent sets the x-codex-primary-used-percent and
// x-codex-secondary-used-percent values a ChatGPT-style server reports on every
// response, so tests can check that the proxy reads them. Defaults: 10 and 5.
func WithUsedPercent(primary, secondary float64) Option {
	return func(s *Server) {
		s.primaryUsed = primary
		s.secondaryUsed = secondary
	}
}

// WithWindowsStartedAgo makes the rate-limit windows start d before New
// (the default is at New), so an account's windows reset sooner: a window
// of five hours started 4h40m ago resets in 20 minutes.
func WithWindowsStartedAgo(d time.Duration) Option {
	return func(s *Server) { s.windowsAge = d }
}

// WithModelsFailing makes GET /models answer status (e.g. 500) from the start;
// FailModels changes it later.
func WithModelsFailing(status int) Option {
	return func(s *Server) { s.modelsStatus = status }
}

// WithBareCompletion makes the stream's response.completed carry an empty
// output, as the ChatGPT backend's does: its items arrive only in
// response.output_item.done events (clients that build an answer from the
// completed response alone get nothing; LiteLLM and others learned it). Not
// the default: many tests read the completed output.
func WithBareCompletion() Option { return func(s *Server) { s.bareCompletion = true } }
