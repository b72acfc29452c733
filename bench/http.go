package main

// The "http" case: the same phoneboot serving the same file to the same
// phones over its HTTP file service (port 6970, where 79x1/79x2/79x5/797x
// look first) and over TFTP with windowsize, to check that HTTP is at
// least as fast and costs no more CPU per GB.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// httpServer is phoneboot with its phones' HTTP service on a free
// loopback port; the storm fetches over HTTP from it.
func httpServer(phoneboot, dataDir string) *server {
	lo := netip.MustParseAddr("127.0.0.1")
	// window: the case's windowsize is TFTP's; HTTP is not lock-step.
	s := &server{name: "phoneboot-http", bin: phoneboot, window: true}
	if p, err := freePort(lo); err == nil {
		s.addr = netip.AddrPortFrom(lo, p)
	} else {
		s.missing = "no free port: " + err.Error()
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		s.httpAddr = ln.Addr().(*net.TCPAddr).AddrPort()
		ln.Close()
	} else {
		s.missing = "no free TCP port: " + err.Error()
	}
	s.args = func(_ string, transfers int) []string {
		return []string{"serve", "--data", dataDir, "--tftp-addr", s.addr.String(), "--http-addr", s.httpAddr.String(),
			"--tftp-rate", "0", "--tftp-max-transfers", strconv.Itoa(max(transfers, 20000)), "--log-level", "error"}
	}
	return s
}

// stormHTTP starts every client of c at once, each a GET of c.file from
// its own address over its own connection, and waits for them.
func stormHTTP(ctx context.Context, addr netip.AddrPort, c benchCase, content []byte, cfg stormConfig) runResult {
	ctx, cancel := context.WithTimeout(ctx, cfg.perRun)
	defer cancel()
	url := fmt.Sprintf("http://%s/%s", addr, c.file)
	res := runResult{negotiated: map[string]int{}}
	if err := waitHTTP(ctx, url); err != nil {
		res.failed, res.firstErr = c.clients, err.Error()
		return res
	}
	type one struct {
		bytes int64
		dur   time.Duration
		end   time.Time
		err   error
	}
	results := make([]one, c.clients)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range c.clients {
		wg.Go(func() {
			d := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(clientAddr(i), 0)), Timeout: 10 * time.Second}
			tr := &http.Transport{DialContext: d.DialContext, DisableCompression: true}
			defer tr.CloseIdleConnections()
			req, err := http.NewRequest(http.MethodGet, url, nil)
			r := &results[i]
			if err != nil {
				r.err = err
				return
			}
			<-gate
			tctx, tcancel := context.WithTimeout(ctx, cfg.perXfer)
			defer tcancel()
			start := time.Now()
			resp, err := tr.RoundTrip(req.WithContext(tctx))
			if err != nil {
				r.err = err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				r.err = fmt.Errorf("HTTP %s", resp.Status)
				return
			}
			w := &compareWriter{want: content}
			r.bytes, r.err = io.CopyBuffer(w, resp.Body, make([]byte, 256<<10))
			r.end = time.Now()
			r.dur = r.end.Sub(start)
			if r.err == nil && w.off != len(content) {
				r.err = fmt.Errorf("%w: got %d bytes of %d", errCorrupt, w.off, len(content))
			}
			if errors.Is(r.err, context.DeadlineExceeded) {
				r.err = fmt.Errorf("not complete when the limit (-transfer-timeout %v, -run-timeout %v) ran out: %w", cfg.perXfer, cfg.perRun, r.err)
			}
		})
	}
	cpu0 := cpuTime()
	t0 := time.Now()
	close(gate)
	wg.Wait()
	res.clientCPU = cpuTime() - cpu0
	var last time.Time
	for _, r := range results {
		if r.err != nil {
			res.failed++
			if res.firstErr == "" {
				res.firstErr = r.err.Error()
			}
			continue
		}
		res.ok++
		res.bytes += r.bytes
		res.durs = append(res.durs, r.dur)
		last = maxTime(last, r.end)
	}
	if res.ok > 0 {
		res.wall = last.Sub(t0)
		res.negotiated["HTTP/1.1 GET, a connection each"] = res.ok
	}
	return res
}

// waitHTTP waits (at most 10s, not timed) until the service answers: it
// starts a moment after the TFTP server the readiness probe asked.
func waitHTTP(ctx context.Context, url string) error {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	var err error
	for range 100 {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
		if err != nil {
			return err
		}
		var resp *http.Response
		if resp, err = c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HEAD %s: %s", url, resp.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("phone HTTP service not answering: %w", err)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// printHTTPRatios checks the case's targets: HTTP at least as fast as
// TFTP with windowsize, and no more CPU per GB.
func printHTTPRatios(aggs []*aggregate) {
	var h, t *aggregate
	for _, a := range aggs {
		switch {
		case !a.ran():
		case a.srv.name == "phoneboot-http":
			h = a
		case a.srv.name == "phoneboot":
			t = a
		}
	}
	if h == nil || t == nil || t.throughput() == 0 || t.cpuPerGB(false) == 0 {
		fmt.Println("phoneboot over HTTP or over TFTP did not complete a run: no comparison.")
		return
	}
	fmt.Printf("phoneboot-http: `phoneboot %s`.\n\n", strings.Join(h.srv.args("ROOT", 0), " "))
	r, cpu := h.throughput()/t.throughput(), h.cpuPerGB(false)/t.cpuPerGB(false)
	fmt.Printf("phoneboot over HTTP: throughput %.2f× over TFTP windowsize, target ≥ 1×: %s; CPU per GB %.2f× TFTP's, target ≤ 1×: %s.\n",
		r, verdict(r >= 1), cpu, verdict(cpu <= 1))
}
