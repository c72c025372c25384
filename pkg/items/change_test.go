package items_test

import (
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/items"
)

func TestChangeString(t *testing.T) {
	at := time.Date(2026, 12, 7, 14, 2, 0, 0, time.UTC)
	tests := []struct {
		name string
		c    *items.Change
		want string
	}{
		{"nothing", &items.Change{Target: "b"}, ""},
		{"nil", nil, ""},
		{"removed by minter", &items.Change{Target: "acct-b", Removed: map[string]int{"acct-a": 3, "": 1, "acct-c": 1}},
			"removed 1 reasoning item of unknown origin; removed 3 reasoning items minted by acct-a; removed 1 reasoning item minted by acct-c"},
		{"remade", &items.Change{Target: "acct-b", Removed: map[string]int{"acct-a": 3},
			Compactions: []items.CompactionChange{{Outcome: items.Remade, Minter: "acct-a", At: at, Items: 14}}},
			"removed 3 reasoning items minted by acct-a; compaction of 14:02 by acct-a re-made on acct-b"},
		{"reused", &items.Change{Target: "acct-b", Compactions: []items.CompactionChange{{Outcome: items.Reused, Minter: "acct-a", At: at}}},
			"compaction of 14:02 by acct-a replaced by acct-b's own, made earlier"},
		{"lost", &items.Change{Target: "acct-b", Compactions: []items.CompactionChange{{Outcome: items.Lost, Minter: "acct-a", At: at, Items: 14, Why: "the request behind it is no longer kept"}}},
			"compaction of 14:02 by acct-a removed (the request behind it is no longer kept): acct-b no longer sees the 14 items it stood for"},
		{"lost, unknown", &items.Change{Target: "acct-b", Compactions: []items.CompactionChange{{Outcome: items.Lost}}},
			"compaction removed: acct-b no longer sees the history it stood for"},
		{"refused", &items.Change{Target: "acct-a", Refused: items.Reasoning, Removed: map[string]int{"": 2}},
			"acct-a refused reasoning items it could not read; sent again without them; removed 2 reasoning items of unknown origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Errorf("String() =\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}
