package tui

import (
	"reflect"
	"strings"
	"testing"
)

func TestWrapWords(t *testing.T) {
	long := strings.Repeat("x", 30)
	tests := []struct {
		name string
		s    string
		w, n int
		want []string
	}{
		{"fits", "chose a over b", 20, 3, []string{"chose a over b"}},
		{"wraps at spaces", "chose a: 5h 50% used, resets in 20m; over b: 5h 10% used", 24, 3,
			[]string{"chose a: 5h 50% used,", "resets in 20m; over b:", "5h 10% used"}},
		{"the last line holds the rest", "one two three four five six seven eight nine ten eleven", 20, 2,
			[]string{"one two three four", "five six seven eight nine ten eleven"}},
		{"a word wider than the line is a line", "a " + long + " b", 20, 3, []string{"a", long, "b"}},
		{"too narrow to wrap", "one two three four five six seven", 10, 3, []string{"one two three four five six seven"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wrapWords(tt.s, tt.w, tt.n); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("wrapWords(%q, %d, %d) = %q, want %q", tt.s, tt.w, tt.n, got, tt.want)
			}
		})
	}
}
