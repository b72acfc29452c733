package syslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"phoneboot/internal/ratelimit"
	"phoneboot/internal/udpnet"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("syslog: server closed")

// bufSize is the datagram buffer: larger than any UDP payload over IPv4
// (65507) so nothing is cut short by the read.
const bufSize = 64 << 10

// Server receives syslog datagrams. Fields must not change after Serve.
type Server struct {
	// Handler is called for every accepted datagram, on the goroutine of
	// the Serve call that read it (two Serve calls, e.g. IPv4 and IPv6, may
	// call it at the same time). It must not block: queue and return.
	Handler func(Message)
	Logger  *slog.Logger
	// RatePerSource limits datagrams per second per source IP address,
	// with bursts of RateBurst (at least 1). 0 means no limit. Datagrams
	// over the limit are dropped before parsing.
	RatePerSource float64
	RateBurst     int

	received, parsed, unparsed, dropped, rateLimited atomic.Uint64

	initOnce sync.Once
	mu       sync.Mutex
	closed   bool
	conns    map[*net.UDPConn]struct{}
	limit    *ratelimit.Keyed[netip.Addr] // nil: no limit
	wg       sync.WaitGroup               // running Serve loops
}

// Stats are the server's counters since it started.
type Stats struct {
	Received    uint64 // datagrams read
	Parsed      uint64 // accepted as RFC 5424 or RFC 3164
	Unparsed    uint64 // accepted as raw text
	Dropped     uint64 // rate-limited, empty or binary garbage
	RateLimited uint64 // the part of Dropped that was over the rate limit
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{
		Received:    s.received.Load(),
		Parsed:      s.parsed.Load(),
		Unparsed:    s.unparsed.Load(),
		Dropped:     s.dropped.Load(),
		RateLimited: s.rateLimited.Load(),
	}
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.conns = make(map[*net.UDPConn]struct{})
		if s.RatePerSource > 0 {
			s.limit = ratelimit.NewAddr(s.RatePerSource, s.RateBurst, ratelimit.MaxKeys)
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Listen opens the UDP sockets for addr. An address without a host
// (":514") gets an IPv4 and an IPv6 socket; IPv6 is skipped when the
// host has none.
func Listen(addr string) ([]*net.UDPConn, error) {
	conns, err := udpnet.Listen(addr, listenBuffer)
	if err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	return conns, nil
}

// listenBuffer is the receive buffer asked for: every phone of a site
// logs at once after a power cut. The kernel caps it at net.core.rmem_max.
const listenBuffer = 4 << 20

// Serve reads datagrams from conn until ctx is done (then it returns nil)
// or Shutdown is called (ErrServerClosed); conn is closed either way.
// Other read errors are logged and reading goes on.
func (s *Server) Serve(ctx context.Context, conn *net.UDPConn) error {
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return ErrServerClosed
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		stop()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.wg.Done()
	}()

	buf := make([]byte, bufSize)
	var backoff udpnet.Backoff
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			switch {
			case ctx.Err() != nil:
				return nil
			case closed:
				return ErrServerClosed
			case errors.Is(err, net.ErrClosed):
				return ErrServerClosed
			}
			// Transient (no buffers, ICMP-induced): log, back off a little
			// so a persistent error cannot spin, and go on.
			s.Logger.Warn("syslog: read error", "addr", conn.LocalAddr(), "err", err)
			backoff.Wait()
			continue
		}
		backoff.Reset()
		s.handle(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
	}
}

func (s *Server) handle(b []byte, from netip.AddrPort) {
	now := time.Now()
	s.received.Add(1)
	if !s.allow(from.Addr(), now) {
		s.dropped.Add(1)
		s.rateLimited.Add(1)
		return
	}
	m, ok := Parse(b, now)
	if !ok {
		s.dropped.Add(1)
		s.Logger.Debug("syslog: empty or binary datagram dropped", "from", from, "len", len(b))
		return
	}
	m.From = from
	if m.Format == FormatRaw {
		s.unparsed.Add(1)
	} else {
		s.parsed.Add(1)
	}
	if s.Logger.Enabled(context.Background(), slog.LevelDebug) {
		s.Logger.Debug("syslog: message", "from", from, "format", m.Format, "priority", m.Priority, "text", m.Text)
	}
	if s.Handler != nil {
		s.Handler(m)
	}
}

// allow applies the per-source rate limit, logging an offender at most
// once a second.
func (s *Server) allow(ip netip.Addr, now time.Time) bool {
	if s.limit == nil {
		return true
	}
	ok, tell := s.limit.Allow(ip, now)
	if tell {
		s.Logger.Info("syslog: source over the rate limit, dropping", "source", ip, "limit", s.RatePerSource)
	}
	return ok
}

// Shutdown closes the listening sockets and waits for the Serve loops to
// return (a Handler that blocks would hold them), or for ctx to end, in
// which case ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
