// Command floor runs the load benchmarks' floor (package bare) as a process
// of its own, for BenchmarkAddedLatencyProcesses: the proxy then runs as
// `proxy serve` in its own process, and the floor must pay the same
// process boundary to be a fair comparison.
//
//	floor -upstream http://127.0.0.1:PORT [-listen 127.0.0.1:0]
//
// The upstream's key comes from $BENCH_UPSTREAM_KEY, never the command
// line. Once listening it prints "floor listening on http://ADDR" on
// stderr; it serves until it is killed or interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/proxy-dev/proxy/pkg/loadbench/internal/bare"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run() error {
	upstream := flag.String("upstream", "", "base URL of the upstream, e.g. http://127.0.0.1:8080")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if *upstream == "" {
		return errors.New("-upstream is required")
	}
	u, err := url.Parse(*upstream)
	if err != nil {
		return fmt.Errorf("parsing -upstream: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	tr := bare.Transport()
	srv := &http.Server{Handler: bare.Handler(u, os.Getenv("BENCH_UPSTREAM_KEY"), tr), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "floor listening on http://%s\n", ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	err = srv.Close()
	tr.CloseIdleConnections()
	return err
}
