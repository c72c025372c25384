// Package e2e holds the end-to-end tests: real clients (the official
// openai-go SDK, the Codex CLI) talk to a real `proxy serve` in front of
// fake upstream accounts that are real HTTP servers speaking SSE.
package e2e
