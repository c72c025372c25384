package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/cmd/accounts/shared"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/probe"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/store"
)

// AccountsTestOptions are the inputs of `proxy accounts test`.
type AccountsTestOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	Names      []string
	JSON       bool
	Timeout    time.Duration
	Model      string
	// Update records failures as cooldowns in the configured Redis, as a
	// running proxy would, and clears the cooldowns of accounts that pass.
	Update bool
	// Now, Location and Client are injected by tests: a fixed clock makes
	// latencies and reset times stable.
	Now      func() time.Time
	Location *time.Location
	Client   *http.Client
}

// NewCmdAccountsTest returns `proxy accounts test`.
func NewCmdAccountsTest(ios *cmdutil.IOStreams, runF func(context.Context, *AccountsTestOptions) error) *cobra.Command {
	opts := &AccountsTestOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "test [NAME...]",
		Short: "Check each account's endpoint for real",
		Long: `Check accounts for real, all at once: send each a one-word streaming request
(to base_url + /responses, with the account's credentials) and read the
answer until response.completed. Each account gets OK, or the cause and what
to do about it, with the time to the first event and in total, and for
ChatGPT accounts the rate-limit windows the backend reports.

Without names every enabled account is checked. The model asked for is
--model, else the account's first allowed model that is not a glob, else
` + probe.DefaultModel + `.

A ChatGPT account's access token that has expired, or that the backend
refuses, is renewed at oauth.token_url first and the account checked again,
as the proxy would; the renewed tokens are saved to its auth file. A login is
reported dead only when the token endpoint refuses its refresh token, with
how to log in again.

A running proxy's cooldowns are left alone unless --update is given; it
writes to redis.url, so it needs one (the embedded store lives inside the
running proxy and cannot be reached).

Exit status: 0 when every account passed, 1 when any failed, 2 when the
config is invalid.`,
		Example: `  proxy accounts test
  proxy accounts test chatgpt --model gpt-5-codex
  proxy accounts test --json | jq '.[] | select(.ok | not) | .error'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if opts.Timeout <= 0 {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("--timeout %s: must be positive", opts.Timeout)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAccountsTest(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)")
	f.BoolVar(&opts.JSON, "json", false, "print JSON: [{name, type, ok, status, error, ttfb_ms, total_ms, limits}]")
	f.DurationVar(&opts.Timeout, "timeout", probe.DefaultTimeout, "time allowed for each account's check")
	f.StringVar(&opts.Model, "model", "", "model to ask for (default: the account's first allowed model, else "+probe.DefaultModel+")")
	f.BoolVar(&opts.Update, "update", false, "record failures as cooldowns (and clear passed accounts' ones) in redis.url")
	return cmd
}

func runAccountsTest(ctx context.Context, opts *AccountsTestOptions) error {
	now, loc := cmdutil.ClockOf(opts.Now, opts.Location)
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		return err
	}
	chosen, err := selectAccounts(cfg, opts.Names)
	if err != nil {
		return err
	}
	if len(chosen) == 0 {
		return &cmdutil.ExitError{Code: cmdutil.ExitConfigError, Err: fmt.Errorf("no enabled accounts in %s to test", shared.ConfigName(cfg))}
	}
	if skipped := len(cfg.Accounts) - len(chosen); len(opts.Names) == 0 && skipped > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "skipping %d disabled account(s); name one to test it anyway\n", skipped)
	}

	// An account that cannot even be built (its auth file went bad) is a
	// failed check, listed with the others.
	results := make([]probe.Result, len(chosen))
	var built []*account.Account
	var at []int
	for i, c := range chosen {
		a, err := account.New(c, account.WithTokenDir(cmdutil.TokenDir(cfg)))
		if err != nil {
			results[i] = probe.Failed(c.Name, c.Type, err)
			continue
		}
		built = append(built, a)
		at = append(at, i)
	}
	// A ChatGPT login is called dead only when its refresh token is: an
	// expired or refused access token is renewed first, as the proxy
	// would, and the renewed tokens are written back to the auth file.
	secrets := redact.New(cmdutil.SecretsOf(cfg, built))
	refresher := account.NewRefresher(account.RefresherOptions{
		TokenURL: cfg.OAuth.TokenURL, ClientID: cfg.OAuth.ClientID, Client: opts.Client, Now: now,
		Timeout:  opts.Timeout, // a hanging token endpoint must not outlast --timeout
		Logger:   slog.New(redact.NewHandler(slog.NewTextHandler(opts.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}), secrets)),
		OnRotate: func(a *account.Account) { secrets.Add(a.Secrets()...) },
	})
	checked := probe.CheckAll(ctx, built, probe.Options{
		Client: opts.Client, Timeout: opts.Timeout, Model: opts.Model, Now: now, Location: loc, Refresher: refresher,
	})
	// A refresh whose caller timed out still finishes and saves the
	// rotated tokens: a refresh token spent and not written is a lost login.
	_ = refresher.Close()
	for j, r := range checked {
		results[at[j]] = r
	}

	if opts.Update {
		if err := recordResults(ctx, opts.IO, cfg.Redis.URL, cfg.Redis.KeyPrefix, built, checked); err != nil {
			fmt.Fprintln(opts.IO.ErrOut, "--update:", err)
		}
	}

	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, results); err != nil {
			return err
		}
	} else if err := printTestResults(opts.IO.Out, results, now(), loc); err != nil {
		return err
	}
	if failed > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%d of %d account(s) failed\n", failed, len(results))
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure}
	}
	return nil
}

func printTestResults(w io.Writer, results []probe.Result, now time.Time, loc *time.Location) error {
	t := cmdutil.NewTable(w, "NAME", "TYPE", "RESULT", "FIRST EVENT", "TOTAL", "DETAIL")
	for _, r := range results {
		result, detail := "ok", probe.FormatLimits(r.Limits, now, loc)
		if r.OK && r.Refreshed {
			detail = strings.TrimSuffix("access token renewed and saved; "+detail, "; ")
		}
		if r.OK && r.WebSocket != "" {
			detail = strings.TrimPrefix(detail+"; websocket "+r.WebSocket, "; ")
		}
		if !r.OK {
			result, detail = "FAIL", r.Error
			if l := probe.FormatLimits(r.Limits, now, loc); l != "" {
				detail += "; limits " + l
			}
		}
		typ := r.Type
		if r.API != "" {
			typ += " (" + r.API + ")"
		}
		t.Add(r.Name, typ, result, millis(r.TTFB, r.Status == http.StatusOK), millis(r.Total, r.Sent), detail)
	}
	return t.Render()
}

// millis shows a latency in whole milliseconds, or nothing when it was not
// measured.
func millis(d time.Duration, measured bool) string {
	if !measured {
		return ""
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// recordResults writes the checks' outcomes to the shared store the way a
// running proxy's health tracking would: failures become cooldowns, a pass
// ends one.
func recordResults(ctx context.Context, ios *cmdutil.IOStreams, url, prefix string, accounts []*account.Account, results []probe.Result) error {
	if url == "" {
		return fmt.Errorf("redis.url is not set: the running proxy keeps its state in its embedded store, which only it can reach; nothing recorded")
	}
	st, err := store.Open(ctx, store.Options{URL: url, KeyPrefix: prefix})
	if err != nil {
		return err
	}
	defer st.Close()
	tracker := health.New(st, health.WithLogger(slog.New(slog.DiscardHandler)))
	if err := tracker.Sync(ctx); err != nil {
		return err
	}
	recorded := 0
	for i, a := range accounts {
		o := results[i].Outcome
		if o.Class == health.ClientError {
			continue // the request's fault (a model the account lacks), not the account's
		}
		_, set := tracker.Report(ctx, a, o)
		if !set && o.Class.Failover() {
			// A running proxy waits for a streak of network or server
			// failures; a deliberate check is evidence enough.
			c := store.Cooldown{Account: a.Name, Reason: string(o.Class), Message: "proxy accounts test: " + results[i].Error,
				Since: time.Now(), Until: time.Now().Add(health.DefaultPolicy.FailureCooldown)}
			if err := st.SetCooldown(ctx, c); err != nil {
				return err
			}
			set = true
		}
		if set {
			recorded++
		}
	}
	fmt.Fprintf(ios.ErrOut, "--update: recorded %d cooldown(s) in %s\n", recorded, "redis")
	return nil
}

// selectAccounts returns the configured accounts named in names, in config
// order, or every enabled account when names is empty.
func selectAccounts(cfg *config.Config, names []string) ([]config.Account, error) {
	if len(names) == 0 {
		var out []config.Account
		for _, c := range cfg.Accounts {
			if c.Enabled {
				out = append(out, c)
			}
		}
		return out, nil
	}
	known := make([]string, len(cfg.Accounts))
	for i, c := range cfg.Accounts {
		known[i] = c.Name
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			hint := ""
			if s := config.Suggest(n, known); s != "" {
				hint = fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, &cmdutil.ExitError{Code: cmdutil.ExitConfigError,
				Err: fmt.Errorf("no account named %q in %s%s (accounts: %s)", n, shared.ConfigName(cfg), hint, strings.Join(known, ", "))}
		}
	}
	var out []config.Account
	for _, c := range cfg.Accounts {
		if slices.Contains(names, c.Name) {
			out = append(out, c)
		}
	}
	return out, nil
}
