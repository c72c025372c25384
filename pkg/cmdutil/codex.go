package cmdutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/config"
)

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

// ChooseCodexAuth picks how Codex should authenticate, from the proxy's
// client_keys and the Codex login at authPath, and says why when the choice
// costs something or needs the user.
func ChooseCodexAuth(cfg *config.Config, authPath string) (CodexAuth, string) {
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

// CodexBaseURL is the base_url Codex reaches a proxy listening on listen
// at: an unspecified host (0.0.0.0, ::, none) is reached on loopback.
func CodexBaseURL(listen string) string {
	return "http://" + Dialable(listen) + "/v1"
}

// CodexConfigPath is Codex's config.toml: $CODEX_HOME/config.toml, else
// ~/.codex/config.toml. `proxy doctor` reads the same file.
func CodexConfigPath(getenv func(string) string) string {
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
