package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/atomicfile"
	"github.com/proxy-dev/proxy/pkg/backendapi"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// CodexProviderID is the provider's id in Codex's config.toml: the table
// [model_providers.proxy] and the value of the top-level model_provider.
const CodexProviderID = "proxy"

// CodexProviderBlock returns the Codex config.toml lines that point Codex at
// a proxy reached at baseURL (with its "/v1"), each explained in a comment.
// With CodexAuthLogin it is the README's block, which the e2e test
// codex_provider_test.go runs the real Codex CLI with. name = "OpenAI"
// (exact case) makes Codex treat the provider as OpenAI: it compacts on the
// server ("remote compaction v2": a /responses request ending in a
// compaction_trigger item) instead of running a local summary turn, and,
// with a ChatGPT login, sends zstd request bodies over HTTP.
// supports_websockets puts Codex on its preferred transport, the proxy's
// WebSocket gateway.
func CodexProviderBlock(baseURL string, auth cmdutil.CodexAuth) string {
	var b strings.Builder
	b.WriteString("# Codex CLI through the proxy; `proxy codex config --write` keeps this up to date.\n")
	backend := fmt.Sprintf("chatgpt_base_url = %q", strings.TrimSuffix(baseURL, "/v1")+backendapi.Prefix)
	if auth == cmdutil.CodexAuthKey {
		// Codex's ChatGPT calls carry its login, never the env_key: the
		// proxy admits that login only when it is one of its accounts.
		fmt.Fprintf(&b, "%-40s # %s\n", "# "+backend, "only if your `codex login` is one of the proxy's accounts: /status then shows the pool's windows")
	}
	b.WriteString(`model_provider = "` + CodexProviderID + `"` + "\n")
	if auth != cmdutil.CodexAuthKey {
		fmt.Fprintf(&b, "%-40s # %s\n", backend, "with `codex login`: /status and its warnings show what the pool has left")
	}
	b.WriteString("\n")
	b.WriteString("[model_providers." + CodexProviderID + "]\n")
	line := func(kv, comment string) {
		fmt.Fprintf(&b, "%-40s # %s\n", kv, comment)
	}
	line(`name = "OpenAI"`, `exactly "OpenAI": Codex then compacts on the server and may send zstd bodies`)
	line(fmt.Sprintf("base_url = %q", baseURL), `the proxy's address; Codex POSTs base_url + "/responses"`)
	line(`wire_api = "responses"`, "the Responses API, the only wire API Codex speaks")
	line("supports_websockets = true", "Codex's preferred transport: one WebSocket per session")
	switch auth {
	case cmdutil.CodexAuthLogin:
		line("requires_openai_auth = true", "with `codex login`: Codex sends that login and lists models from the proxy")
	case cmdutil.CodexAuthKey:
		line(fmt.Sprintf("env_key = %q", cmdutil.CodexKeyEnv), "sent as Authorization: Bearer $"+cmdutil.CodexKeyEnv+": one of the proxy's client_keys")
		line("# requires_openai_auth = true", "instead of env_key if your `codex login` is one of the proxy's accounts")
	case cmdutil.CodexAuthNone:
		line("# requires_openai_auth = true", "after `codex login`: Codex then sends it and lists models from the proxy")
	}
	return b.String()
}

// CodexConfigOptions are the inputs of `proxy codex config`.
type CodexConfigOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	// Write puts the block in $CODEX_HOME/config.toml instead of printing it.
	Write bool
}

// NewCmdCodexConfig returns `proxy codex config`.
func NewCmdCodexConfig(ios *cmdutil.IOStreams, runF func(context.Context, *CodexConfigOptions) error) *cobra.Command {
	opts := &CodexConfigOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print (or --write) the Codex CLI provider block for this proxy",
		Long: `Print the lines of Codex CLI's config.toml that point Codex at this proxy: its
listen address from the config and, when the proxy has client_keys, the
variable Codex sends the client key from (` + cmdutil.CodexKeyEnv + `).

With --write, put them in $CODEX_HOME/config.toml (default ~/.codex): the
[model_providers.` + CodexProviderID + `] table is added or updated and the top-level
model_provider set to "` + CodexProviderID + `"; every other line of the file, comments
included, is kept byte for byte. It says whether it added, updated or left
the file unchanged.`,
		Example: `  proxy codex config
  proxy codex config --write`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCodexConfig(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "config file (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)")
	cmd.Flags().BoolVar(&opts.Write, "write", false, "add or update the provider in $CODEX_HOME/config.toml")
	return cmd
}

func runCodexConfig(opts *CodexConfigOptions) error {
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		return err
	}
	path := cmdutil.CodexConfigPath(opts.IO.Getenv)
	auth, note := cmdutil.ChooseCodexAuth(cfg, filepath.Join(filepath.Dir(path), "auth.json"))
	block := CodexProviderBlock(cmdutil.CodexBaseURL(cfg.Listen), auth)
	if !opts.Write {
		if _, err := fmt.Fprint(opts.IO.Out, block); err != nil {
			return err
		}
	} else {
		result, err := writeCodexConfig(path, block)
		if err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.ErrOut, result)
	}
	if note != "" {
		fmt.Fprintln(opts.IO.ErrOut, "note: "+note)
	}
	return nil
}

// writeCodexConfig adds or updates the provider in the config.toml at path
// (created, with its directory, when missing) and describes what it did.
// A config.toml that is a symlink (dotfiles) is edited where it points.
func writeCodexConfig(path, block string) (string, error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading Codex config: %w", err)
	}
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	edit, err := setCodexProvider(old, block)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if !edit.changed() {
		return edit.summary(path), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating Codex home: %w", err)
	}
	if err := atomicfile.Write(path, edit.out, mode); err != nil {
		return "", fmt.Errorf("writing Codex config: %w", err)
	}
	return edit.summary(path), nil
}
