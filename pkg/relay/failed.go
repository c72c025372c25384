package relay

import "encoding/json"

// failedEvent is a response.failed SSE event the proxy writes itself when a
// stream cannot be completed.
func failedEvent(code, message string) []byte {
	data, _ := json.Marshal(map[string]any{
		"type": "response.failed",
		"response": map[string]any{
			"object": "response",
			"status": "failed",
			"error":  map[string]string{"code": code, "message": message},
		},
	})
	out := make([]byte, 0, len(data)+32)
	out = append(out, "event: response.failed\ndata: "...)
	out = append(out, data...)
	return append(out, '\n', '\n')
}
