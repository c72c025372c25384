package keylimit

import (
	"context"
	"os"
	"testing"

	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/store"
)

// BenchmarkAdmit is what a request pays for its key's limits: nothing
// past a map lookup for a key without counted limits, one store round trip
// (the embedded store here) for a key with them.
func BenchmarkAdmit(b *testing.B) {
	// PROXY_TEST_REDIS_URL measures a real Redis; else the embedded one,
	// whose Lua interpreter costs far more than the round trip.
	st, err := store.Open(context.Background(), store.Options{URL: os.Getenv("PROXY_TEST_REDIS_URL"), KeyPrefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	l := New(st, []config.ClientKey{
		{Name: "free", Limits: config.KeyLimits{Models: []string{"gpt-5*"}}},
		{Name: "counted", Limits: config.KeyLimits{RequestsPerMinute: 1 << 40, TokensPerDay: 1 << 40, USDPerMonth: 1e9}},
	}, Options{})
	for _, client := range []string{"free", "counted"} {
		b.Run(client, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, err := l.Admit(context.Background(), client, "gpt-5.5")
				if err != nil {
					b.Fatal(err)
				}
				a.Release()
			}
		})
	}
}
