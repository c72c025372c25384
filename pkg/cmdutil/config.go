package cmdutil

import (
	"os"
	"path/filepath"

	"github.com/spf13/viper"

	"github.com/proxy-dev/proxy/pkg/config"
)

// TokenDir is where ChatGPT accounts with inline tokens keep rotated ones:
// beside the config file, else in the user's config directory.
func TokenDir(cfg *config.Config) string {
	if cfg.Path != "" {
		return filepath.Dir(cfg.Path)
	}
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "proxy")
	}
	return ""
}

// LoadConfig finds and loads the config with a fresh viper instance.
func LoadConfig(ios *IOStreams, flagPath string) (*config.Config, error) {
	path := config.Locate(flagPath, ios.Getenv)
	return config.Load(viper.New(), path, ios.Getenv)
}
