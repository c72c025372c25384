package items

import (
	"strings"
)

// CodeInvalidEncryptedContent is the error code upstreams refuse an item
// they cannot read with.
const CodeInvalidEncryptedContent = "invalid_encrypted_content"

// Refused reads an upstream's error (its code and message, from a 400
// body or a response.failed event) as a refusal of account-bound items it
// cannot read. The shapes seen in the wild:
//
//   - code invalid_encrypted_content, "The encrypted content for item rs_…
//     could not be verified. Reason: Encrypted content could not be
//     decrypted or parsed.";
//   - the same message with a null code, or "… for item cmp_…";
//   - "Item with id 'rs_…' not found…" for a reasoning item replayed
//     without its content under store:false;
//   - "Encrypted … content could not be decrypted" in a response.failed.
//
// kind is the kind refused, told by the id the message names (rs_,
// cmp_), else every kind; id is that id, "" when none is named.
func Refused(code, message string) (kind Kind, id string, ok bool) {
	lower := strings.ToLower(message)
	id = namedID(message)
	switch {
	case code == CodeInvalidEncryptedContent:
	case strings.Contains(lower, "encrypted") && strings.Contains(lower, "content") &&
		(strings.Contains(lower, "could not be verified") || strings.Contains(lower, "could not be decrypted") || strings.Contains(lower, "cannot be decrypted")):
	case strings.HasPrefix(lower, "item with id") && strings.Contains(lower, "not found") && kindOfID(id) != 0:
	default:
		return 0, "", false
	}
	kind = kindOfID(id)
	if kind == 0 {
		kind = Reasoning | Compaction
	}
	return kind, id, true
}

// kindOfID tells an item's kind by its id's prefix, 0 when it says none.
func kindOfID(id string) Kind {
	switch {
	case strings.HasPrefix(id, "rs_"):
		return Reasoning
	case strings.HasPrefix(id, "cmp_"):
		return Compaction
	}
	return 0
}

// namedID is the item id a refusal names: the word after "item " or
// inside "id '…'".
func namedID(msg string) string {
	for _, lead := range []string{"for item ", "Item with id '", "item with id '", "item '"} {
		if i := strings.Index(msg, lead); i >= 0 {
			rest := msg[i+len(lead):]
			end := strings.IndexFunc(rest, func(r rune) bool {
				return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			})
			if end < 0 {
				end = len(rest)
			}
			if end > 0 {
				return rest[:end]
			}
		}
	}
	return ""
}
