package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/probe"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/store"
)

// DefaultDoctorTimeout bounds each account's check in `proxy doctor`:
// enough for a healthy upstream's one-word answer, short enough that a
// dead one does not hold up the report.
const DefaultDoctorTimeout = 10 * time.Second

// doctorRedisTimeout bounds the ping of a configured Redis.
const doctorRedisTimeout = 3 * time.Second

// codexFix is what fixes any problem in Codex's config: the provider block
// `proxy codex config --write` puts there is right by construction.
const codexFix = "run `proxy codex config --write`"

// codexProviderName is the only provider name Codex treats as OpenAI
// (see /work/shared/CODEX.md, "Provider name matters").
const codexProviderName = "OpenAI"

// DoctorOptions are the inputs of `proxy doctor`.
type DoctorOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	// Timeout bounds each account's check; DefaultDoctorTimeout when 0.
	Timeout time.Duration
	// Client sends the account checks and token refreshes; nil: the
	// probe's default. Tests inject one.
	Client *http.Client
	// Now is the clock of login expiry; nil is time.Now.
	Now func() time.Time
}

// NewCmdDoctor returns `proxy doctor`. runF replaces the command's work in
// tests of flag handling.
func NewCmdDoctor(ios *cmdutil.IOStreams, runF func(context.Context, *DoctorOptions) error) *cobra.Command {
	opts := &DoctorOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the config, accounts, Redis and Codex's config; print a fix for each problem",
		Long: `Check everything the proxy needs, one line per check (ok, warn or FAIL), each
problem with what fixes it:

  config   it loads and validates; secrets other users can read (warn)
  account  each enabled account answers a one-word request (as
           ` + "`proxy accounts test`" + `, with --timeout each); a ChatGPT login that only
           a new sign-in can renew is named without asking the upstream
  redis    the embedded store, or redis.url answers a ping
  proxy    whether a proxy answers at the config's listen address (warn)
  codex    $CODEX_HOME/config.toml (default ~/.codex) has a model_provider
           whose base_url is this proxy's listen address + /v1, named
           exactly "OpenAI", whose env_key is set here and is one of the
           config's client_keys (when it has any)

Exit status: 0 when nothing failed (warnings allowed), 1 when a check
failed, 2 when the config does not load.`,
		Example: `  proxy doctor
  proxy doctor --config ./proxy.yaml --timeout 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Timeout <= 0 {
				return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("--timeout %s: must be positive", opts.Timeout)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDoctor(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)")
	f.DurationVar(&opts.Timeout, "timeout", DefaultDoctorTimeout, "time allowed for each account's check")
	return cmd
}

// Levels of a doctor line.
const (
	levelOK   = "ok"
	levelWarn = "warn"
	levelFail = "FAIL"
)

// report writes the doctor's lines as the checks finish and counts them.
type report struct {
	w              io.Writer
	failed, warned int
}

// line prints one check: its level, what was checked, what was found, and
// for a problem the fix ("" when the finding already says it).
func (r *report) line(level, subject, found, fix string) {
	switch level {
	case levelFail:
		r.failed++
	case levelWarn:
		r.warned++
	}
	s := fmt.Sprintf("%-4s  %-7s  %s", level, subject, found)
	if fix != "" {
		s += "; fix: " + fix
	}
	fmt.Fprintln(r.w, s)
}

func (r *report) ok(subject, found string)        { r.line(levelOK, subject, found, "") }
func (r *report) warn(subject, found, fix string) { r.line(levelWarn, subject, found, fix) }
func (r *report) fail(subject, found, fix string) { r.line(levelFail, subject, found, fix) }

// summary is the last line.
func (r *report) summary() {
	switch {
	case r.failed == 0 && r.warned == 0:
		fmt.Fprintln(r.w, "all checks passed")
	case r.failed == 0:
		fmt.Fprintf(r.w, "no problems; %d warning(s)\n", r.warned)
	default:
		fmt.Fprintf(r.w, "%d problem(s), %d warning(s): fix them and run `proxy doctor` again\n", r.failed, r.warned)
	}
}

func runDoctor(ctx context.Context, opts *DoctorOptions) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultDoctorTimeout
	}
	r := &report{w: opts.IO.Out}
	cfg, ok := doctorConfig(opts, r)
	if !ok {
		// Every other check reads the config.
		r.summary()
		return &cmdutil.ExitError{Code: cmdutil.ExitConfigError}
	}
	doctorAccounts(ctx, opts, cfg, r)
	doctorRedis(ctx, cfg, r)
	doctorProxy(ctx, opts, cfg, r)
	doctorCodex(opts.IO, cfg, r)
	r.summary()
	if r.failed > 0 {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure}
	}
	return nil
}

// doctorConfig loads and validates the config as `proxy serve` would.
func doctorConfig(opts *DoctorOptions, r *report) (*config.Config, bool) {
	if config.Locate(opts.ConfigPath, opts.IO.Getenv) == "" {
		r.fail("config", "no config file found (looked for $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)",
			"run `proxy config init`, or `proxy accounts login NAME` to start one with a ChatGPT account")
		return nil, false
	}
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	var problems config.Problems
	switch {
	case errors.As(err, &problems):
		for _, p := range problems {
			r.fail("config", p.Error(), "edit the file (`proxy config validate` checks it again)")
		}
		return nil, false
	case err != nil:
		r.fail("config", err.Error(), "")
		return nil, false
	}
	enabled := 0
	for _, a := range cfg.Accounts {
		if a.Enabled {
			enabled++
		}
	}
	found := fmt.Sprintf("%s loads: %d account(s)", cfg.Path, len(cfg.Accounts))
	if off := len(cfg.Accounts) - enabled; off > 0 {
		found += fmt.Sprintf(" (%d disabled, not checked)", off)
	}
	found += fmt.Sprintf(", %d client key(s), listen %s", len(cfg.ClientKeys), cfg.Listen)
	r.ok("config", found)
	for _, w := range config.CheckPermissions(cfg) {
		r.warn("config", w.Message, "") // the message names the chmod
	}
	return cfg, true
}

// doctorAccounts checks every enabled account, reported in config order:
// one that cannot be built or whose login only the user can renew is
// reported as it is, the rest get a one-word request each, all at once.
func doctorAccounts(ctx context.Context, opts *DoctorOptions, cfg *config.Config, r *report) {
	type finding struct{ level, found string }
	var findings []finding
	var built []*account.Account
	var at []int // built[j]'s place in findings
	for _, c := range cfg.Accounts {
		if !c.Enabled {
			continue
		}
		a, err := account.New(c, account.WithTokenDir(cmdutil.TokenDir(cfg)))
		if err != nil {
			hide := redact.New(cmdutil.SecretsOf(&config.Config{Accounts: []config.Account{c}}, nil))
			findings = append(findings, finding{levelFail, c.Name + ": " + strings.TrimPrefix(hide.String(err.Error()), "account "+c.Name+": ")})
			continue
		}
		if att := status.Attention(a, "", "", opts.Now()); att != "" {
			findings = append(findings, finding{levelFail, c.Name + ": " + att})
			continue
		}
		at = append(at, len(findings))
		findings = append(findings, finding{})
		built = append(built, a)
	}
	if len(findings) == 0 {
		r.fail("account", "no enabled account: every request would get 503 no_available_account",
			"`proxy accounts login NAME` (a ChatGPT account), `proxy accounts import-codex --name NAME`, or add one to the config")
		return
	}
	if len(built) > 0 {
		// An expired access token is renewed first, as the proxy would:
		// only a refresh token the endpoint refuses makes a dead login.
		secrets := redact.New(cmdutil.SecretsOf(cfg, built))
		refresher := account.NewRefresher(account.RefresherOptions{
			TokenURL: cfg.OAuth.TokenURL, ClientID: cfg.OAuth.ClientID, Client: opts.Client, Now: opts.Now,
			Timeout:  opts.Timeout, // a hanging token endpoint must not outlast the check's own bound
			Logger:   slog.New(redact.NewHandler(slog.NewTextHandler(opts.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}), secrets)),
			OnRotate: func(a *account.Account) { secrets.Add(a.Secrets()...) },
		})
		results := probe.CheckAll(ctx, built, probe.Options{Client: opts.Client, Timeout: opts.Timeout, Now: opts.Now, Refresher: refresher})
		_ = refresher.Close() // a refresh still running finishes and saves its tokens
		for j, res := range results {
			f := finding{levelOK, fmt.Sprintf("%s answered (%s, model %s)", res.Name, res.Type, res.Model)}
			switch {
			case !res.OK:
				f = finding{levelFail, res.Name + ": " + res.Error} // probe errors say what to do
			case res.Refreshed:
				f.found = fmt.Sprintf("%s answered (%s, model %s; access token renewed and saved)", res.Name, res.Type, res.Model)
			}
			findings[at[j]] = f
		}
	}
	for _, f := range findings {
		r.line(f.level, "account", f.found, "")
	}
}

// doctorRedis pings the configured Redis, with the store's own short
// timeouts; the embedded store has nothing to reach.
func doctorRedis(ctx context.Context, cfg *config.Config, r *report) {
	if cfg.Redis.URL == "" {
		r.ok("redis", "embedded (in-process): nothing to reach; sessions last as long as the proxy runs")
		return
	}
	shown := redact.URL(cfg.Redis.URL)
	ctx, cancel := context.WithTimeout(ctx, doctorRedisTimeout)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: cfg.Redis.URL, KeyPrefix: cfg.Redis.KeyPrefix})
	if err != nil {
		// The store's errors never show the URL's password.
		fix := "correct redis.url (password, database, options), or remove it to use the embedded store"
		if errors.Is(err, store.ErrUnreachable) {
			fix = "start that Redis or fix redis.url; meanwhile `proxy serve` runs without stickiness"
		}
		r.fail("redis", strings.TrimPrefix(err.Error(), "store: "), fix)
		return
	}
	_ = st.Close()
	r.ok("redis", shown+" answers")
}

// doctorProxy says whether a proxy answers at the config's listen address:
// not a problem of the setup (it may just not be started), but what Codex
// will meet.
func doctorProxy(ctx context.Context, opts *DoctorOptions, cfg *config.Config, r *report) {
	c := cmdutil.NewLiveClient(opts.IO, "", cfg)
	var doc status.Document
	err := c.Do(ctx, "GET", "/_proxy/status", &doc)
	var se *cmdutil.ServerError
	switch {
	case errors.Is(err, cmdutil.ErrNotRunning):
		r.warn("proxy", "nothing answers at "+c.Base, "start it with `proxy serve`")
	case errors.As(err, &se) && se.Status == http.StatusUnauthorized:
		r.ok("proxy", "a proxy answers at "+c.Base+" (its status needs a client key: set PROXY_API_KEY to see it)")
	case err != nil:
		r.warn("proxy", err.Error(), "is something else listening there? change listen, or stop it")
	case doc.Demo:
		r.warn("proxy", "the proxy at "+c.Base+" runs --demo: Codex would talk to its fake accounts",
			"stop it and run `proxy serve`")
	default:
		found := "running at " + c.Base
		if doc.PID > 0 {
			found += fmt.Sprintf(" (pid %d, %d account(s))", doc.PID, len(doc.Accounts))
		}
		r.ok("proxy", found)
	}
}

// codexConfig is what the doctor reads of Codex's config.toml.
type codexConfig struct {
	ModelProvider  string                   `toml:"model_provider"`
	ModelProviders map[string]codexProvider `toml:"model_providers"`
}

// codexProvider is one [model_providers.X] table.
type codexProvider struct {
	Name    string `toml:"name"`
	BaseURL string `toml:"base_url"`
	EnvKey  string `toml:"env_key"`
	WireAPI string `toml:"wire_api"`
}

// doctorCodex checks that Codex is pointed at this proxy the way it works
// best; every problem has the same fix, `proxy codex config --write`.
func doctorCodex(ios *cmdutil.IOStreams, cfg *config.Config, r *report) {
	path := cmdutil.CodexConfigPath(ios.Getenv) // shared with `proxy codex config`
	shown := cmdutil.DisplayPath(ios, path)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Not a failure: the proxy serves any Responses API client.
		r.warn("codex", "no Codex config at "+shown+": Codex is not pointed at this proxy", codexFix)
		return
	case err != nil:
		r.fail("codex", fmt.Sprintf("reading %s: %v", shown, errors.Unwrap(err)), "")
		return
	}
	var cc codexConfig
	if err := toml.Unmarshal(data, &cc); err != nil {
		r.fail("codex", fmt.Sprintf("%s is not valid TOML: %v", shown, err), "fix the file by hand, then "+codexFix)
		return
	}
	want := cmdutil.CodexBaseURL(cfg.Listen)
	p, ok := cc.ModelProviders[cc.ModelProvider]
	switch {
	case cc.ModelProvider == "":
		r.fail("codex", shown+" sets no model_provider: Codex uses its built-in provider, not this proxy", codexFix)
		return
	case !ok:
		r.fail("codex", fmt.Sprintf("%s: model_provider %q has no [model_providers.%s] table", shown, cc.ModelProvider, cc.ModelProvider), codexFix)
		return
	}
	provider := fmt.Sprintf("provider %q", cc.ModelProvider)
	switch where := pointsAt(p.BaseURL, cfg.Listen); where {
	case "":
		r.ok("codex", fmt.Sprintf("%s: model_provider %q, base_url %s", shown, cc.ModelProvider, p.BaseURL))
	default:
		r.fail("codex", fmt.Sprintf("%s: %s has base_url %q: %s (want %s)", shown, provider, p.BaseURL, where, want), codexFix)
	}
	if p.Name != codexProviderName {
		r.fail("codex", fmt.Sprintf("%s is named %q, not exactly %q: only that name makes Codex treat it as OpenAI (server-side compaction, zstd request bodies, the model list)",
			provider, p.Name, codexProviderName), codexFix)
	} else {
		r.ok("codex", fmt.Sprintf("%s is named %q (server-side compaction, zstd request bodies, the model list)", provider, p.Name))
	}
	if p.WireAPI != "" && p.WireAPI != "responses" {
		r.fail("codex", fmt.Sprintf("%s has wire_api %q: the proxy serves the Responses API only", provider, p.WireAPI), codexFix)
	}
	auth, _ := cmdutil.ChooseCodexAuth(cfg, filepath.Join(filepath.Dir(path), "auth.json")) // the rule `proxy codex config` writes by
	doctorCodexKey(ios, cfg, r, provider, p.EnvKey, auth == cmdutil.CodexAuthLogin)
}

// doctorCodexKey checks the key Codex will send: the provider's env_key
// names a variable that must be set where Codex runs, to one of the
// config's client_keys when it has any.
func doctorCodexKey(ios *cmdutil.IOStreams, cfg *config.Config, r *report, provider, envKey string, loginAccepted bool) {
	keys := len(cfg.ClientKeys) > 0
	value := ""
	if envKey != "" {
		value = ios.Getenv(envKey)
	}
	match := ""
	for _, k := range cfg.ClientKeys {
		if value != "" && k.Key == value {
			match = k.Name
		}
	}
	switch {
	case envKey == "" && keys && loginAccepted:
		r.ok("codex", provider+" sends Codex's ChatGPT login, which is one of the proxy's accounts: the proxy accepts its token")
	case envKey == "" && keys:
		r.fail("codex", provider+" has no env_key: Codex sends no key, and the proxy wants one of its client_keys", codexFix)
	case envKey == "":
		r.ok("codex", provider+" sends no key; the proxy has no client_keys, so none is needed")
	case value == "" && keys:
		r.fail("codex", fmt.Sprintf("$%s (%s's env_key) is not set here: Codex will not start without it", envKey, provider),
			fmt.Sprintf("export %s=<one of client_keys in %s>", envKey, cfg.Path))
	case value == "":
		r.fail("codex", fmt.Sprintf("$%s (%s's env_key) is not set here: Codex will not start without it", envKey, provider),
			fmt.Sprintf("export %s=any-value (the proxy has no client_keys, so any key is accepted)", envKey))
	case keys && match == "":
		r.fail("codex", fmt.Sprintf("$%s is not one of the client_keys in %s: the proxy would answer 401", envKey, cfg.Path),
			fmt.Sprintf("set %s to a client key from %s", envKey, cfg.Path))
	case keys:
		r.ok("codex", fmt.Sprintf("$%s is set to client key %q", envKey, match))
	default:
		r.ok("codex", fmt.Sprintf("$%s is set (the proxy has no client_keys: any key is accepted)", envKey))
	}
}

// pointsAt says what is wrong with a Codex base_url for a proxy listening
// on listen, "" when nothing: it must be http:// to the listen port (any
// loopback name when the proxy listens on loopback or everywhere) and end
// in /v1, where the proxy serves the model list Codex asks for.
func pointsAt(baseURL, listen string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return "not a URL"
	}
	lhost, lport, err := net.SplitHostPort(listen)
	if err != nil {
		return "the listen address does not parse"
	}
	switch {
	case u.Scheme != "http":
		return "the proxy speaks plain http"
	case u.Port() != lport:
		return "not this proxy's port"
	case !sameHost(u.Hostname(), lhost):
		return "not this proxy's host"
	case strings.TrimRight(u.Path, "/") != "/v1":
		return "the path must be /v1"
	}
	return ""
}

// sameHost reports whether a client dialing host reaches a listener bound
// to listenHost.
func sameHost(host, listenHost string) bool {
	if strings.EqualFold(host, listenHost) {
		return true
	}
	loopback := func(h string) bool {
		if strings.EqualFold(h, "localhost") {
			return true
		}
		ip := net.ParseIP(h)
		return ip != nil && ip.IsLoopback()
	}
	wildcard := listenHost == "" || listenHost == "0.0.0.0" || listenHost == "::"
	return loopback(host) && (wildcard || loopback(listenHost))
}
