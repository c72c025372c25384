package config

import "testing"

func TestSuggest(t *testing.T) {
	names := []string{"chatgpt", "coordcode", "spare"}
	tests := []struct{ name, word, want string }{
		{"transposed letters", "chatgtp", "chatgpt"},
		{"case aside", "ChatGPT", "chatgpt"},
		{"one letter off", "spar", "spare"},
		{"nothing close", "work", ""},
		{"too short to guess", "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Suggest(tt.word, names); got != tt.want {
				t.Errorf("Suggest(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}
