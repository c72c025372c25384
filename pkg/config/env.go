package config

import (
	"reflect"
	"strings"

	"github.com/spf13/viper"
)

// applyEnv merges PROXY_<KEY> variables into v's config layer. Viper's own
// AutomaticEnv reads the process environment directly; merging here keeps
// getenv injectable and still ranks the variables where viper ranks env:
// above the file and defaults, below flags bound with BindPFlag and Set.
func (c *checker) applyEnv(v *viper.Viper, getenv func(string) string) {
	for _, key := range scalarKeys(reflect.TypeFor[fileConfig](), "") {
		name := envName(key)
		val := getenv(name)
		if val == "" {
			continue
		}
		// Build {"redis": {"url": val}} so the merge reaches nested keys.
		parts := strings.Split(key, ".")
		m := map[string]any{parts[len(parts)-1]: val}
		for i := len(parts) - 2; i >= 0; i-- {
			m = map[string]any{parts[i]: m}
		}
		if err := v.MergeConfigMap(m); err != nil {
			c.add(key, "applying $%s: %v", name, err)
			continue
		}
		c.fromEnv[key] = name
	}
}

// markFlagValues stops a problem in a value that neither the file nor the
// environment set (a flag the CLI bound into v) from being blamed on a line
// of the file.
func (c *checker) markFlagValues(v *viper.Viper, getenv func(string) string) {
	for _, key := range scalarKeys(reflect.TypeFor[fileConfig](), "") {
		if name, ok := c.fromEnv[key]; ok {
			if v.GetString(key) != getenv(name) {
				delete(c.fromEnv, key)
				c.placeless[key] = true
			}
			continue
		}
		if written, ok := c.scalars[key]; !ok || written != v.GetString(key) {
			c.placeless[key] = true
		}
	}
}

// scalarKeys lists the dotted keys of the schema's single values outside
// lists: the keys a PROXY_<KEY> variable can override.
func scalarKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		key := join(prefix, f.Tag.Get("mapstructure"))
		switch f.Type.Kind() {
		case reflect.Struct:
			keys = append(keys, scalarKeys(f.Type, key)...)
		case reflect.String:
			keys = append(keys, key)
		}
	}
	return keys
}

// envName is the variable that overrides key: redis.key_prefix ->
// PROXY_REDIS_KEY_PREFIX.
func envName(key string) string {
	return "PROXY_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
