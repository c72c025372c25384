package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/build"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/keylimit"
	proxypool "github.com/proxy-dev/proxy/pkg/pool"
	"github.com/proxy-dev/proxy/pkg/pricing"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/relay"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/server"
	"github.com/proxy-dev/proxy/pkg/store"
)

// shutdownGrace is how long streams in flight may run on after a stop signal.
const shutdownGrace = 30 * time.Second

// ServeOptions are the inputs of `proxy serve`.
type ServeOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	Listen     string
	RedisURL   string
	Demo       bool
	LogLevel   string
	LogFormat  string
	// TUI runs the watch screen in this process; logs then go to LogFile
	// (default: see tuiLogPath) since the screen owns the terminal.
	TUI     bool
	LogFile string
	// Ready, when set, is called with the listening address once the proxy
	// accepts connections (tests use it to find a port chosen by the OS).
	Ready func(addr string)
	// Now, when set, is the clock of scheduling and health decisions, so
	// tests move time instead of waiting for it.
	Now func() time.Time
	// Reload, when set, triggers a config reload like SIGHUP does; Reloaded,
	// when set, hears how each reload ended.
	Reload   <-chan struct{}
	Reloaded func(error)
	// ShutdownGrace, when set, replaces how long streams in flight may run
	// on after a stop (tests shorten it).
	ShutdownGrace time.Duration
	// CooldownSync, when set, replaces how often the whole set of
	// cooldowns is read again (tests lengthen it, to show pushes suffice).
	CooldownSync time.Duration
	// ChatGPTBackend, when set, replaces chatgpt_backend.url (tests point
	// it at a fake, as nothing may leave loopback there).
	ChatGPTBackend string
}

// override puts what the options set in place of the file's settings, at
// start and at each reload alike.
func (opts *ServeOptions) override(cfg *config.Config) {
	if opts.Listen != "" {
		cfg.Listen = opts.Listen
	}
	if opts.RedisURL != "" {
		cfg.Redis.URL = opts.RedisURL
	}
	if opts.ChatGPTBackend != "" {
		cfg.ChatGPTBackend = opts.ChatGPTBackend
	}
}

// NewCmdServe returns `proxy serve`. runF replaces the command's work in
// tests of flag handling; nil runs the proxy.
func NewCmdServe(ios *cmdutil.IOStreams, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the proxy",
		Long: `Run the proxy: serve the Responses API on the listen address and forward each
request to one of the configured accounts.

With --demo, two fake upstream accounts run in-process in place of the
configured ones, so the routing can be seen without any credentials.
Without --demo it needs a config file (exit 2 when none is found, as
` + "`proxy config validate`" + `). A configured Redis that does not answer yet does
not stop it: it serves without stickiness, with a warning, until Redis answers.`,
		Example: `  proxy serve
  proxy serve --config ./proxy.yaml --listen 127.0.0.1:9000
  proxy serve --demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)")
	f.StringVar(&opts.Listen, "listen", "", "address to listen on (overrides the config's listen)")
	f.StringVar(&opts.RedisURL, "redis", "", "Redis URL for sessions (overrides redis.url; empty config = embedded)")
	f.BoolVar(&opts.Demo, "demo", false, "serve two in-process fake accounts instead of the configured ones")
	f.StringVar(&opts.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&opts.LogFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&opts.TUI, "tui", false, "show the watch screen in this process (logs go to --log-file)")
	f.StringVar(&opts.LogFile, "log-file", "", "with --tui, where logs go (default $XDG_STATE_HOME/proxy/serve.log)")
	return cmd
}

// RunServe runs the proxy until ctx is done, then shuts down gracefully.
func RunServe(ctx context.Context, opts *ServeOptions) error {
	// With --tui the screen owns the terminal: logs and the start-up lines
	// go to a file, named before the screen starts and after it ends.
	msgs := *opts.IO
	if opts.TUI && !cmdutil.IsTerminal(opts.IO.Out) {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("proxy serve --tui needs a terminal; run `proxy serve` without --tui, and `proxy watch` in a terminal")}
	}
	if opts.TUI {
		path := opts.LogFile
		if path == "" {
			path = cmdutil.TUILogPath(opts.IO.Getenv)
		}
		f, err := cmdutil.OpenTUILog(path)
		if err != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitConfigError, Err: err}
		}
		defer f.Close()
		msgs.ErrOut = f
		fmt.Fprintf(opts.IO.ErrOut, "proxy serve --tui: logs go to %s\n", path)
		defer fmt.Fprintf(opts.IO.ErrOut, "proxy serve: logs are in %s\n", path)
	}
	// Every secret the process holds, hidden from its logs, status and
	// events; filled once the accounts are built (see secretsOf).
	secrets := redact.New(nil)
	logger, err := newLogger(msgs.ErrOut, opts.LogLevel, opts.LogFormat, secrets)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitConfigError, Err: err}
	}
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.Path == "" && !opts.Demo {
		// `config validate` calls this state an error; serving 503 to
		// every request would only hide it.
		return &cmdutil.ExitError{Code: cmdutil.ExitConfigError, Err: errNoConfigToServe}
	}
	opts.override(cfg)
	warnPermissions(logger, cfg)
	if err := server.CheckExposure(cfg.Listen, len(cfg.ClientKeys) > 0); err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitConfigError, Err: err}
	}

	if opts.Demo {
		demo, err := startDemo()
		if err != nil {
			return err
		}
		defer demo.close()
		cfg.Accounts = demo.accounts
	}
	accounts, err := account.NewAll(cfg.Accounts, account.WithTokenDir(cmdutil.TokenDir(cfg)))
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitConfigError, Err: err}
	}
	secrets.Replace(cmdutil.SecretsOf(cfg, accounts))
	if len(accounts) == 0 {
		logger.Warn("no accounts configured: every request will get 503 no_available_account; add accounts to the config or run with --demo")
	}

	store.SetLogger(logger)
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()

	pool := account.NewPool(accounts)
	bus := event.NewBus()
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	tracker := health.New(st, health.WithLogger(logger), health.WithClock(now), health.WithSyncEvery(opts.CooldownSync))
	sched := scheduler.New(pool, st, cfg.Sessions.TTL, scheduler.WithLogger(logger), scheduler.WithClock(now),
		scheduler.WithAvailability(tracker), scheduler.WithMoveAfter(cfg.Sessions.MoveAfter),
		scheduler.WithStrategy(scheduler.Strategy(cfg.Headroom.Strategy), tracker, cfg.Headroom.Threshold))
	// The pool and everything it sets off live as long as the process, not
	// as long as a request: a client hanging up mid-refresh loses no login.
	life := context.WithoutCancel(ctx)
	refresher := account.NewRefresher(account.RefresherOptions{
		Base: life, TokenURL: cfg.OAuth.TokenURL, ClientID: cfg.OAuth.ClientID, Shared: st, Logger: logger,
		// A rotated token joins the secrets hidden everywhere; the old
		// ones stay hidden too, since they may still be echoed.
		OnRotate: func(a *account.Account) { secrets.Add(a.Secrets()...) },
	})
	// Who minted each account-bound item, shared through the store; closed
	// (its queued writes made) after every request has returned, before
	// the store.
	ledger := items.NewLedger(st, items.Options{
		TTL: cfg.Sessions.ItemsTTL, KeptBudget: cfg.Limits.KeptCompactions, MaxKept: cfg.MaxBodyBytes,
		Now: now, Logger: logger,
	})
	defer ledger.Close()
	prices := priceTable{pricing.Default().With(cfg.Prices)}
	accountPool := proxypool.New(life, pool, proxypool.Options{
		Scheduler: sched, Health: tracker, Refresher: refresher, Usage: st, Logger: logger,
		LedgerRetention: cfg.Usage.Retention, Prices: prices,
	})
	// Each client key's limits, counted in the store so every instance
	// shares them; a reload swaps them with the keys.
	limits := keylimit.New(st, cfg.ClientKeys, keylimit.Options{Now: now, Logger: logger, Base: life})
	// Closed after the server has drained and every request has returned
	// (see shutdown), and before the store (deferred earlier).
	defer accountPool.Close()
	setMemoryLimit(cfg.Limits.BodyMemory, opts.IO.Getenv, logger)
	transport := relay.NewTransport(cfg.Timeouts.Connect, cfg.Timeouts.ResponseHeader)
	defer transport.CloseIdleConnections()
	rl := relay.New(accountPool, bus, relay.Options{
		Logger:        logger,
		MaxAttempts:   cfg.MaxAttempts,
		MaxBodyBytes:  cfg.MaxBodyBytes,
		Transport:     transport,
		StreamIdle:    cfg.Timeouts.StreamIdle,
		SlotWait:      cfg.Timeouts.SlotWait,
		BodyRead:      cfg.Timeouts.BodyRead,
		MaxEventBytes: cfg.Limits.MaxEventBytes,
		Bodies:        relay.NewBudget(cfg.Limits.BodyMemory),
		Redact:        secrets,
		WebSocket:     webSocketLimits(cfg),
		Items:         ledger,
		Limits:        limits,
	})
	defer rl.CloseIdleConnections() // connections through each account's proxy_url
	// Read on every request, so a reload's new keys apply at once. The
	// in-process watch screen has a key of its own, made here and never
	// shown, so rotating the configured keys does not lock it out.
	screenKey := server.ClientKey{Name: "watch-screen", Key: randomKey(), Role: identity.Admin}
	keys := server.NewKeySetPinned(serverKeys(cfg.ClientKeys), screenKey)
	secrets.Add(screenKey.Key)
	adm := admin.New(admin.Options{
		Accounts: pool.All, Health: tracker, Store: st, Bus: bus, SessionTTL: cfg.Sessions.TTL,
		Version: build.Get().Version, Started: time.Now(), Logger: logger, Redact: secrets,
		PID: os.Getpid(), Demo: opts.Demo, WebSockets: rl.OpenWebSockets,
		Prices: prices, UsageRetention: cfg.Usage.Retention,
	})
	defer adm.Close()
	backend, err := chatGPTBackend(cfg, pool.All, tracker, secrets, now, logger)
	if err != nil {
		return err
	}
	handler := server.New(server.Options{Relay: rl, Accounts: pool.All, Keys: keys, Admin: adm, Backend: backend, Logger: logger,
		Hosts: server.NewHostRule(cfg.Listen, cfg.AllowedHosts)})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Idle keep-alive connections cost a goroutine and buffers each;
		// a client that keeps one open without using it gets it closed.
		IdleTimeout: cfg.Timeouts.ClientIdle,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Event streams to watchers never end by themselves: end them as
	// shutdown starts, or it would wait out its grace for them.
	srv.RegisterOnShutdown(adm.Close)
	// WebSocket connections were handed over by the server, which no
	// longer tracks them: the relay drains them itself.
	srv.RegisterOnShutdown(rl.DrainWebSockets)
	announce(&msgs, ln.Addr().String(), cfg, accounts, st)
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var tuiDone chan error // nil without --tui: never ready
	if opts.TUI {
		tuiDone = make(chan error, 1)
		go func() { tuiDone <- cmdutil.RunTUI(ctx, opts.IO, "http://"+ln.Addr().String(), screenKey.Key) }()
	}
	rt := runtimeParts{pool: pool, keys: keys, limits: limits, secrets: secrets, tracker: tracker}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for running := true; running; {
		select {
		case err := <-served:
			return fmt.Errorf("serving: %w", err)
		case <-hup:
			_ = reload(ctx, opts, cfg, rt, logger) // logged
		case <-opts.Reload:
			err := reload(ctx, opts, cfg, rt, logger)
			if opts.Reloaded != nil {
				opts.Reloaded(err)
			}
		case err := <-tuiDone:
			// Quitting the screen stops the server it shows.
			if err != nil {
				logger.Error("watch screen", "err", err)
			}
			running = false
		case <-ctx.Done():
			running = false
		}
	}
	shutdown(srv, served, rl, opts.ShutdownGrace, logger)
	return nil
}

// errNoConfigToServe is serve's answer when no config file is found and
// --demo is not given, worded like `config validate`'s.
var errNoConfigToServe = errors.New("no config file found (looked for $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml); run `proxy config init` or `proxy serve --demo`")

// openStore opens the session store. A configured Redis that does not
// answer does not stop the start: a Redis outage while running is
// tolerated (every lookup fails fast and the request is served without
// stickiness), so one at start is too, with a warning; conversations
// become sticky once it answers. A URL that does not parse, or a server
// that refuses the login, still stops it: waiting will not fix those.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*store.Store, error) {
	o := store.Options{URL: cfg.Redis.URL, KeyPrefix: cfg.Redis.KeyPrefix}
	st, err := store.Open(ctx, o)
	if err == nil || !errors.Is(err, store.ErrUnreachable) {
		return st, err
	}
	logger.Warn(fmt.Sprintf("redis at %s is unreachable: serving without stickiness until it answers", redact.URL(cfg.Redis.URL)), "err", err)
	o.SkipPing = true
	return store.Open(ctx, o)
}

// shutdown stops the server in order: no new requests; streams in flight
// may finish within grace; then the connections still open are closed,
// which ends their requests; then it waits for every request to return,
// so nothing runs when the caller goes on to close the pool and then the
// store (their deferred Closes, in that order).
func shutdown(srv *http.Server, served <-chan error, rl *relay.Relay, grace time.Duration, logger *slog.Logger) {
	if grace <= 0 {
		grace = shutdownGrace
	}
	logger.Info("shutting down: no new requests; streams in flight may finish", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("streams still open after the shutdown grace; closing them", "grace", grace, "err", err)
		_ = srv.Close()
	}
	if !rl.WaitWebSockets(sctx) {
		logger.Warn("WebSocket requests still open after the shutdown grace; closing them", "grace", grace, "open", rl.OpenWebSockets())
	}
	rl.CloseWebSockets()
	<-served
	rl.Wait()
}

// webSocketLimits are the gateway's bounds from the config;
// limits.websocket_connections 0 turns the gateway off.
func webSocketLimits(cfg *config.Config) relay.WebSocketLimits {
	l := relay.WebSocketLimits{Conns: cfg.Limits.WebSocketConnections, Idle: cfg.Timeouts.WebSocketIdle, MaxAge: cfg.Timeouts.WebSocketMaxAge,
		Message: cfg.Limits.WebSocketMessageBytes}
	if l.Conns == 0 {
		l.Conns = -1
	}
	return l
}

// memoryHeadroom is what the process may use beyond the request bodies it
// holds: streams, buffers, the embedded store.
const memoryHeadroom = 256 << 20

// setMemoryLimit tells the garbage collector to work harder before the
// process passes the body budget plus headroom, so a burst of refused
// bodies does not leave their garbage piling up until the next collection.
// GOMEMLIMIT, when the user set it, wins.
func setMemoryLimit(bodies int64, getenv func(string) string, logger *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := bodies + memoryHeadroom
	debug.SetMemoryLimit(limit)
	logger.Debug("soft memory limit set", "bytes", limit)
}

// randomKey is a fresh 32-byte secret in hex.
func randomKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// announce tells the user where the proxy listens and what it pools.
func announce(ios *cmdutil.IOStreams, addr string, cfg *config.Config, accounts []*account.Account, st *store.Store) {
	where := "embedded (in-process)"
	if !st.Embedded() {
		where = "redis"
	}
	fmt.Fprintf(ios.ErrOut, "proxy listening on http://%s (Codex base_url: http://%s/v1)\n", addr, addr)
	if cfg.Path != "" {
		fmt.Fprintf(ios.ErrOut, "config: %s\n", cfg.Path)
	}
	fmt.Fprintf(ios.ErrOut, "sessions: %s store, ttl %s\n", where, cfg.Sessions.TTL)
	fmt.Fprintf(ios.ErrOut, "new conversations: %s\n", steeringOf(cfg.Headroom))
	if len(cfg.ClientKeys) > 0 && !cfg.RolesConfigured() {
		// Said at start so an upgrade's unchanged behaviour is a choice.
		fmt.Fprintf(ios.ErrOut, "client keys: no key names a role, so every key is an admin's (as before roles); give each key role: admin or role: user to keep a user's key to its own sessions, events and usage\n")
	}
	for _, a := range accounts {
		state := ""
		if !a.Enabled {
			state = ", disabled"
		}
		typ := string(a.Type)
		if a.ChatCompletions() {
			// Its requests are translated: say so before the first one.
			typ += " (speaks only Chat Completions: translated)"
		}
		fmt.Fprintf(ios.ErrOut, "account %s: %s %s weight %d%s\n", a.Name, typ, a.DisplayURL(), a.Weight, state)
	}
}

// priceTable prices the ledger's usage at the price table, for the pool's
// spending counts, the admin's usage and the metrics.
type priceTable struct{ t *pricing.Table }

// Cost prices u at model's price; ok is false for an unpriced model.
func (p priceTable) Cost(model string, u store.Usage) (float64, bool) {
	return p.t.Cost(model, pricing.Usage{InputTokens: u.InputTokens, CachedTokens: u.CachedTokens, OutputTokens: u.OutputTokens, ReasoningTokens: u.ReasoningTokens})
}

// newLogger builds the slog logger from the --log-level and --log-format
// flags; every record passes through secrets before it is written.
func newLogger(w interface{ Write([]byte) (int, error) }, level, format string, secrets *redact.Set) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(redact.NewHandler(slog.NewTextHandler(w, o), secrets)), nil
	case "json":
		return slog.New(redact.NewHandler(slog.NewJSONHandler(w, o), secrets)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// steeringOf says how new conversations are spread (headroom.strategy).
func steeringOf(h config.Headroom) string {
	switch h.Strategy {
	case config.StrategyWeighted:
		return "by weight alone (headroom.strategy weighted)"
	case config.StrategyHeadroom:
		return fmt.Sprintf("by weight, towards the emptiest windows, none past %s%% (headroom.strategy headroom)", strconv.FormatFloat(h.Threshold, 'f', -1, 64))
	}
	return fmt.Sprintf("by weight, towards the room that resets first, none past %s%% (headroom.strategy planner)", strconv.FormatFloat(h.Threshold, 'f', -1, 64))
}
