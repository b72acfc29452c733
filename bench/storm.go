package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"phoneboot/internal/tftp/tftptest"
	"phoneboot/internal/tftpload"
)

// benchCase is one boot-storm scenario.
type benchCase struct {
	id                  string
	title               string
	clients             int
	file                string
	blksize, windowsize int
	loss                float64
	// prime: before the storm, not timed, each client asks once for
	// SEP<its MAC>.cnf.xml from its address, so that phoneboot attributes
	// every transfer of the storm to a phone and records it (tracking).
	prime bool
	// servers, when set, are the only servers the case runs.
	servers []string
}

// stormConfig is what every client of a storm shares.
type stormConfig struct {
	timeout    time.Duration // client retransmit timeout
	retries    int
	perXfer    time.Duration // one transfer, start to end
	perRun     time.Duration // one server's whole storm
	verifySHA  bool
	seedOffset int64
	// reactorClient uses tftpload (epoll) instead of a goroutine per
	// client; -sha256 needs the goroutine client.
	reactorClient bool
}

// runResult is one server's storm.
type runResult struct {
	ok, failed int
	firstErr   string
	bytes      int64 // payload delivered by transfers that succeeded
	wall       time.Duration
	durs       []time.Duration // of the transfers that succeeded
	timeouts   int
	lost       int
	unexpected int
	negotiated map[string]int
	clientCPU  time.Duration
}

// clientAddr is the loopback source address of simulated phone i: 127.0.X.Y
// with X from 1, so none is 127.0.0.x where the servers listen.
func clientAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 0, byte(1 + i/250), byte(1 + i%250)})
}

var errCorrupt = errors.New("received bytes differ from the file")

// compareWriter checks a download against the expected bytes as they
// arrive: exact, and cheaper than hashing on a machine the server shares.
type compareWriter struct {
	want []byte
	off  int
}

func (w *compareWriter) Write(p []byte) (int, error) {
	end := w.off + len(p)
	if end > len(w.want) || !bytes.Equal(p, w.want[w.off:end]) {
		return 0, fmt.Errorf("%w at offset %d", errCorrupt, w.off)
	}
	w.off = end
	return len(p), nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// storm starts all clients of c at once against addr and waits for them,
// with the client chosen by -client.
func storm(ctx context.Context, addr netip.AddrPort, c benchCase, content []byte, wantSum [32]byte, cfg stormConfig) runResult {
	if cfg.reactorClient && !cfg.verifySHA {
		return stormReactor(ctx, addr, c, content, cfg)
	}
	return stormGoroutines(ctx, addr, c, content, wantSum, cfg)
}

// stormReactor runs the storm with tftpload: clients on epoll loops like
// the server's transfers, so the load generator takes little of the CPU
// the servers need.
func stormReactor(ctx context.Context, addr netip.AddrPort, c benchCase, content []byte, cfg stormConfig) runResult {
	ctx, cancel := context.WithTimeout(ctx, cfg.perRun)
	defer cancel()
	cpu0 := cpuTime()
	r, err := tftpload.Run(ctx, tftpload.Spec{
		Server: addr, File: c.file, Want: content, Clients: c.clients, Source: clientAddr,
		Blksize: c.blksize, Windowsize: c.windowsize, Loss: c.loss, Seed: uint64(cfg.seedOffset),
		Timeout: cfg.timeout, Retries: cfg.retries,
	})
	res := runResult{negotiated: map[string]int{}, clientCPU: cpuTime() - cpu0}
	if err != nil {
		res.failed, res.firstErr = c.clients, err.Error()
		return res
	}
	res.ok, res.failed, res.bytes, res.durs = len(r.Durations), r.Failures, r.Bytes, r.Durations
	res.timeouts, res.unexpected, res.lost = r.Resends, r.Unexpected, r.Lost
	if r.FirstErr != nil {
		res.firstErr = r.FirstErr.Error()
		if errors.Is(r.FirstErr, context.DeadlineExceeded) {
			res.firstErr = fmt.Sprintf("not complete when the limit (-run-timeout %v) ran out", cfg.perRun)
		}
	}
	for _, d := range r.Durations {
		res.wall = max(res.wall, d)
	}
	for k, n := range r.Negotiated {
		mode := fmt.Sprintf("bs %d", k[0])
		if k[1] > 1 || c.windowsize > 0 {
			mode += fmt.Sprintf(", win %d", k[1])
		}
		res.negotiated[mode] += n
	}
	return res
}

// stormGoroutines runs the storm with tftptest: a goroutine per client.
func stormGoroutines(ctx context.Context, addr netip.AddrPort, c benchCase, content []byte, wantSum [32]byte, cfg stormConfig) runResult {
	ctx, cancel := context.WithTimeout(ctx, cfg.perRun)
	defer cancel()
	type one struct {
		st  tftptest.Stats
		err error
		end time.Time
	}
	results := make([]one, c.clients)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range c.clients {
		wg.Go(func() {
			cl := &tftptest.Client{
				Server:     addr,
				Local:      clientAddr(i),
				Blksize:    c.blksize,
				Windowsize: c.windowsize,
				Timeout:    cfg.timeout,
				Retries:    cfg.retries,
				Loss:       c.loss,
				Seed:       cfg.seedOffset + int64(i),
			}
			<-gate
			tctx, tcancel := context.WithTimeout(ctx, cfg.perXfer)
			defer tcancel()
			r := &results[i]
			start := time.Now()
			if cfg.verifySHA {
				h := sha256.New()
				r.st, r.err = cl.Get(tctx, c.file, h)
				if r.err == nil && (r.st.Bytes != int64(len(content)) || [32]byte(h.Sum(nil)) != wantSum) {
					r.err = fmt.Errorf("%w: %d bytes, sha256 %x", errCorrupt, r.st.Bytes, shortSum(h))
				}
			} else {
				w := &compareWriter{want: content}
				r.st, r.err = cl.Get(tctx, c.file, w)
				if r.err == nil && w.off != len(content) {
					r.err = fmt.Errorf("%w: got %d bytes of %d", errCorrupt, w.off, len(content))
				}
			}
			if errors.Is(r.err, context.DeadlineExceeded) {
				r.err = fmt.Errorf("not complete when the limit (-transfer-timeout %v, -run-timeout %v) ran out: %w", cfg.perXfer, cfg.perRun, r.err)
			}
			// The end of the data, not of Get: a client whose last ACK
			// was lost dallies after its transfer is complete.
			r.end = start.Add(r.st.Duration)
		})
	}
	cpu0 := cpuTime()
	t0 := time.Now()
	close(gate)
	wg.Wait()
	res := runResult{negotiated: map[string]int{}, clientCPU: cpuTime() - cpu0}
	var last time.Time
	for _, r := range results {
		res.timeouts += r.st.Timeouts
		res.lost += r.st.Lost
		res.unexpected += r.st.Unexpected
		if r.err != nil {
			res.failed++
			if res.firstErr == "" {
				res.firstErr = r.err.Error()
			}
			continue
		}
		res.ok++
		res.bytes += r.st.Bytes
		res.durs = append(res.durs, r.st.Duration)
		if r.end.After(last) {
			last = r.end
		}
		mode := fmt.Sprintf("bs %d", r.st.Blksize)
		if r.st.Windowsize > 1 || c.windowsize > 0 {
			mode += fmt.Sprintf(", win %d", r.st.Windowsize)
		}
		res.negotiated[mode]++
	}
	if res.ok > 0 {
		res.wall = last.Sub(t0)
	}
	return res
}

func shortSum(h hash.Hash) []byte { return h.Sum(nil)[:6] }

// primeMACs makes each client known by its MAC: one config request from
// each client address, 64 at a time. Answers do not matter (peers answer
// "not found").
func primeMACs(ctx context.Context, addr netip.AddrPort, clients int) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := tftptest.Client{Server: addr, Local: clientAddr(i), Timeout: 500 * time.Millisecond, Retries: 3}
			c.Get(ctx, fmt.Sprintf("SEP0013BE%06X.cnf.xml", i), discard{})
		})
	}
	wg.Wait()
}
