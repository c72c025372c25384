package bound

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"short stays", "gpt-5", 10, "gpt-5"},
		{"exactly n stays", "abcdefghij", 10, "abcdefghij"},
		{"long is cut with a mark", "abcdefghijk", 10, "abcdefg…"},
		{"never inside a character", "aaaaaaééé", 10, "aaaaaa…"},
		{"escape sequence is defused", "gpt\x1b[2J", 20, "gpt\uFFFD[2J"},
		{"line breaks read as spaces", "a\nb\tc\rd", 20, "a b c d"},
		{"C1 control is defused", "a\u009bb", 20, "a\uFFFDb"},
		{"DEL is defused", "a\x7fb", 20, "a\uFFFDb"},
		{"replacement that grows is cut again", "\x00\x00\x00\x00", 8, "\uFFFD…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Cut(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("Cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if len(got) > tt.n || !utf8.ValidString(got) {
				t.Errorf("Cut(%q, %d) = %q: %d bytes, valid UTF-8 %v", tt.in, tt.n, got, len(got), utf8.ValidString(got))
			}
		})
	}
}

// TestCutHuge checks a client's 8 MiB string comes back at the limit.
func TestCutHuge(t *testing.T) {
	got := Cut(strings.Repeat("m", 8<<20), Model)
	if len(got) != Model || !strings.HasSuffix(got, "…") {
		t.Errorf("got %d bytes ending %q, want %d ending …", len(got), got[len(got)-3:], Model)
	}
}
