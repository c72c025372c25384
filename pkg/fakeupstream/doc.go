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
//
// # Account-bound items
//
// One Server is one account, and it keeps the real upstreams' rule that
// encrypted items are bound to the account (organisation) that minted them:
//
//   - A turn whose request's include asks for "reasoning.encrypted_content"
//     (Codex always does) answers with a reasoning item first (output_index
//     0: output_item.added, reasoning_summary_part.added,
//     reasoning_summary_text.delta..., reasoning_summary_text.done,
//     reasoning_summary_part.done, output_item.done) and its message or
//     function call second (output_index 1). Without that include the
//     output is the answer alone. A compaction turn (input ending with
//     compaction_trigger) and POST /responses/compact answer with a
//     compaction item. Both kinds carry an encrypted_content blob signed
//     with the Server's secret; MintedBy tells a test which account minted
//     an item it finds in a request body.
//   - By default a request (HTTP or WebSocket frame) whose input replays a
//     reasoning, compaction or compaction_summary item the Server cannot
//     read (another Server's, even one of the same name; one minted for
//     another item id; or a reasoning item without content under
//     store:false) is refused as the real upstreams refuse it.
//     WithForeignItems picks the refusal's shape or, with
//     AcceptForeignItems, turns the rule off; WithOrganization makes
//     Servers that read each other's items; Refusals counts the refusals.
//
// So a proxy that sends a conversation's items to an account that did not
// mint them fails its tests as it would fail its users.
//
// # Chat-only upstreams
//
// WithChatOnly makes a Server a provider that speaks Chat Completions only
// (DeepSeek, Kimi, GLM, Qwen, vLLM, Ollama): POST .../chat/completions and
// GET .../models, and {"detail":"Not Found"} 404s for /responses, compact and
// WebSocket upgrades. It refuses what those providers refuse (chatrules.go:
// the developer role, tool messages that answer no pending call, calls left
// unanswered, Responses-only fields, bad tool names, and with WithThinking
// a tool turn without its reasoning_content), streams its answer in small
// chat.completion.chunk deltas (tool calls split across chunks, usage in a
// last chunk when stream_options.include_usage asks, then [DONE]), and
// accounts for prompt-cache hits as /responses does. A Server without
// WithChatOnly answers /chat/completions 404.
//
// A ChatGPT-style Server (WithChatGPT) refuses a /responses request with a
// top-level max_output_tokens, temperature, top_p, frequency_penalty or
// presence_penalty, 400 {"detail":"Unsupported parameter: <name>"}, as the
// real backend does.
//
// # Faults by route
//
// Every route (/responses, /responses/compact, /models, /chat/completions):
// Status, Body and Header (so QuotaExceeded, RateLimited with its
// Retry-After, ContextLengthExceeded, ForbiddenHTML...), HangBeforeHeaders,
// and on a JSON reply Hang and any cut (half the body).
//
// /responses streams (HTTP and WebSocket): FirstEventFailed and its Fail*
// fields, CutAfter, CutBeforeTextDelta, Hang/HangAfter, EchoCredential; HTTP
// only: UnterminatedLast, Trickle; WebSocket only: WSNotJSON.
//
// /chat/completions streams: FirstEventFailed (an error chunk first, after
// the role chunk with FailAfterOpening, then [DONE]), ErrorChunkAfter
// (ErrorChunk), CutBeforeArgumentDelta (CutMidToolCall), NoFinishReason
// (DoneWithoutFinishReason), CutAfter and HangAfter (counting chunks),
// CutBeforeTextDelta (CutAfterDeltas: content deltas), UnterminatedLast,
// Trickle and EchoCredential. A stream:false chat request gets the JSON
// forms: FirstEventFailed and ErrorChunk become the error status fitting
// the code.
package fakeupstream
