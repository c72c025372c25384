package config

import (
	"bytes"
	"fmt"
	"os"
	"reflect"

	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// Load builds the Config from the file at path ("" for none: defaults, no
// accounts) through v, which the caller owns: flags it bound with BindPFlag
// win over everything else. Load sets the defaults in v, reads the file,
// merges PROXY_<KEY> variables (PROXY_LISTEN, PROXY_REDIS_URL,
// PROXY_REDIS_KEY_PREFIX, PROXY_SESSIONS_TTL), expands ${VAR} in string
// values, resolves ~ and relative paths in auth_file, and validates.
//
// getenv (os.Getenv when nil) is the environment for the overrides, ${VAR}
// and ~. An invalid configuration returns Problems, every problem at once; a
// file that cannot be read returns an ordinary wrapped error.
func Load(v *viper.Viper, path string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := newChecker(path)

	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("reading config %s: %w", path, err)
		}
	}
	root, ok := c.parseYAML(data)
	if !ok {
		return nil, c.problems
	}
	if root != nil {
		if root.Kind != yaml.MappingNode {
			c.addAt(root.Line, "", "the file must be a mapping of keys, not %s", describe(root))
			return nil, c.problems
		}
		c.walk(root, reflect.TypeFor[fileConfig](), "", false)
	}

	v.SetDefault("listen", DefaultListen)
	v.SetDefault("redis.url", "")
	v.SetDefault("redis.key_prefix", DefaultKeyPrefix)
	v.SetDefault("sessions.ttl", DefaultSessionTTL.String())
	if root != nil {
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			// The walk explains what viper chokes on (a repeated key)
			// with its line; only report viper's words when it did not.
			if len(c.problems) == 0 {
				c.addAt(0, "", "%v", err)
			}
			c.problems.sort()
			return nil, c.problems
		}
	}
	c.applyEnv(v, getenv)
	c.markFlagValues(v, getenv)

	var raw fileConfig
	// When the walk already found a value of the wrong shape, viper's
	// complaint about it would only repeat that without a line.
	if err := v.Unmarshal(&raw); err != nil && len(c.problems) == 0 {
		c.add("", "decoding: %v", err)
	}
	c.expandAll(&raw, getenv)

	cfg := c.resolve(&raw, path, getenv)
	c.validate(cfg, &raw)
	if len(c.problems) > 0 {
		c.problems.sort()
		return nil, c.problems
	}
	return cfg, nil
}
