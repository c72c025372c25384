package importcodex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/shared"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/login"
)

// AccountsImportOptions are the inputs of `proxy accounts import-codex`.
type AccountsImportOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	AuthPath   string // "" : $CODEX_HOME/auth.json, else ~/.codex/auth.json
	Name       string
	Copy       bool
	Weight     int
}

// NewCmdAccountsImportCodex returns `proxy accounts import-codex`.
func NewCmdAccountsImportCodex(ios *cmdutil.IOStreams, runF func(context.Context, *AccountsImportOptions) error) *cobra.Command {
	opts := &AccountsImportOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "import-codex [AUTH_JSON] --name NAME",
		Short: "Add a ChatGPT account from a Codex CLI auth.json",
		Long: `Add an openai-responses account that uses the ChatGPT login Codex CLI keeps
in auth.json (default $CODEX_HOME/auth.json, else ~/.codex/auth.json).

The account refers to that file, so Codex and the proxy share one login and
whichever refreshes the tokens writes them back for the other. With --copy
the account gets a private copy beside the config (mode 0600) instead: use it
only for a login Codex no longer uses, since refresh tokens rotate and the
first of the two to refresh logs the other out.

The config file is edited in place, keeping its comments and order, and is
created when there is none. The result is validated before it is written.`,
		Example: `  codex login && proxy accounts import-codex --name chatgpt
  CODEX_HOME=~/work-codex proxy accounts import-codex --name work --weight 2
  proxy accounts import-codex ./other/auth.json --name spare --copy`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.AuthPath = args[0]
			}
			if opts.Name == "" {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("--name is required: the account's name in the config")}
			}
			if opts.Weight < 0 {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("--weight %d is negative; 0 makes a standby account", opts.Weight)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAccountsImport(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file to change (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml; created if missing)")
	f.StringVar(&opts.Name, "name", "", "name of the new account (required, unique)")
	f.BoolVar(&opts.Copy, "copy", false, "use a private copy of auth.json beside the config instead of the file itself")
	f.IntVar(&opts.Weight, "weight", 1, "the account's share of new sessions; 0 makes it a standby")
	return cmd
}

func runAccountsImport(_ context.Context, opts *AccountsImportOptions) error {
	ios := opts.IO
	authPath, err := codexAuthPath(ios, opts.AuthPath)
	if err != nil {
		return err
	}
	auth, err := codexauth.Read(authPath)
	if errors.Is(err, fs.ErrNotExist) {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf(
			"no Codex login at %s: run `codex login`, set CODEX_HOME, or use `proxy accounts login NAME`", cmdutil.DisplayPath(ios, authPath))}
	}
	if errors.Is(err, codexauth.ErrNotChatGPT) {
		return fmt.Errorf("%s is not a ChatGPT login: %w", authPath, codexauth.ErrNotChatGPT)
	}
	if err != nil {
		return err
	}
	accountID := auth.AccountID()
	if accountID == "" {
		return fmt.Errorf("%s names no ChatGPT account (no tokens.account_id and no chatgpt_account_id claim in the id_token); run `codex login` again", authPath)
	}
	if err := login.CheckJWTs(auth.Tokens.IDToken, auth.Tokens.AccessToken); err != nil {
		return fmt.Errorf("%s: %w; the proxy reads the account and expiry from the JWTs `codex login` writes: run it again", authPath, err)
	}

	cfgPath := config.Locate(opts.ConfigPath, ios.Getenv)
	created := false
	if cfgPath == "" {
		cfgPath = "proxy.yaml"
	}
	src, err := os.ReadFile(cfgPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		src, created = []byte(shared.MinimalConfig), true
	case err != nil:
		return fmt.Errorf("reading config %s: %w", cfgPath, err)
	}
	names, err := shared.AccountNames(src)
	if err != nil {
		return fmt.Errorf("reading config %s: %w", cfgPath, err)
	}
	if slices.Contains(names, opts.Name) {
		return fmt.Errorf("%s already has an account named %q; choose another --name", cfgPath, opts.Name)
	}
	accounts, _ := shared.YAMLAccounts(src)
	if holder := shared.AccountHolding(ios, accounts, cfgPath, accountID, ""); holder != "" {
		return fmt.Errorf("ChatGPT account %s is already in %s as account %q: two accounts sharing one login rotate each other's refresh token away; sign in another ChatGPT account (`proxy accounts login NAME`)",
			shared.ShortID(accountID), cfgPath, holder)
	}

	dir := filepath.Dir(cfgPath)
	authValue := cmdutil.DisplayPath(ios, authPath)
	var copied string
	if opts.Copy {
		copied = filepath.Join(dir, "codex-"+opts.Name+".auth.json")
		if _, err := os.Stat(copied); err == nil {
			return fmt.Errorf("%s already exists; remove it or choose another --name", copied)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := auth.WriteAtomic(copied); err != nil {
			return err
		}
		// Relative paths in the config are taken from its directory.
		authValue = filepath.Base(copied)
	}
	undo := func() {
		if copied != "" {
			_ = os.Remove(copied)
		}
	}

	out, err := shared.AppendAccount(src, []shared.Field{
		{Key: "name", Value: opts.Name},
		{Key: "type", Value: config.TypeOpenAIResponses},
		{Key: "auth_file", Value: authValue},
		{Key: "weight", Value: strconv.Itoa(opts.Weight), Number: true},
	})
	if err != nil {
		undo()
		return fmt.Errorf("editing config %s: %w", cfgPath, err)
	}
	mode := fs.FileMode(0o600)
	if info, err := os.Stat(cfgPath); err == nil {
		mode = info.Mode().Perm()
	}
	if err := shared.WriteValidated(ios, cfgPath, src, out, created, mode); err != nil {
		undo()
		return err
	}

	verb := "changed"
	if created {
		verb = "created"
	}
	fmt.Fprintf(ios.ErrOut, "added account %s (openai-responses, ChatGPT account %s, auth_file %s)\n%s %s\n",
		opts.Name, shared.ShortID(accountID), authValue, verb, cfgPath)
	fmt.Fprintf(ios.ErrOut, "check it: proxy accounts test %s; a running proxy picks it up on SIGHUP\n", opts.Name)
	return nil
}

// codexAuthPath is the auth.json to import: the argument, else
// $CODEX_HOME/auth.json, else ~/.codex/auth.json.
func codexAuthPath(ios *cmdutil.IOStreams, arg string) (string, error) {
	if arg != "" {
		return filepath.Abs(cmdutil.ExpandHome(ios, arg))
	}
	if ch := ios.Getenv("CODEX_HOME"); ch != "" {
		return filepath.Abs(filepath.Join(cmdutil.ExpandHome(ios, ch), "auth.json"))
	}
	home := cmdutil.HomeDir(ios)
	if home == "" {
		return "", errors.New("no HOME to find ~/.codex/auth.json in: give the path of auth.json")
	}
	return filepath.Join(home, ".codex", "auth.json"), nil
}
