package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrExposed refuses a listener reachable from other machines while no
// client key protects it: anyone on the network could spend the accounts.
var ErrExposed = errors.New("refusing to listen on a non-loopback address without client_keys")

// CheckExposure returns ErrExposed when addr is not a loopback address and
// there are no client keys.
func CheckExposure(addr string, haveClientKeys bool) error {
	if haveClientKeys {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %s (add client_keys to the config, or listen on 127.0.0.1)", ErrExposed, addr)
	}
	return nil
}
