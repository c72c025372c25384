package translate

import (
	"encoding/base64"
	"strings"
)

// Compaction on a chat-only account. Codex's server-side compaction (an
// input ending in {"type":"compaction_trigger"}, answered with one opaque
// compaction item) cannot go to a provider that has never heard of it, and
// refusing it would leave a long Codex session on such an account unable to
// go on. So the proxy does what Codex does itself for a provider without
// server-side compaction: one summary turn on the same account. The summary
// comes back inside a compaction item of the proxy's own
// (CompactionPrefix + base64 of the text), which Codex keeps and sends back
// like any other, and which the next translation unwraps into a user
// message. Nothing is encrypted: the summary is the user's own history,
// held by the user's own client.

// CompactionPrefix starts the encrypted_content of the compaction items the
// proxy makes; a compaction item without it was made by a real Responses
// backend and means nothing to a chat-only account.
const CompactionPrefix = "proxy-summary.v1."

// acctCompactionIDPrefix marks the proxy's compaction items, as rs_chat_ marks
// its reasoning items.
const acctCompactionIDPrefix = "cmp_chat_"

// acctCompactionPrompt is the last user message of a summary turn, written in
// the spirit of Codex's own local compaction prompt.
const acctCompactionPrompt = `Stop here and write a handoff summary of this conversation: the context window is full, and another assistant will carry on the work from your summary alone, with the same tools and workspace but none of the messages above.

Write, in plain text:
- the user's goal and any constraints or preferences they stated;
- what has been done so far, and the decisions taken and why;
- the state of the work: files touched, commands run and what they showed, anything in progress;
- what remains to do, as concrete next steps;
- any exact data the next assistant needs (names, paths, values, error messages).

Be complete but concise. Do not call any tool; answer with the summary only.`

// acctSummaryPrefix opens the user message that carries a summary back into a
// later request, so the model reads it as history, not as a new request.
const acctSummaryPrefix = `The conversation so far was compacted. Earlier work on this task was summarised as follows; use it to carry on without redoing what is done:`

// acctCompactionContent wraps a summary as a compaction item's encrypted_content.
func acctCompactionContent(summary []byte) string {
	return CompactionPrefix + base64.StdEncoding.EncodeToString(summary)
}

// acctCompactionSummary unwraps the encrypted_content of a compaction item of
// the proxy's own; ok is false for any other (a real backend's blob).
func acctCompactionSummary(content string) (summary []byte, ok bool) {
	rest, found := strings.CutPrefix(content, CompactionPrefix)
	if !found {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, false
	}
	return b, true
}
