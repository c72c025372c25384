package cli

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
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/config"
)

// CodexProviderID is the provider's id in Codex's config.toml: the table
// [model_providers.proxy] and the value of the top-level model_provider.
const CodexProviderID = "proxy"

// CodexKeyEnv is the variable the provider's env_key names when the proxy
// has client_keys: Codex sends its value as Authorization: Bearer.
const CodexKeyEnv = "PROXY_API_KEY"

// CodexAuth is how Codex proves itself to the proxy, which decides the
// provider's last line.
type CodexAuth int

const (
	// CodexAuthLogin is requires_openai_auth = true: Codex sends its own
	// ChatGPT login (`codex login`), and with it asks for the model list and
	// compresses bodies. The proxy needs no key, or has the login among its
	// accounts and accepts its token.
	CodexAuthLogin CodexAuth = iota
	// CodexAuthKey is env_key: Codex sends one of the proxy's client_keys
	// from $PROXY_API_KEY. A key replaces the login, so the model list and
	// zstd bodies are not used.
	CodexAuthKey
	// CodexAuthNone sends nothing: no client_keys and no Codex login
	// (requires_openai_auth would make Codex's TUI ask for a sign-in).
	CodexAuthNone
)

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
func CodexProviderBlock(baseURL string, auth CodexAuth) string {
	var b strings.Builder
	b.WriteString("# Codex CLI through the proxy; `proxy codex config --write` keeps this up to date.\n")
	b.WriteString(`model_provider = "` + CodexProviderID + `"` + "\n")
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
	case CodexAuthLogin:
		line("requires_openai_auth = true", "with `codex login`: Codex sends that login and lists models from the proxy")
	case CodexAuthKey:
		line(fmt.Sprintf("env_key = %q", CodexKeyEnv), "sent as Authorization: Bearer $"+CodexKeyEnv+": one of the proxy's client_keys")
		line("# requires_openai_auth = true", "instead of env_key if your `codex login` is one of the proxy's accounts")
	case CodexAuthNone:
		line("# requires_openai_auth = true", "after `codex login`: Codex then sends it and lists models from the proxy")
	}
	return b.String()
}

// CodexConfigOptions are the inputs of `proxy codex config`.
type CodexConfigOptions struct {
	IO         *IOStreams
	ConfigPath string
	// Write puts the block in $CODEX_HOME/config.toml instead of printing it.
	Write bool
}

// NewCmdCodex returns `proxy codex` and its subcommands.
func NewCmdCodex(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "codex",
		Short: "Set Codex CLI up to use this proxy",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdCodexConfig(ios, nil))
	return cmd
}

// NewCmdCodexConfig returns `proxy codex config`.
func NewCmdCodexConfig(ios *IOStreams, runF func(context.Context, *CodexConfigOptions) error) *cobra.Command {
	opts := &CodexConfigOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print (or --write) the Codex CLI provider block for this proxy",
		Long: `Print the lines of Codex CLI's config.toml that point Codex at this proxy: its
listen address from the config and, when the proxy has client_keys, the
variable Codex sends the client key from (` + CodexKeyEnv + `).

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
	cfg, err := loadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		return err
	}
	path := codexConfigPath(opts.IO.Getenv)
	auth, note := chooseCodexAuth(cfg, filepath.Join(filepath.Dir(path), "auth.json"))
	block := CodexProviderBlock(codexBaseURL(cfg.Listen), auth)
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

// chooseCodexAuth picks how Codex should authenticate, from the proxy's
// client_keys and the Codex login at authPath, and says why when the choice
// costs something or needs the user.
func chooseCodexAuth(cfg *config.Config, authPath string) (CodexAuth, string) {
	_, err := codexauth.Read(authPath) // a ChatGPT login, not an API key
	login := err == nil
	if len(cfg.ClientKeys) == 0 {
		if login {
			return CodexAuthLogin, ""
		}
		return CodexAuthNone, "no ChatGPT login in " + authPath + ": after `codex login`, run this again for requires_openai_auth (the model list, zstd bodies)"
	}
	if login {
		for _, a := range cfg.Accounts {
			if a.Type == config.TypeOpenAIResponses && a.AuthFile != "" && sameFile(a.AuthFile, authPath) {
				return CodexAuthLogin, fmt.Sprintf("Codex's login (%s) is the proxy's account %s: the proxy accepts its token, no client key needed", authPath, a.Name)
			}
		}
	}
	names := make([]string, len(cfg.ClientKeys))
	for i, k := range cfg.ClientKeys {
		names[i] = k.Name
	}
	return CodexAuthKey, fmt.Sprintf("export %s=<the key of one of the proxy's client_keys: %s> in the shell that runs codex",
		CodexKeyEnv, strings.Join(names, ", "))
}

// sameFile reports whether two paths name one file, links followed.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// codexBaseURL is the base_url Codex reaches a proxy listening on listen
// at: an unspecified host (0.0.0.0, ::, none) is reached on loopback.
func codexBaseURL(listen string) string {
	return "http://" + dialable(listen) + "/v1"
}

// codexConfigPath is Codex's config.toml: $CODEX_HOME/config.toml, else
// ~/.codex/config.toml. `proxy doctor` reads the same file.
func codexConfigPath(getenv func(string) string) string {
	home := getenv("CODEX_HOME")
	if home == "" {
		dir := getenv("HOME")
		if dir == "" {
			dir, _ = os.UserHomeDir()
		}
		home = filepath.Join(dir, ".codex")
	}
	return filepath.Join(home, "config.toml")
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
