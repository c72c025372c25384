package list

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/cmd/accounts/shared"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/store"
)

// AccountsListOptions are the inputs of `proxy accounts list`.
type AccountsListOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	JSON       bool
	// Addr is the running server to ask for live state; "" is the
	// config's listen address.
	Addr string
	// Now is the clock for "cooling down until"; nil is time.Now.
	Now func() time.Time
	// Location is where times are shown; nil is time.Local.
	Location *time.Location
}

// NewCmdAccountsList returns `proxy accounts list`. runF replaces the
// command's work in tests of flag handling.
func NewCmdAccountsList(ios *cmdutil.IOStreams, runF func(context.Context, *AccountsListOptions) error) *cobra.Command {
	opts := &AccountsListOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the configured accounts and, when the proxy runs, their live state",
		Long: `List the configured accounts: name, type, base URL, weight, whether enabled,
allowed models and a fingerprint of the credential (never the credential).

When a proxy answers at --addr (default: the config's listen address), its
live state is added: healthy, cooling down until when, or invalid and why;
streams in flight; requests and tokens today. $PROXY_API_KEY is sent as the
bearer key when set. Without a running proxy but with redis.url set, the
state is read from Redis. A ChatGPT login that only a new sign-in can renew
(refused, or expired without a refresh token) says so, and how.

WINDOWS is each account's rate-limit windows as last seen (share used, when
it resets). A last line sums up the pool's headroom: what the accounts that
can serve have left, on average (on stderr when piped).`,
		Example: `  proxy accounts list
  proxy accounts list --json | jq '.accounts[] | select(.state != "healthy")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAccountsList(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)")
	f.BoolVar(&opts.JSON, "json", false, "print JSON")
	f.StringVar(&opts.Addr, "addr", "", "address of the running proxy (default: the config's listen)")
	return cmd
}

// States an account has only in this listing.
const (
	// stateUnknown: no server or Redis told.
	stateUnknown = "unknown"
	// stateNotLoaded: the running server does not know the account yet;
	// the entry's message says how to reload it (see reloadHint).
	stateNotLoaded = "not loaded"
)

// accountsListJSON is `accounts list --json`: every account with its live
// state and windows, and what the pool has left in all.
type accountsListJSON struct {
	Accounts     []status.Account    `json:"accounts"`
	PoolHeadroom []status.PoolWindow `json:"pool_headroom"`
}

// typeCell is the account's type, and its API when it is not Responses.
func typeCell(e status.Account) string {
	if e.API != "" {
		return e.Type + " (" + e.API + ")"
	}
	return e.Type
}

// modelsCell is the allow-list, then the model_map's renamings.
func modelsCell(e status.Account) string {
	cells := append([]string(nil), e.Models...)
	names := make([]string, 0, len(e.ModelMap))
	for from := range e.ModelMap {
		names = append(names, from)
	}
	sort.Strings(names)
	for _, from := range names {
		cells = append(cells, from+"→"+e.ModelMap[from])
	}
	return strings.Join(cells, ",")
}

func runAccountsList(ctx context.Context, opts *AccountsListOptions) error {
	now, loc := cmdutil.ClockOf(opts.Now, opts.Location)
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		return err
	}
	entries := make([]status.Account, len(cfg.Accounts))
	accounts := make([]*account.Account, len(cfg.Accounts))
	for i, c := range cfg.Accounts {
		e := status.Account{Name: c.Name, Type: c.Type, BaseURL: redact.URL(strings.TrimRight(c.BaseURL, "/")), Weight: c.Weight,
			Enabled: c.Enabled, Models: c.Models, MaxConcurrency: c.MaxConcurrency, ModelMap: c.ModelMap, State: stateUnknown}
		if c.API == config.APIChatCompletions {
			e.API = c.API
		}
		if a, err := account.New(c, account.WithTokenDir(cmdutil.TokenDir(cfg))); err != nil {
			e.Credential = "(unreadable)"
			e.State, e.Message = status.StateInvalid, redact.New(cmdutil.SecretsOf(&config.Config{Accounts: []config.Account{c}}, nil)).String(err.Error())
		} else {
			accounts[i] = a
			e.BaseURL, e.Credential = a.DisplayURL(), a.Fingerprint()
		}
		entries[i] = e
	}

	entries, accounts = withLiveState(ctx, opts, cfg, entries, accounts)
	// A login only the user can renew is said in so many words, whatever
	// told the state: the server, Redis, or the token file alone.
	for i := range entries {
		if att := status.Attention(accounts[i], entries[i].State, entries[i].Reason, now()); att != "" {
			entries[i].Attention = att
		}
	}

	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, accountsListJSON{Accounts: entries, PoolHeadroom: status.Pool(entries, now())})
	}
	t := cmdutil.NewTable(opts.IO.Out, "NAME", "TYPE", "BASE URL", "WEIGHT", "ENABLED", "MODELS", "CREDENTIAL", "STATE", "IN FLIGHT", "REQUESTS", "TOKENS", "WINDOWS")
	for _, e := range entries {
		inFlight, reqs, tokens := "", "", ""
		if e.State != stateUnknown && e.State != stateNotLoaded {
			inFlight, reqs = strconv.Itoa(e.InFlight), strconv.FormatInt(e.Today.Requests, 10)
			tokens = strconv.FormatInt(e.Today.InputTokens+e.Today.OutputTokens, 10)
		}
		t.Add(e.Name, typeCell(e), e.BaseURL, strconv.Itoa(e.Weight), strconv.FormatBool(e.Enabled),
			modelsCell(e), e.Credential, describeState(e, now(), loc), inFlight, reqs, tokens, windowsCell(e, now(), loc))
	}
	if len(entries) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no accounts configured in %s; add one with `proxy accounts import-codex` or edit the file\n", shared.ConfigName(cfg))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if line := poolHeadroom(entries, now()); line != "" {
		// Below a terminal's table; to stderr when piped, so every line
		// of stdout stays a row.
		w := opts.IO.ErrOut
		if cmdutil.IsTerminal(opts.IO.Out) {
			w = opts.IO.Out
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

// redisState reads what a stopped proxy left in its Redis: cooldowns and
// today's usage. Streams in flight are unknown and show as 0.
func redisState(ctx context.Context, cfg *config.Config, accounts []*account.Account) (map[string]status.Account, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdutil.LiveTimeout)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: cfg.Redis.URL, KeyPrefix: cfg.Redis.KeyPrefix})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	cds, err := st.Cooldowns(ctx)
	if err != nil {
		return nil, err
	}
	windows, err := st.Windows(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]status.Account{}
	for _, a := range accounts {
		if a == nil {
			continue
		}
		e := status.Account{Name: a.Name, Type: string(a.Type), BaseURL: a.DisplayURL(), Weight: a.Weight, Enabled: a.Enabled,
			Models: a.Models, MaxConcurrency: a.MaxConcurrency, State: status.StateHealthy}
		cd, ok := cds[a.Name]
		switch {
		case !a.Enabled:
			e.State = status.StateDisabled
		case ok && cd.Credential != "" && cd.Credential != a.CredentialID():
			// A mark against a credential since replaced no longer holds.
		case ok && cd.Until.IsZero():
			e.State, e.Reason, e.Message = status.StateInvalid, cd.Reason, cd.Message
		case ok:
			until := cd.Until
			e.State, e.Reason, e.Message, e.Until = status.StateCoolingDown, cd.Reason, cd.Message, &until
		}
		// A cooldown's message quotes the upstream, which may quote the key.
		e.Message = redact.New(a.Secrets()).String(e.Message)
		if u, err := st.UsageToday(ctx, a.Name); err == nil {
			e.Today = status.Usage(u)
		}
		if l, ok := windows[a.Name]; ok {
			e.Limits = &l
		}
		out[a.Name] = e
	}
	return out, nil
}

// describeState puts an account's state in a few words: what the user must
// do first, when only they can bring it back.
func describeState(e status.Account, now time.Time, loc *time.Location) string {
	if e.Attention != "" {
		return e.Attention
	}
	switch e.State {
	case status.StateCoolingDown:
		s := "cooling down"
		if e.Until != nil {
			s += " until " + shortTime(*e.Until, now, loc)
		}
		switch why, _, _ := strings.Cut(e.Message, "; "); {
		case e.Reason == string(health.NotAPI) && why != "":
			// "not_api" alone does not say what stood in the upstream's
			// place: a page, or a redirect and to where.
			s += " (" + why + ")"
		case e.Reason != "":
			s += " (" + e.Reason + ")"
		}
		return s
	case status.StateInvalid:
		return "invalid (" + firstNonEmpty(e.Message, e.Reason, "unknown") + ")"
	case stateNotLoaded:
		if e.Message != "" {
			return e.State + " (" + e.Message + ")"
		}
	}
	return e.State
}

// shortTime is "22:10" today, else "Jan 2 22:10".
func shortTime(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
