package jsonscan

import "testing"

func TestMember(t *testing.T) {
	cases := []struct {
		name, in, key, want string
	}{
		{"first", `{"type":"response.created","response":{"id":"r1"}}`, "type", `"response.created"`},
		{"nested object", `{"type":"x","response":{"id":"r1"}}`, "response", `{"id":"r1"}`},
		{"absent", `{"type":"x"}`, "response", ""},
		{"first of duplicates", `{"a":1,"a":2}`, "a", "1"},
		{"not an object", `["type"]`, "type", ""},
		{"escaped name", `{"ty\u0070e":"x"}`, "type", `"x"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Member([]byte(tc.in), tc.key)); got != tc.want {
				t.Errorf("Member(%s, %q) = %q, want %q", tc.in, tc.key, got, tc.want)
			}
		})
	}
}
