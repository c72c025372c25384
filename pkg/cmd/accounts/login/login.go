package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/shared"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/login"
)

// DefaultLoginTimeout is how long `accounts login` waits for the user:
// the life of an OpenAI device code, and as long for the browser.
const DefaultLoginTimeout = 15 * time.Minute

// AccountsLoginOptions are the inputs of `proxy accounts login`.
type AccountsLoginOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	Name       string
	Device     bool
	Timeout    time.Duration
	Weight     int

	// OpenBrowser opens a URL in the user's browser; nil finds one
	// ($BROWSER, open, xdg-open). Its failure is never the command's.
	OpenBrowser func(url string) error
	// Ports are the callback ports to try; nil is Codex's (1455, 1457),
	// the only ones the issuer accepts. Tests use 0.
	Ports []int
	// HTTP talks to the issuer; nil is a default client.
	HTTP *http.Client
	// Now and Sleep are the clock of polling and time-outs; nil is real
	// time. Tests inject a fake one.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// NewCmdAccountsLogin returns `proxy accounts login`.
func NewCmdAccountsLogin(ios *cmdutil.IOStreams, runF func(context.Context, *AccountsLoginOptions) error) *cobra.Command {
	opts := &AccountsLoginOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "login NAME [--device]",
		Short: "Sign a ChatGPT account in and add it (or renew its login)",
		Long: `Sign a ChatGPT account in the way Codex CLI does and keep its tokens for the
proxy: in a browser (the default; the sign-in page comes back to a server on
localhost:1455), or with --device, by typing a one-time code at
https://auth.openai.com/codex/device from any device, for machines without a
browser (over SSH).

The tokens go to NAME.auth.json beside the config (mode 0600, the format of
Codex's auth.json), and an openai-responses account NAME using it is added to
the config, keeping its comments and order. When NAME exists, this is a
re-login: its tokens are replaced and its other settings kept. Signing one
ChatGPT account in twice under two names is refused: two accounts sharing a
login would rotate each other's refresh token away.

oauth.issuer in the config (default https://auth.openai.com) says where to
sign in.`,
		Example: `  proxy accounts login chatgpt
  proxy accounts login work --device
  proxy accounts login chatgpt      # again, when its login has expired`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := checkLoginName(opts.Name); err != nil {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: err}
			}
			if opts.Weight < 0 {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("--weight %d is negative; 0 makes a standby account", opts.Weight)}
			}
			if opts.Timeout <= 0 {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("--timeout %s must be positive", opts.Timeout)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAccountsLogin(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file to change (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml; created if missing)")
	f.BoolVar(&opts.Device, "device", false, "sign in with a one-time code typed on any device, instead of a browser here")
	f.DurationVar(&opts.Timeout, "timeout", DefaultLoginTimeout, "how long to wait for the sign-in")
	f.IntVar(&opts.Weight, "weight", 1, "a new account's share of new sessions; 0 makes it a standby (a re-login keeps the weight)")
	return cmd
}

// checkLoginName refuses names that cannot be a file name beside the
// config, since the tokens go to NAME.auth.json.
func checkLoginName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") {
		return fmt.Errorf("account name %q must start with a letter or digit", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("account name %q may hold only letters, digits, '-', '_' and '.': its tokens go to NAME.auth.json", name)
		}
	}
	return nil
}

func runAccountsLogin(ctx context.Context, opts *AccountsLoginOptions) error {
	ios := opts.IO
	now := opts.Now
	if now == nil {
		now = time.Now
	}

	// Everything that can be refused before the user signs in is.
	cfgPath := config.Locate(opts.ConfigPath, ios.Getenv)
	if cfgPath == "" {
		cfgPath = "proxy.yaml"
	}
	created := false
	src, err := os.ReadFile(cfgPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		src, created = []byte(shared.MinimalConfig), true
	case err != nil:
		return fmt.Errorf("reading config %s: %w", cfgPath, err)
	}
	accounts, err := shared.YAMLAccounts(src)
	if err != nil {
		return fmt.Errorf("reading config %s: %w", cfgPath, err)
	}
	authPath := shared.AuthFilePath(ios, opts.Name+".auth.json", cfgPath)
	var existing *shared.YAMLAccount
	for i, a := range accounts {
		if a.Name == opts.Name {
			existing = &accounts[i]
		}
	}
	if existing != nil && existing.Type != config.TypeOpenAIResponses {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("%s already has account %q of type %s: only %s accounts sign in; choose another name",
			cfgPath, opts.Name, existing.Type, config.TypeOpenAIResponses)}
	}
	for _, a := range accounts {
		if a.Name != opts.Name && shared.AuthFilePath(ios, a.AuthFile, cfgPath) == authPath {
			return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("%s is the auth_file of account %q; choose another name", authPath, a.Name)}
		}
	}
	oauth, err := loginOAuth(ios, cfgPath, created)
	if err != nil {
		return err
	}

	client := &login.Client{Issuer: oauth.Issuer, TokenURL: oauth.TokenURL, ClientID: oauth.ClientID,
		HTTP: opts.HTTP, Now: opts.Now, Sleep: opts.Sleep}
	var tokens login.Tokens
	if opts.Device {
		tokens, err = deviceLogin(ctx, opts, client)
	} else {
		tokens, err = browserLogin(ctx, opts, client)
	}
	if err != nil {
		return loginFailure(err, opts, oauth.Issuer)
	}

	accountID := tokens.AccountID()
	if accountID == "" {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("the sign-in gave an id token that names no ChatGPT account (no chatgpt_account_id claim): sign in with a ChatGPT account, not an API organization")}
	}
	if holder := shared.AccountHolding(ios, accounts, cfgPath, accountID, opts.Name); holder != "" {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("ChatGPT account %s is already signed in as account %q in %s: two accounts sharing one login rotate each other's refresh token away. Renew that one with `proxy accounts login %s`, or sign in with another ChatGPT account",
			shared.ShortID(accountID), holder, cfgPath, holder)}
	}
	var previousID string
	if existing != nil {
		previousID = existing.ChatGPTAccountID(ios, cfgPath)
	}

	// The auth file first: validating the edited config reads it.
	if err := os.MkdirAll(filepath.Dir(authPath), 0o700); err != nil {
		return err
	}
	_, statErr := os.Stat(authPath)
	fresh := errors.Is(statErr, fs.ErrNotExist)
	if err := writeLoginAuth(authPath, tokens, accountID, now()); err != nil {
		return err
	}
	authValue := opts.Name + ".auth.json" // relative: taken from the config's directory

	var out []byte
	if existing == nil {
		out, err = shared.AppendAccount(src, []shared.Field{
			{Key: "name", Value: opts.Name},
			{Key: "type", Value: config.TypeOpenAIResponses},
			{Key: "auth_file", Value: authValue},
			{Key: "weight", Value: strconv.Itoa(opts.Weight), Number: true},
		})
	} else {
		var set []shared.Field
		if shared.AuthFilePath(ios, existing.AuthFile, cfgPath) != authPath {
			set = append(set, shared.Field{Key: "auth_file", Value: authValue})
		}
		// The login replaces inline tokens: an account has one source.
		out, err = shared.UpdateAccount(src, opts.Name, set, []string{"access_token", "refresh_token", "account_id"})
	}
	if err != nil {
		if fresh {
			_ = os.Remove(authPath)
		}
		return fmt.Errorf("editing config %s: %w", cfgPath, err)
	}
	changed := string(out) != string(src)
	if changed || created {
		mode := fs.FileMode(0o600)
		if info, err := os.Stat(cfgPath); err == nil {
			mode = info.Mode().Perm()
		}
		if err := shared.WriteValidated(ios, cfgPath, src, out, created, mode); err != nil {
			if fresh {
				_ = os.Remove(authPath)
			}
			return err
		}
	}

	who := shared.ShortID(accountID)
	if email := emailOf(tokens.IDToken); email != "" {
		who += " (" + email + ")"
	}
	fmt.Fprintf(ios.ErrOut, "signed in ChatGPT account %s\nwrote %s (mode 0600)\n", who, authPath)
	switch {
	case existing == nil:
		verb := "changed"
		if created {
			verb = "created"
		}
		fmt.Fprintf(ios.ErrOut, "added account %s (openai-responses, auth_file %s)\n%s %s\n", opts.Name, authValue, verb, cfgPath)
	case changed && existing.AuthFile == "":
		fmt.Fprintf(ios.ErrOut, "renewed the login of account %s; its tokens are now in %s, no longer in the config\nchanged %s\n", opts.Name, authValue, cfgPath)
	case changed:
		fmt.Fprintf(ios.ErrOut, "renewed the login of account %s; its auth_file is now %s (%s is left as it was)\nchanged %s\n", opts.Name, authValue, existing.AuthFile, cfgPath)
	default:
		fmt.Fprintf(ios.ErrOut, "renewed the login of account %s\n", opts.Name)
	}
	if previousID != "" && previousID != accountID {
		fmt.Fprintf(ios.ErrOut, "note: account %s was ChatGPT account %s before; it is now %s\n", opts.Name, shared.ShortID(previousID), shared.ShortID(accountID))
	}
	fmt.Fprintf(ios.ErrOut, "check it: proxy accounts test %s; a running proxy picks it up on SIGHUP\n", opts.Name)
	return nil
}

func deviceLogin(ctx context.Context, opts *AccountsLoginOptions, c *login.Client) (login.Tokens, error) {
	dc, err := c.StartDevice(ctx)
	if err != nil {
		return login.Tokens{}, err
	}
	w := opts.IO.ErrOut
	fmt.Fprintf(w, "To sign in ChatGPT account %s:\n", opts.Name)
	fmt.Fprintf(w, "  1. open %s in a browser, on any device, and sign in\n", dc.VerificationURL)
	fmt.Fprintf(w, "  2. enter the code %s (device codes are a phishing target: never share it)\n", dc.UserCode)
	fmt.Fprintf(w, "waiting for the code to be entered (up to %s)...\n", opts.Timeout)
	return c.PollDevice(ctx, dc, opts.Timeout)
}

func browserLogin(ctx context.Context, opts *AccountsLoginOptions, c *login.Client) (login.Tokens, error) {
	b, err := c.StartBrowser(opts.Ports)
	if err != nil {
		return login.Tokens{}, err
	}
	defer b.Close()
	w := opts.IO.ErrOut
	fmt.Fprintf(w, "To sign in ChatGPT account %s, open this link in a browser on this machine:\n\n  %s\n\n", opts.Name, b.URL)
	open := opts.OpenBrowser
	if open == nil {
		open = systemBrowser(opts.IO.Getenv)
	}
	if err := open(b.URL); err == nil {
		fmt.Fprintln(w, "(opened it in your browser)")
	}
	fmt.Fprintf(w, "waiting up to %s for the browser to come back to %s (no browser here? use --device)...\n", opts.Timeout, b.RedirectURI)
	return b.Wait(ctx, opts.Timeout)
}

// loginFailure turns a failed sign-in into an exit status and a message
// that says what to do.
func loginFailure(err error, opts *AccountsLoginOptions, issuer string) error {
	again := "proxy accounts login " + opts.Name
	if opts.Device {
		again += " --device"
	}
	var advice string
	switch {
	case errors.Is(err, login.ErrTimeout) && opts.Device:
		advice = "run `" + again + "` for a new code, and enter it within " + opts.Timeout.String()
	case errors.Is(err, login.ErrTimeout):
		advice = "run `" + again + "` again and finish in the browser (--timeout gives more time), or use --device"
	case errors.Is(err, login.ErrDenied):
		advice = "run `" + again + "` again and approve the sign-in"
	case errors.Is(err, login.ErrUnreachable):
		advice = "check the network (and HTTPS_PROXY), and oauth.issuer in the config (now " + issuer + ")"
	case errors.Is(err, login.ErrDeviceCodeUnsupported):
		advice = "sign in with the browser: `proxy accounts login " + opts.Name + "`"
	case errors.Is(err, login.ErrNotJWT):
		advice = "oauth.issuer (" + issuer + ") does not look like an OpenAI issuer"
	case errors.Is(err, context.Canceled):
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("sign-in cancelled; nothing was changed")}
	default:
		advice = "nothing was changed; run `" + again + "` to try again"
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("%w\n  %s", err, advice)}
}

// loginOAuth returns the config's oauth settings. A file whose other
// parts do not load (a dead login's auth_file deleted, say) still gives
// its oauth section: the sign-in may be what repairs it.
func loginOAuth(ios *cmdutil.IOStreams, cfgPath string, created bool) (config.OAuth, error) {
	path := cfgPath
	if created {
		path = ""
	}
	cfg, err := config.Load(viper.New(), path, ios.Getenv)
	if err == nil {
		return cfg.OAuth, nil
	}
	var problems config.Problems
	if !errors.As(err, &problems) {
		return config.OAuth{}, err
	}
	var oauth config.Problems
	for _, p := range problems {
		if p.Path == "oauth" || strings.HasPrefix(p.Path, "oauth.") || p.Path == "" {
			oauth = append(oauth, p)
		}
	}
	if len(oauth) > 0 {
		return config.OAuth{}, oauth
	}
	v := viper.New()
	v.SetConfigFile(cfgPath)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return config.OAuth{}, fmt.Errorf("reading config %s: %w", cfgPath, err)
	}
	get := func(key string) string {
		if e := ios.Getenv("PROXY_OAUTH_" + strings.ToUpper(key)); e != "" {
			return e
		}
		return v.GetString("oauth." + key)
	}
	return config.OAuthDefaults(config.OAuth{Issuer: get("issuer"), TokenURL: get("token_url"), ClientID: get("client_id")}), nil
}

// writeLoginAuth writes the tokens as Codex writes auth.json, atomically
// with mode 0600.
func writeLoginAuth(path string, t login.Tokens, accountID string, now time.Time) error {
	type tokens struct {
		IDToken      string `json:"id_token"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		AccountID    string `json:"account_id"`
	}
	data, err := json.Marshal(struct {
		AuthMode    string  `json:"auth_mode"`
		APIKey      *string `json:"OPENAI_API_KEY"`
		Tokens      tokens  `json:"tokens"`
		LastRefresh string  `json:"last_refresh"`
	}{codexauth.AuthModeChatGPT, nil, tokens{t.IDToken, t.AccessToken, t.RefreshToken, accountID}, now.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	f, err := codexauth.Parse(data)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.WriteAtomic(path)
}

// emailOf is the id token's email claim, to show whose login it is.
func emailOf(idToken string) string {
	claims, err := codexauth.Claims(idToken)
	if err != nil {
		return ""
	}
	e, _ := claims["email"].(string)
	return e
}

// systemBrowser returns an opener that starts the user's browser when the
// machine has one: $BROWSER, else open (macOS), rundll32 (Windows),
// xdg-open (with a display). It never waits for the browser.
func systemBrowser(getenv func(string) string) func(string) error {
	return func(url string) error {
		var name string
		var args []string
		switch {
		case getenv("BROWSER") != "":
			name = getenv("BROWSER")
		case runtime.GOOS == "darwin":
			name = "open"
		case runtime.GOOS == "windows":
			name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
		case getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "":
			return errors.New("no display")
		default:
			name = "xdg-open"
		}
		path, err := exec.LookPath(name)
		if err != nil {
			return err
		}
		cmd := exec.Command(path, append(args, url)...)
		if err := cmd.Start(); err != nil {
			return err
		}
		go func() { _ = cmd.Wait() }()
		return nil
	}
}
