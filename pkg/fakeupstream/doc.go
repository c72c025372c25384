// Package fakeupstream is a Responses API server that behaves like the real
// upstreams the proxy forwards to (the OpenAI API and the ChatGPT Codex
// backend), with scripted failures.
//
// End-to-end tests put the proxy in front of one or more Servers and point the
// openai-go SDK or the real Codex CLI at the proxy; `proxy serve --demo` runs two
// of them in-process so a newcomer sees routing work without any account.
//
// The replies name the account that served them ("Hello from <name>.") and the
// usage reports prompt-cache hits only for a conversation that stays on one
// account, so stickiness and failover are visible from the client side.
package fakeupstream
