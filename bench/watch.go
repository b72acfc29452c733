package main

// The "sse" case: phoneboot during a boot storm of phones known by MAC,
// with and without dashboards watching it live. Each watcher does what a
// browser on the Phones page does: it follows /live (server-sent events)
// and, on every "changed", loads the phones table again. The storm's
// numbers side by side say what watching costs TFTP.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dashboardWatchers is how many live pages watch the watched phoneboot.
const dashboardWatchers = 4

// watchedServer is phoneboot with its admin server on a free loopback
// port, watched by dashboardWatchers live pages during the storm.
func watchedServer(phoneboot, dataDir string) *server {
	lo := netip.MustParseAddr("127.0.0.1")
	s := &server{name: "phoneboot-watched", bin: phoneboot, window: true, watchers: dashboardWatchers}
	if p, err := freePort(lo); err == nil {
		s.addr = netip.AddrPortFrom(lo, p)
	} else {
		s.missing = "no free port: " + err.Error()
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		s.adminAddr = ln.Addr().(*net.TCPAddr).AddrPort()
		ln.Close()
	} else {
		s.missing = "no free TCP port: " + err.Error()
	}
	s.args = func(_ string, transfers int) []string {
		return []string{"serve", "--data", dataDir, "--tftp-addr", s.addr.String(), "--admin-addr", s.adminAddr.String(),
			"--http-addr", "", "--tftp-rate", "0", "--tftp-max-transfers", strconv.Itoa(max(transfers, 20000)), "--log-level", "error"}
	}
	return s
}

// watchResult is what the watchers saw during one storm.
type watchResult struct {
	watchers int
	changes  int64           // "changed" messages received
	pages    []time.Duration // phones pages loaded, each its time
	errs     int64
	firstErr string
}

// watch starts n watchers of the admin server at addr; stop ends them
// and says what they saw.
func watch(ctx context.Context, addr netip.AddrPort, n int) (stop func() watchResult) {
	ctx, cancel := context.WithCancel(ctx)
	base := "http://" + addr.String()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		res  = watchResult{watchers: n}
		errs atomic.Int64
	)
	fail := func(err error) {
		if ctx.Err() != nil {
			return // stopping
		}
		errs.Add(1)
		mu.Lock()
		if res.firstErr == "" {
			res.firstErr = err.Error()
		}
		mu.Unlock()
	}
	client := &http.Client{}
	load := func() {
		start := time.Now()
		resp, err := client.Get(base + "/phones")
		if err != nil {
			fail(err)
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			fail(fmt.Errorf("phones page: %s, %v", resp.Status, err))
			return
		}
		mu.Lock()
		res.pages = append(res.pages, time.Since(start))
		mu.Unlock()
	}
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/live", nil)
			// The admin server starts with TFTP: give it a moment.
			resp, err := client.Do(req)
			for try := 0; err != nil && try < 50 && ctx.Err() == nil; try++ {
				time.Sleep(100 * time.Millisecond)
				resp, err = client.Do(req)
			}
			if err != nil {
				fail(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Errorf("/live: %s", resp.Status))
				return
			}
			load()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.TrimSpace(sc.Text()) == "event: changed" {
					mu.Lock()
					res.changes++
					mu.Unlock()
					load()
				}
			}
		})
	}
	return func() watchResult {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		res.errs = errs.Load()
		return res
	}
}

// watchNote is the line of a case's report about what the watchers saw.
func watchNote(name string, runs []runMeasure) string {
	var all watchResult
	for _, m := range runs {
		w := m.watch
		all.watchers = max(all.watchers, w.watchers)
		all.changes += w.changes
		all.pages = append(all.pages, w.pages...)
		all.errs += w.errs
		if all.firstErr == "" {
			all.firstErr = w.firstErr
		}
	}
	if all.watchers == 0 {
		return ""
	}
	slices.Sort(all.pages)
	pct := func(p float64) string {
		if len(all.pages) == 0 {
			return "-"
		}
		return fmtDur(all.pages[min(int(float64(len(all.pages))*p), len(all.pages)-1)])
	}
	s := fmt.Sprintf("- %s: %d live dashboards watched each run: %d \"changed\" received, %d phones pages loaded (p50 %s, p99 %s), %d errors",
		name, all.watchers, all.changes, len(all.pages), pct(0.5), pct(0.99), all.errs)
	if all.firstErr != "" {
		s += ", first: " + all.firstErr
	}
	return s
}
