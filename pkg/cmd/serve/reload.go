package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/keylimit"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/server"
)

// ErrReloadNoAccount rejects a reload after which no enabled account would
// be left: every request would get 503, which is never what an edit meant
// (more likely the file was caught half-written).
var ErrReloadNoAccount = errors.New("no enabled account would be left")

// reload re-reads the config and applies what a running proxy can: its
// accounts (added, removed, disabled or re-weighted ones take effect for the
// next request, while streams in flight finish on the accounts they started
// with) and its client keys (a rotated key is refused from the next request
// on). A file that is unreadable, invalid, or would leave nothing to serve
// with is rejected whole and the running config stays. Settings only a
// restart applies are named in a warning.
//
// running is the config the process started with, flags applied: what the
// restart-only settings still are.
func reload(ctx context.Context, opts *ServeOptions, running *config.Config, rt runtimeParts, logger *slog.Logger) error {
	if opts.Demo {
		logger.Warn("reload ignored: --demo serves its own accounts")
		return nil
	}
	reject := func(err error) error {
		logger.Error("reload rejected; keeping the running config", "err", err)
		return err
	}
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		return reject(err)
	}
	// The flags given at start still override the file: without them here
	// an unchanged file would look like a changed listen address.
	opts.override(cfg)
	warnPermissions(logger, cfg)
	if err := vetReload(running, cfg); err != nil {
		return reject(err)
	}
	accounts, err := account.NewAll(cfg.Accounts, account.WithTokenDir(cmdutil.TokenDir(cfg)))
	if err != nil {
		return reject(err)
	}
	// The new secrets are hidden before any request can carry them.
	rt.secrets.Replace(cmdutil.SecretsOf(cfg, accounts))
	rt.pool.Replace(accounts)
	rt.keys.Replace(serverKeys(cfg.ClientKeys))
	rt.limits.Replace(cfg.ClientKeys)
	// Pick up the shared state now rather than at the next periodic sync.
	if err := rt.tracker.Sync(ctx); err != nil {
		logger.Warn("syncing cooldowns after reload", "err", err)
	}
	if changed := config.RestartNeeded(running, cfg); len(changed) > 0 {
		logger.Warn("reload: these settings need a restart to take effect: " + strings.Join(changed, ", "))
	}
	logger.Info("config reloaded", "accounts", len(accounts), "client_keys", len(cfg.ClientKeys))
	return nil
}

// runtimeParts are what a reload swaps in the running proxy.
type runtimeParts struct {
	pool    *account.Pool
	keys    *server.KeySet
	limits  *keylimit.Limiter
	secrets *redact.Set
	tracker *health.Tracker
}

// vetReload refuses a loaded config the running proxy must not switch to:
// one with no enabled account, or one without client keys while the proxy
// listens where other machines reach it (start-up refuses that too).
func vetReload(running, next *config.Config) error {
	enabled := 0
	for _, a := range next.Accounts {
		if a.Enabled {
			enabled++
		}
	}
	switch {
	case next.Path == "":
		return fmt.Errorf("no config file found: %w", ErrReloadNoAccount)
	case len(next.Accounts) == 0 && emptyFile(next.Path):
		return fmt.Errorf("config %s is empty: %w", next.Path, ErrReloadNoAccount)
	case len(next.Accounts) == 0:
		return fmt.Errorf("config %s has no accounts: %w", next.Path, ErrReloadNoAccount)
	case enabled == 0:
		return fmt.Errorf("every account in %s is disabled (enabled: false): %w", next.Path, ErrReloadNoAccount)
	}
	if len(next.ClientKeys) == 0 {
		if err := server.CheckExposure(running.Listen, false); err != nil {
			return fmt.Errorf("config %s has no client_keys: %w", next.Path, err)
		}
	}
	return nil
}

// emptyFile reports whether path holds nothing but blanks: a file being
// rewritten is often caught empty.
func emptyFile(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && len(bytes.TrimSpace(data)) == 0
}

// serverKeys turns the config's client keys into the server's.
func serverKeys(ks []config.ClientKey) []server.ClientKey {
	out := make([]server.ClientKey, len(ks))
	for i, k := range ks {
		out[i] = server.ClientKey{Name: k.Name, Key: k.Key, Role: identity.Role(k.Role)}
	}
	return out
}

// warnPermissions logs each secret that other users of the machine can read,
// with the command that fixes it.
func warnPermissions(logger *slog.Logger, cfg *config.Config) {
	for _, w := range config.CheckPermissions(cfg) {
		logger.Warn(w.Message)
	}
}
