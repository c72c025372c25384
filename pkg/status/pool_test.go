package status_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
)

func TestPool(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	chatgpt := func(primary float64, primaryReset time.Duration, secondary float64) status.Account {
		return status.Account{Type: "openai-responses", Enabled: true, State: status.StateHealthy, Limits: &health.Limits{
			Primary:   &health.Window{UsedPercent: primary, WindowMinutes: 300, ResetsAt: now.Add(primaryReset)},
			Secondary: &health.Window{UsedPercent: secondary, WindowMinutes: 10080, ResetsAt: now.Add(72 * time.Hour)}}}
	}
	fresh := chatgpt(0, 10*time.Minute, 0)
	cooling := chatgpt(100, 3*time.Hour, 100)
	cooling.State = status.StateCoolingDown
	odd := chatgpt(50, time.Hour, 0)
	odd.Limits.Primary.WindowMinutes = 240
	tests := []struct {
		name    string
		entries []status.Account
		want    []status.PoolWindow
	}{
		{name: "none reported", entries: []status.Account{{Enabled: true}}, want: []status.PoolWindow{}},
		{name: "the soonest reset among the accounts that used some",
			entries: []status.Account{chatgpt(50, 20*time.Minute, 10), chatgpt(10, 4*time.Hour, 30), fresh},
			want: []status.PoolWindow{
				{Window: "5h", Kind: status.KindChatGPT, LeftPercent: 80, Accounts: 3, WindowMinutes: 300, ResetsAt: now.Add(20 * time.Minute)},
				{Window: "7d", Kind: status.KindChatGPT, Secondary: true, LeftPercent: 87, Accounts: 3, WindowMinutes: 10080, ResetsAt: now.Add(72 * time.Hour)},
			}},
		{name: "an account cooling down counts, and all used up is full",
			entries: []status.Account{cooling},
			want: []status.PoolWindow{
				{Window: "5h", Kind: status.KindChatGPT, LeftPercent: 0, Accounts: 1, WindowMinutes: 300, ResetsAt: now.Add(3 * time.Hour), Full: true},
				{Window: "7d", Kind: status.KindChatGPT, Secondary: true, LeftPercent: 0, Accounts: 1, WindowMinutes: 10080, ResetsAt: now.Add(72 * time.Hour), Full: true},
			}},
		{name: "windows of several lengths",
			entries: []status.Account{odd, fresh},
			want: []status.PoolWindow{
				{Window: "primary", Kind: status.KindChatGPT, LeftPercent: 75, Accounts: 2, ResetsAt: now.Add(time.Hour)},
				{Window: "7d", Kind: status.KindChatGPT, Secondary: true, LeftPercent: 100, Accounts: 2, WindowMinutes: 10080},
			}},
		{name: "API accounts apart",
			entries: []status.Account{fresh, {Type: "openai", Enabled: true, State: status.StateHealthy,
				Limits: &health.Limits{Primary: &health.Window{UsedPercent: 99.9, ResetsAt: now.Add(time.Second)}}}},
			want: []status.PoolWindow{
				{Window: "5h", Kind: status.KindChatGPT, LeftPercent: 100, Accounts: 1, WindowMinutes: 300},
				{Window: "7d", Kind: status.KindChatGPT, Secondary: true, LeftPercent: 100, Accounts: 1, WindowMinutes: 10080},
				{Window: "requests", Kind: status.KindAPI, LeftPercent: 0.1, Accounts: 1, ResetsAt: now.Add(time.Second)},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Pool(tt.entries, now); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Pool =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
