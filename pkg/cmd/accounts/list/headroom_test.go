package list_test

import (
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/list"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
)

func TestPoolHeadroom(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	chatgpt := func(primary, secondary float64) status.Account {
		return status.Account{Type: "openai-responses", Enabled: true, State: status.StateHealthy, Limits: &health.Limits{
			Primary:   &health.Window{UsedPercent: primary, WindowMinutes: 300, ResetsAt: now.Add(time.Hour)},
			Secondary: &health.Window{UsedPercent: secondary, WindowMinutes: 10080, ResetsAt: now.Add(48 * time.Hour)}}}
	}
	off := chatgpt(0, 0)
	off.Enabled, off.State = false, status.StateDisabled
	invalid := chatgpt(0, 0)
	invalid.State = status.StateInvalid
	reset := chatgpt(100, 20)
	reset.Limits.Primary.ResetsAt = now.Add(-time.Minute)
	api := status.Account{Type: "openai", Enabled: true, State: status.StateHealthy,
		Limits: &health.Limits{Primary: &health.Window{UsedPercent: 50}}}
	tests := []struct {
		name    string
		entries []status.Account
		want    string
	}{
		{name: "nothing seen", entries: []status.Account{{Enabled: true}}, want: ""},
		{name: "three ChatGPT accounts", entries: []status.Account{chatgpt(97, 40), chatgpt(10, 10), chatgpt(4, 10)},
			want: "pool headroom: 5h 63% left across 3 accounts, 7d 80%"},
		{name: "disabled and invalid accounts add nothing", entries: []status.Account{chatgpt(20, 10), off, invalid},
			want: "pool headroom: 5h 80% left across 1 account, 7d 90%"},
		{name: "a window that has reset is whole again", entries: []status.Account{reset},
			want: "pool headroom: 5h 100% left across 1 account, 7d 80%"},
		{name: "API accounts' windows apart from ChatGPT ones", entries: []status.Account{chatgpt(90, 40), api},
			want: "pool headroom: 5h 10% left across 1 account, 7d 60%, requests 50% left across 1 account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := list.PoolHeadroom(tt.entries, now); got != tt.want {
				t.Errorf("poolHeadroom = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWindowsCell(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		e    status.Account
		want string
	}{
		{name: "none seen", e: status.Account{}, want: ""},
		{name: "ChatGPT windows", e: status.Account{Type: "openai-responses", Limits: &health.Limits{
			Primary:   &health.Window{UsedPercent: 97.4, WindowMinutes: 300, ResetsAt: now.Add(2 * time.Hour)},
			Secondary: &health.Window{UsedPercent: 5, WindowMinutes: 10080, ResetsAt: now.Add(72 * time.Hour)}}},
			want: "5h 97% (resets 14:00), 7d 5% (resets Mar 7 12:00)"},
		{name: "API windows", e: status.Account{Type: "openai", Limits: &health.Limits{
			Primary: &health.Window{UsedPercent: 0.25}, Secondary: &health.Window{UsedPercent: 100}}},
			want: "requests 0.3%, tokens 100%"},
		{name: "reset since seen", e: status.Account{Type: "openai-responses", Limits: &health.Limits{
			Primary: &health.Window{UsedPercent: 99, WindowMinutes: 60, ResetsAt: now.Add(-time.Minute)}}},
			want: "1h 0% (reset at 11:59)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := list.WindowsCell(tt.e, now, time.UTC); got != tt.want {
				t.Errorf("windowsCell = %q, want %q", got, tt.want)
			}
		})
	}
}
