package identity

import (
	"context"
	"testing"
)

func TestCaller(t *testing.T) {
	tests := []struct {
		name      string
		ctx       context.Context
		wantAdmin bool
		owns      map[string]bool
	}{
		{"no caller recorded: no keys, an admin", context.Background(), true, map[string]bool{"": true, "ci": true}},
		{"admin key", With(context.Background(), Caller{Name: "lead", Role: Admin}), true, map[string]bool{"lead": true, "ci": true}},
		{"key with no role (roles not configured)", With(context.Background(), Caller{Name: "old"}), true, map[string]bool{"ci": true}},
		{"user key", With(context.Background(), Caller{Name: "ci", Role: User}), false, map[string]bool{"ci": true, "lead": false, "": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := From(tt.ctx)
			if c.IsAdmin() != tt.wantAdmin {
				t.Errorf("IsAdmin = %v, want %v", c.IsAdmin(), tt.wantAdmin)
			}
			for client, want := range tt.owns {
				if c.Owns(client) != want {
					t.Errorf("Owns(%q) = %v, want %v", client, c.Owns(client), want)
				}
			}
		})
	}
}

func TestKeyHolder(t *testing.T) {
	tests := []struct {
		name string
		c    Caller
		want bool
	}{
		{"no keys configured", Caller{}, false},
		{"a client key", Caller{Name: "ci", Role: User}, true},
		{"a ChatGPT login the proxy holds", Caller{Name: "login:mine", Role: Admin, Login: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.KeyHolder(); got != tt.want {
				t.Errorf("KeyHolder = %v, want %v", got, tt.want)
			}
		})
	}
}
