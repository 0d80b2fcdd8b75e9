// Command upstream-mock runs the two upstreams the gateway talks to, on two
// listeners: the drio v1 resource API (package resource) and a WorkOS User
// Management stand-in (package workosmock).
//
//	upstream-mock -resource-addr 127.0.0.1:9000 -workos-addr 127.0.0.1:9001 \
//	    -client-id client_dev -api-key sk_test_dev
//
// Point the gateway's WorkOS endpoint at the printed WorkOS URL and its
// upstream at the resource URL. Both listeners answer GET /healthz.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/drio-gateway/gateway/upstream-mock/resource"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], nil); err != nil {
		log.Printf("upstream-mock: %v", err)
		os.Exit(1)
	}
}

// publicURLFor turns a listener address into a URL clients can use.
func publicURLFor(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// run serves until ctx ends. ready, when set, is called with the resource
// and WorkOS URLs once both listeners are up.
func run(ctx context.Context, args []string, ready func(resourceURL, workosURL string)) error {
	fs := flag.NewFlagSet("upstream-mock", flag.ContinueOnError)
	resourceAddr := fs.String("resource-addr", "127.0.0.1:9000", "listen address of the drio v1 resource API")
	workosAddr := fs.String("workos-addr", "127.0.0.1:9001", "listen address of the WorkOS stand-in")
	clientID := fs.String("client-id", envOr("WORKOS_CLIENT_ID", "client_dev"), "WorkOS client id (env WORKOS_CLIENT_ID)")
	apiKey := fs.String("api-key", envOr("WORKOS_API_KEY", "sk_test_dev"), "WorkOS API key / client secret (env WORKOS_API_KEY)")
	publicURL := fs.String("public-url", "", "WorkOS base URL as clients see it (default http://<workos-addr>)")
	redirectURIs := fs.String("redirect-uris", "", "comma-separated allowlist of redirect URIs (default: any loopback http(s) URI)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var allowed []string
	for _, u := range strings.Split(*redirectURIs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			allowed = append(allowed, u)
		}
	}

	resLn, err := net.Listen("tcp", *resourceAddr)
	if err != nil {
		return fmt.Errorf("listen resource: %w", err)
	}
	defer resLn.Close()
	wosLn, err := net.Listen("tcp", *workosAddr)
	if err != nil {
		return fmt.Errorf("listen workos: %w", err)
	}
	defer wosLn.Close()

	base := strings.TrimRight(*publicURL, "/")
	if base == "" {
		base = publicURLFor(wosLn.Addr())
	}
	mock, err := workosmock.New(workosmock.Config{
		ClientID:            *clientID,
		APIKey:              *apiKey,
		BaseURL:             base,
		AllowedRedirectURIs: allowed,
	})
	if err != nil {
		return err
	}
	defer mock.Close()

	resSrv := &http.Server{Handler: resource.New(), ReadHeaderTimeout: 10 * time.Second}
	wosSrv := &http.Server{Handler: mock, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- resSrv.Serve(resLn) }()
	go func() { errc <- wosSrv.Serve(wosLn) }()
	log.Printf("resource API on %s", publicURLFor(resLn.Addr()))
	log.Printf("WorkOS stand-in on %s (client id %s, issuer %s)", publicURLFor(wosLn.Addr()), *clientID, mock.Issuer())
	if ready != nil {
		ready(publicURLFor(resLn.Addr()), publicURLFor(wosLn.Addr()))
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Printf("shutting down")
	case serveErr = <-errc:
	}

	mock.Close() // release hung requests first so Shutdown can finish
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e1 := resSrv.Shutdown(shutCtx)
	e2 := wosSrv.Shutdown(shutCtx)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return errors.Join(e1, e2)
}
