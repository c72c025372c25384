package config

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/pricing"
)

func TestRestartNeeded(t *testing.T) {
	base := func() *Config {
		return &Config{Listen: DefaultListen, MaxAttempts: 3, MaxBodyBytes: 1 << 20, Limits: Limits{WebSocketMessageBytes: 1 << 20},
			Redis: Redis{URL: "redis://:pw@127.0.0.1:6379", KeyPrefix: "proxy:"}, Sessions: Sessions{TTL: time.Minute},
			Timeouts:   Timeouts{StreamIdle: time.Minute},
			ClientKeys: []ClientKey{{Name: "a", Key: "k"}}, Accounts: []Account{{Name: "a"}}, Path: "a.yaml"}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{name: "nothing", change: func(*Config) {}},
		{name: "accounts and client keys apply live", change: func(c *Config) {
			c.Accounts = nil
			c.ClientKeys = []ClientKey{{Name: "b", Key: "k2"}}
			c.Path = "b.yaml"
		}},
		{name: "listen and stream idle", change: func(c *Config) {
			c.Listen = "127.0.0.1:9000"
			c.Timeouts.StreamIdle = time.Hour
		}, want: []string{"listen", "timeouts.stream_idle"}},
		{name: "allowed hosts", change: func(c *Config) { c.AllowedHosts = []string{"proxy.internal"} }, want: []string{"allowed_hosts"}},
		{name: "max_body_bytes, the WebSocket's bound following it", change: func(c *Config) {
			c.MaxBodyBytes, c.Limits.WebSocketMessageBytes = 2<<20, 2<<20
		}, want: []string{"max_body_bytes"}},
		{name: "a WebSocket bound of its own", change: func(c *Config) { c.Limits.WebSocketMessageBytes = 64 << 10 },
			want: []string{"limits.websocket_message_bytes"}},
		{name: "redis password", change: func(c *Config) { c.Redis.URL = "redis://:other@127.0.0.1:6379" }, want: []string{"redis.url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := base()
			tt.change(next)
			if got := RestartNeeded(base(), next); !slices.Equal(got, tt.want) {
				t.Errorf("RestartNeeded = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRestartNeededCoversEverySetting changes each setting of Config in
// turn: each must be named by its own file key, or be one reload applies.
// A new setting added without a place in restartSettings fails here.
func TestRestartNeededCoversEverySetting(t *testing.T) {
	fileKeys := map[string]bool{}
	for _, k := range settingKeys(reflect.TypeFor[fileConfig](), "") {
		fileKeys[k] = true
	}
	seen := map[string]bool{}
	var visit func(t *testing.T, typ reflect.Type, path []int, name string)
	visit = func(t *testing.T, typ reflect.Type, path []int, name string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			p := append(slices.Clone(path), i)
			n := name + f.Name
			if len(path) == 0 && slices.Contains(reloadApplied, f.Name) {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				visit(t, f.Type, p, n+".")
				continue
			}
			next := &Config{}
			v := reflect.ValueOf(next).Elem().FieldByIndex(p)
			switch v.Kind() {
			case reflect.String:
				v.SetString("changed")
			case reflect.Int, reflect.Int64:
				v.SetInt(7)
			case reflect.Float64:
				v.SetFloat(7)
			case reflect.Map:
				if v.Type() != reflect.TypeFor[map[string]pricing.Price]() {
					t.Errorf("%s: a map of %s: teach this test to change it", n, v.Type().Elem())
					continue
				}
				v.Set(reflect.ValueOf(map[string]pricing.Price{"changed": {Input: 1}}))
			case reflect.Slice:
				if v.Type().Elem().Kind() != reflect.String {
					t.Errorf("%s: a list of %s: teach this test to change it", n, v.Type().Elem())
					continue
				}
				v.Set(reflect.ValueOf([]string{"changed"}))
			default:
				t.Errorf("%s: a %s setting: teach this test to change it", n, v.Kind())
				continue
			}
			got := RestartNeeded(&Config{}, next)
			if len(got) != 1 {
				t.Errorf("changing %s: RestartNeeded = %v, want one key", n, got)
				continue
			}
			if !fileKeys[got[0]] {
				t.Errorf("changing %s: %q is not a key of the file", n, got[0])
			}
			if seen[got[0]] {
				t.Errorf("changing %s: %q already names another field", n, got[0])
			}
			seen[got[0]] = true
		}
	}
	visit(t, reflect.TypeFor[Config](), nil, "")
	if len(seen) != len(restartSettings) {
		t.Errorf("%d settings found, restartSettings lists %d", len(seen), len(restartSettings))
	}
}

// settingKeys lists the dotted keys of the schema's single values outside
// lists, pointers included (max_attempts is a *int), and of its lists of
// strings (allowed_hosts).
func settingKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		key := join(prefix, f.Tag.Get("mapstructure"))
		switch f.Type.Kind() {
		case reflect.Struct:
			keys = append(keys, settingKeys(f.Type, key)...)
		case reflect.Slice:
			if f.Type.Elem().Kind() == reflect.String {
				keys = append(keys, key)
			}
		default:
			keys = append(keys, key)
		}
	}
	return keys
}
