package list

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/cmd/accounts/shared"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/status"
)

// withLiveState adds the live state to the entries built from the config
// (accounts[i] is entries[i]'s built account, nil when it did not build):
// from the running proxy when one answers, else from the configured Redis.
// The running proxy's accounts are the truth of what serves: a --demo
// proxy's are listed in place of the config's, and accounts it serves that
// the file no longer has are listed after the file's. What the listing
// means (a demo, accounts not loaded) is said on stderr.
func withLiveState(ctx context.Context, opts *AccountsListOptions, cfg *config.Config, entries []status.Account, accounts []*account.Account) ([]status.Account, []*account.Account) {
	c := cmdutil.NewLiveClient(opts.IO, opts.Addr, cfg)
	var doc status.Document
	err := c.Do(ctx, "GET", "/_proxy/status", &doc)
	if err == nil {
		return mergeServer(opts.IO, c.Base, cfg, &doc, entries, accounts)
	}
	if errors.Is(err, cmdutil.ErrNotRunning) && cfg.Redis.URL != "" {
		live, rerr := redisState(ctx, cfg, accounts)
		if rerr == nil {
			mergeLive(entries, live, "")
			return entries, accounts
		}
		err = fmt.Errorf("%v, and %v", err, rerr)
	}
	fmt.Fprintf(opts.IO.ErrOut, "(%v: live state unavailable)\n", err)
	return entries, accounts
}

// mergeServer puts the running server's state on the entries.
func mergeServer(ios *cmdutil.IOStreams, base string, cfg *config.Config, doc *status.Document, entries []status.Account, accounts []*account.Account) ([]status.Account, []*account.Account) {
	if doc.Demo {
		// The config read here is not what that proxy serves: listing
		// it with "not loaded" would send the user to reload a demo.
		fmt.Fprintf(ios.ErrOut, "the proxy at %s runs --demo: these are its demo accounts", base)
		if len(entries) > 0 {
			fmt.Fprintf(ios.ErrOut, ", not the %d in %s", len(entries), shared.ConfigName(cfg))
		}
		fmt.Fprintln(ios.ErrOut)
		return doc.Accounts, make([]*account.Account, len(doc.Accounts))
	}
	live := make(map[string]status.Account, len(doc.Accounts))
	for _, a := range doc.Accounts {
		live[a.Name] = a
	}
	mergeLive(entries, live, reloadHint(doc.PID))
	inFile := make(map[string]bool, len(entries))
	for _, e := range entries {
		inFile[e.Name] = true
	}
	for _, a := range doc.Accounts {
		if inFile[a.Name] {
			continue
		}
		fmt.Fprintf(ios.ErrOut, "account %s: served by the proxy at %s but not in %s (%s to apply the file)\n",
			a.Name, base, shared.ConfigName(cfg), reloadHint(doc.PID))
		entries, accounts = append(entries, a), append(accounts, nil)
	}
	return entries, accounts
}

// mergeLive copies each account's live state onto its entry; an account
// the live source does not know is not loaded, with notLoaded saying how
// to load it ("" when there is no server to reload).
func mergeLive(entries []status.Account, live map[string]status.Account, notLoaded string) {
	for i := range entries {
		e := &entries[i]
		l, ok := live[e.Name]
		switch {
		case e.State == status.StateInvalid:
			// Its credentials do not even load here: that says more.
		case !ok:
			// Added to the file since the server loaded it.
			e.State, e.Message = stateNotLoaded, notLoaded
		default:
			// The configuration comes from the file read here, which
			// may be newer than the server's; the state only from it.
			e.State, e.Reason, e.Message, e.Until = l.State, l.Reason, l.Message, l.Until
			e.InFlight, e.Today, e.Limits, e.Attention = l.InFlight, l.Today, l.Limits, l.Attention
		}
	}
}

// reloadHint says how to make the running proxy read its config again,
// naming its process when the status told it.
func reloadHint(pid int) string {
	if pid <= 0 {
		return "reload the proxy: kill -HUP its process"
	}
	return "reload the proxy: kill -HUP " + strconv.Itoa(pid)
}
