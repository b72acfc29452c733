// Package nodetest runs a real phoneboot node inside a test: the store,
// catalog and provisioner of node.Run on a data directory of the test's,
// TFTP on a free loopback port, and the admin handler the test gives,
// served on a free loopback port too.
package nodetest

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/node"
)

// Node is a running node.
type Node struct {
	Live  node.Live
	TFTP  netip.AddrPort // where its TFTP server listens
	Admin string         // base URL of its admin server, "http://127.0.0.1:PORT" ("" without one)
	HTTP  string         // base URL of its phone HTTP service ("" unless --http-addr was given)
}

// Start runs a node on data until the test ends. args are serve's flags
// (node.Flags) on top of the test defaults: TFTP and admin on free
// loopback ports, no phone HTTP, no syslog, no TFTP rate limit. admin
// makes the admin handler (nil: none is served, Live is still there).
func Start(t testing.TB, data string, admin func(node.Live) (http.Handler, error), args ...string) *Node {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts := node.Flags(fs)
	defaults := []string{"--tftp-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--http-addr", "", "--syslog-addr", "", "--tftp-rate", "0"}
	if err := fs.Parse(append(defaults, args...)); err != nil {
		t.Fatal(err)
	}
	o, err := opts()
	if err != nil {
		t.Fatal(err)
	}
	o.Data = data
	o.Grace = time.Second
	o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var (
		mu    sync.Mutex
		n     Node
		ready = make(chan struct{})
	)
	if admin == nil {
		admin = func(node.Live) (http.Handler, error) { return http.NotFoundHandler(), nil }
	}
	o.Admin = func(l node.Live) (http.Handler, error) {
		mu.Lock()
		n.Live = l
		mu.Unlock()
		return admin(l)
	}
	o.Listening = func(service string, addr net.Addr) {
		mu.Lock()
		defer mu.Unlock()
		switch service {
		case "tftp":
			if a, ok := addr.(*net.UDPAddr); ok && !n.TFTP.IsValid() {
				n.TFTP = a.AddrPort()
			}
		case "admin web":
			n.Admin = "http://" + addr.String()
		case "phone HTTP":
			n.HTTP = "http://" + addr.String()
		}
		if n.TFTP.IsValid() && n.Admin != "" && (o.HTTPAddr == "" || n.HTTP != "") {
			select {
			case <-ready:
			default:
				close(ready)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("node stopped: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("node did not stop within 15s")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("node did not start: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("node did not start within 15s")
	}
	mu.Lock()
	defer mu.Unlock()
	return &Node{Live: n.Live, TFTP: netip.AddrPortFrom(n.TFTP.Addr().Unmap(), n.TFTP.Port()), Admin: n.Admin, HTTP: n.HTTP}
}

// testWriter sends the node's warnings to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
