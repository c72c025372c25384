package shared_test

import (
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/shared"
)

func TestUpdateAccount(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		set    []shared.Field
		remove []string
		want   string
	}{
		{name: "replace keeps the comment",
			src:  "accounts:\n  - name: a\n    auth_file: old.json   # mine\n    weight: 2\n",
			set:  []shared.Field{{Key: "auth_file", Value: "a.auth.json"}},
			want: "accounts:\n  - name: a\n    auth_file: a.auth.json # mine\n    weight: 2\n"},
		{name: "add after the last key, before the next item",
			src:  "accounts:\n  - name: a\n    weight: 2\n  - name: b\n",
			set:  []shared.Field{{Key: "auth_file", Value: "a.auth.json"}},
			want: "accounts:\n  - name: a\n    weight: 2\n    auth_file: a.auth.json\n  - name: b\n"},
		{name: "flow style is re-encoded",
			src:    "accounts:\n  - {name: a, access_token: x, weight: 2}\n",
			set:    []shared.Field{{Key: "auth_file", Value: "a.auth.json"}},
			remove: []string{"access_token"},
			want:   "accounts:\n  - {name: a, weight: 2, auth_file: a.auth.json}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shared.UpdateAccount([]byte(tt.src), "a", tt.set, tt.remove)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
