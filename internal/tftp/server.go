package tftp

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
	"unicode/utf8"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("tftp: server closed")

// Server is a TFTP server. The zero value serves nothing (every read gets
// "file not found"); set Resolver. Fields must not change after Serve.
type Server struct {
	Resolver Resolver // answers read requests
	Receiver Receiver // accepts write requests; nil refuses them (error 2)
	Limits            // option caps and the upload size limit

	// MaxTransfers caps concurrent transfers; more requests are refused
	// with an ERROR saying the server is busy. 0 means 10000.
	MaxTransfers int
	// RatePerSource limits new requests per client IP address per second,
	// with bursts of RateBurst. 0 means no limit.
	RatePerSource float64
	RateBurst     int

	// Retransmission (RFC 1123 §4.2.3.2 asks for an adaptive timeout):
	// Timeout is used until the first round trip is measured, then the
	// timeout follows the measured RTT within [MinTimeout, MaxTimeout] and
	// doubles after each retransmission. A client's timeout option fixes it.
	Timeout    time.Duration // 0 means 1s
	MinTimeout time.Duration // 0 means 50ms
	MaxTimeout time.Duration // 0 means 5s
	// Retries is how many times one packet is sent again before the
	// transfer is abandoned. 0 means 8.
	Retries int
	// RolloverToOne makes block numbers wrap from 65535 to 1 instead of 0
	// (RFC 1350 does not say; 0 is what tftp-hpa and most clients expect).
	RolloverToOne bool

	Logger *slog.Logger
	// OnEvent, if set, receives one Event per request, from the transfer's
	// goroutine. It must not block.
	OnEvent func(Event)

	initOnce sync.Once
	hardCtx  context.Context // cancelled when shutdown runs out of time
	hardStop context.CancelFunc
	drv      driver // runs transfers; set by init unless a test chose one
	stopDrv  sync.Once

	mu        sync.Mutex
	closed    bool
	listeners map[*listener]struct{}
	active    map[netip.AddrPort]struct{}  // transfers by client TID
	limit     *ratelimit.Keyed[netip.Addr] // nil: no per-source limit
	nactive   atomic.Int64
	wg        sync.WaitGroup
	stats     stats // what Stats reports
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.hardCtx, s.hardStop = context.WithCancel(context.Background())
		s.listeners = make(map[*listener]struct{})
		s.active = make(map[netip.AddrPort]struct{})
		if s.RatePerSource > 0 {
			s.limit = ratelimit.NewAddr(s.RatePerSource, s.RateBurst, ratelimit.MaxKeys)
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.drv == nil {
			s.drv = newDriver(s)
		}
	})
}

func (s *Server) maxTransfers() int64 {
	if s.MaxTransfers <= 0 {
		return 10000
	}
	return int64(s.MaxTransfers)
}

// Active returns the number of transfers in progress.
func (s *Server) Active() int { return int(s.nactive.Load()) }

// Listen opens the UDP sockets for addr. An address without a host
// (":69") gets an IPv4 and an IPv6 socket; IPv6 is skipped when the
// host has none.
func Listen(addr string) ([]*net.UDPConn, error) {
	return udpnet.Listen(addr, listenBuffer)
}

// listenBuffer is the receive buffer asked for on listening sockets. After
// a power cut every phone asks at once: the default (about 200 KB, some
// 300 requests) drops most of a burst of thousands, and each dropped phone
// waits out its own timeout. The kernel caps it at net.core.rmem_max.
const listenBuffer = 8 << 20

// listener is a listening socket that tells which local address each
// request was sent to, so that the transfer answers from that address.
type listener struct {
	conn  *net.UDPConn
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
	bound netip.Addr // the socket's own address; unspecified when wildcard
}

func newListener(conn *net.UDPConn) *listener {
	l := &listener{conn: conn}
	la := conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
	l.bound = la.Unmap()
	if la.Is4() || la.Is4In6() {
		l.p4 = ipv4.NewPacketConn(conn)
		if err := l.p4.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
			l.p4 = nil
		}
	} else {
		l.p6 = ipv6.NewPacketConn(conn)
		if err := l.p6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
			l.p6 = nil
		}
	}
	return l
}

// read returns one datagram, its sender and the local address it was sent to.
func (l *listener) read(b []byte) (n int, from netip.AddrPort, local netip.Addr, ifIndex int, err error) {
	var src net.Addr
	switch {
	case l.p4 != nil:
		var cm *ipv4.ControlMessage
		n, cm, src, err = l.p4.ReadFrom(b)
		if cm != nil {
			local, _ = netip.AddrFromSlice(cm.Dst)
			ifIndex = cm.IfIndex
		}
	case l.p6 != nil:
		var cm *ipv6.ControlMessage
		n, cm, src, err = l.p6.ReadFrom(b)
		if cm != nil {
			local, _ = netip.AddrFromSlice(cm.Dst)
			ifIndex = cm.IfIndex
		}
	default:
		n, src, err = l.conn.ReadFrom(b)
	}
	if err != nil {
		return 0, from, local, 0, err
	}
	if ua, ok := src.(*net.UDPAddr); ok {
		from = unmap(ua.AddrPort())
	}
	local = local.Unmap()
	if !local.IsValid() || local.IsUnspecified() {
		local = l.bound
	}
	return n, from, local, ifIndex, nil
}

// reply sends b to the client from the listening socket, with the source
// address the request was sent to.
func (l *listener) reply(b []byte, to netip.AddrPort, local netip.Addr) {
	dst := net.UDPAddrFromAddrPort(to)
	switch {
	case l.p4 != nil && local.Is4():
		l.p4.WriteTo(b, &ipv4.ControlMessage{Src: local.AsSlice()}, dst)
	case l.p6 != nil && local.Is6():
		l.p6.WriteTo(b, &ipv6.ControlMessage{Src: local.AsSlice()}, dst)
	default:
		l.conn.WriteToUDPAddrPort(b, to)
	}
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Serve answers requests arriving on conn until ctx is done (then it
// returns nil) or Shutdown is called (ErrServerClosed); conn is closed
// either way. Transfers it started go on: Shutdown waits for them. Each
// transfer gets its own socket (a fresh TID, RFC 1350 §4) bound to the
// address the request was sent to.
func (s *Server) Serve(ctx context.Context, conn *net.UDPConn) error {
	s.init()
	l := newListener(conn)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		stop()
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	buf := make([]byte, MaxRequestLen+1)
	var backoff udpnet.Backoff
	for {
		n, from, local, ifIndex, err := l.read(buf)
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			switch {
			case ctx.Err() != nil:
				return nil
			case closed || errors.Is(err, net.ErrClosed):
				return ErrServerClosed
			}
			// A transient error (ICMP-induced, no buffers): log, back off a
			// little so a persistent one cannot spin, and go on.
			s.Logger.Warn("tftp: read error on listening socket", "addr", conn.LocalAddr(), "err", err)
			backoff.Wait()
			continue
		}
		backoff.Reset()
		if local.Is6() && local.IsLinkLocalUnicast() && ifIndex > 0 {
			local = local.WithZone(fmt.Sprint(ifIndex))
		}
		s.handleRequest(l, buf[:n], from, local)
	}
}

// handleRequest runs on the listener's goroutine: it decides quickly whether
// to start a transfer and hands everything slow to the transfer's goroutine.
func (s *Server) handleRequest(l *listener, b []byte, from netip.AddrPort, local netip.Addr) {
	start := time.Now()
	op, err := PacketOpcode(b)
	if err != nil || (op != OpRRQ && op != OpWRQ) {
		// Not a request. Never answer an ERROR with an ERROR (loops);
		// anything else gets "illegal operation", within the source's rate
		// limit, so a confused client learns it is talking to the wrong
		// port without the server becoming a reflector.
		s.mu.Lock()
		answer := op != OpERROR && !isBroadcast(local) && s.allow(from.Addr(), start) == allowed
		s.mu.Unlock()
		if answer {
			l.reply(AppendError(nil, ErrIllegalOp, "expected a read or write request"), from, local)
		}
		s.Logger.Debug("tftp: not a request", "client", from, "opcode", op, "len", len(b))
		return
	}
	ev := Event{Start: start, Op: op, Remote: from, Local: local, Size: -1, Blksize: DefaultBlksize, Windowsize: 1}
	refuse := func(outcome Outcome, e *Error) {
		if !ev.Silent {
			l.reply(AppendError(nil, e.Code, e.Message), from, local)
		}
		ev.Outcome, ev.Error = outcome, e.Message
		s.emit(&ev)
	}
	if isBroadcast(local) {
		// RFC 1123 §4.2.3.5: requests to a broadcast address SHOULD be
		// silently ignored.
		ev.Silent = true
		refuse(OutcomeRefused, Errorf(ErrUndefined, "request sent to a broadcast or multicast address, ignored"))
		return
	}
	s.mu.Lock()
	if _, dup := s.active[from]; dup {
		// A retransmitted request for a transfer already running
		// (Tftpd64: answering it caused spurious errors). Not a new request.
		s.mu.Unlock()
		s.Logger.Debug("tftp: duplicate request ignored", "client", from)
		return
	}
	verdict := s.allow(from.Addr(), start)
	s.mu.Unlock()
	if verdict != allowed {
		s.stats.rateLimited.Add(1)
		// Over the limit: say so once a second, then stay silent so that
		// a flood (or spoofed requests) gets nothing back.
		ev.Silent = verdict == overLimitSilent
		refuse(OutcomeRefused, Errorf(ErrUndefined, "too many requests from %s: limit is %g per second", from.Addr(), s.RatePerSource))
		return
	}
	pkt, err := ParseRequest(b)
	ev.File, ev.Mode, ev.Options = pkt.Filename, pkt.Mode, pkt.Options
	if err != nil {
		var pe *ParseError
		errors.As(err, &pe)
		refuse(OutcomeBadReq, &Error{Code: pe.Code, Message: pe.Msg})
		return
	}
	if op == OpWRQ && s.Receiver == nil {
		refuse(OutcomeDenied, Errorf(ErrAccessViolation, "writing is disabled on this server"))
		return
	}
	path, err := CleanName(pkt.Filename)
	if err != nil {
		e := asError(err)
		outcome := OutcomeDenied
		if e.Code == ErrFileNotFound {
			outcome = OutcomeNotFound
		}
		refuse(outcome, e)
		return
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		refuse(OutcomeShutdown, Errorf(ErrUndefined, "server shutting down"))
		return
	}
	if n := s.nactive.Load(); n >= s.maxTransfers() {
		s.mu.Unlock()
		refuse(OutcomeRefused, Errorf(ErrUndefined, "server busy: %d transfers running, try again", n))
		return
	}
	s.active[from] = struct{}{}
	s.nactive.Add(1)
	s.wg.Add(1)
	s.mu.Unlock()

	req := &Request{Op: op, Filename: pkt.Filename, Path: path, Mode: pkt.Mode, Options: pkt.Options, Remote: from, Local: local}
	go s.run(l, req, pkt, ev)
}

// rateVerdict is what the per-source rate limit says of a request.
type rateVerdict int

const (
	allowed         rateVerdict = iota
	overLimit                   // refuse with an ERROR
	overLimitSilent             // refuse without answering: already told this second
)

// allow applies the per-source rate limit.
func (s *Server) allow(ip netip.Addr, now time.Time) rateVerdict {
	if s.limit == nil {
		return allowed
	}
	ok, tell := s.limit.Allow(ip, now)
	switch {
	case ok:
		return allowed
	case tell:
		return overLimit
	}
	return overLimitSilent
}

func isBroadcast(a netip.Addr) bool {
	return a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// run prepares a transfer on its own goroutine (the Resolver may be slow)
// and hands it to the driver.
func (s *Server) run(l *listener, req *Request, pkt Packet, ev Event) {
	t := &transfer{s: s, remote: req.Remote, ev: ev}
	if err := s.drv.open(t, req.Local); err != nil {
		l.reply(AppendError(nil, ErrUndefined, "server cannot open a transfer socket"), req.Remote, req.Local)
		t.ev.Outcome, t.ev.Error = OutcomeFailed, "open transfer socket: "+err.Error()
		s.transferDone(t)
		return
	}
	t.setup(req, pkt)
	if t.done {
		t.conn.close()
		s.transferDone(t)
		return
	}
	s.drv.start(t)
}

// transferDone is called once per transfer, by its driver, when it ended.
func (s *Server) transferDone(t *transfer) {
	if t.end.IsZero() {
		t.end = time.Now()
	}
	t.ev.Duration = t.end.Sub(t.ev.Start)
	s.emit(&t.ev)
	s.mu.Lock()
	delete(s.active, t.remote)
	s.mu.Unlock()
	s.nactive.Add(-1)
	s.wg.Done()
}

func (s *Server) emit(ev *Event) {
	if ev.Duration == 0 {
		ev.Duration = time.Since(ev.Start)
	}
	s.stats.count(ev)
	lvl := slog.LevelWarn
	switch {
	case ev.Outcome == OutcomeOK, ev.Outcome == OutcomeProbe, ev.Outcome == OutcomeNotFound:
		// Phones ask for many files that do not exist; that is normal.
		lvl = slog.LevelInfo
	case ev.Silent:
		lvl = slog.LevelDebug // a flood must not flood the log too
	}
	if s.Logger.Enabled(context.Background(), lvl) {
		attrs := []slog.Attr{
			slog.String("op", ev.Op.String()),
			slog.String("client", ev.Remote.String()),
			slog.String("file", clip(ev.File, maxLoggedName)),
			slog.String("outcome", string(ev.Outcome)),
			slog.Int64("bytes", ev.Bytes),
			slog.Duration("duration", ev.Duration),
		}
		if ev.Blksize != DefaultBlksize || ev.Windowsize != 1 {
			attrs = append(attrs, slog.Int("blksize", ev.Blksize), slog.Int("windowsize", ev.Windowsize))
		}
		if ev.Retransmits > 0 {
			attrs = append(attrs, slog.Int("retransmits", ev.Retransmits))
		}
		if ev.Error != "" {
			attrs = append(attrs, slog.String("error", clip(ev.Error, maxLoggedError)))
		}
		if len(ev.Notes) > 0 {
			attrs = append(attrs, slog.Any("notes", ev.Notes))
		}
		s.Logger.LogAttrs(context.Background(), lvl, "tftp transfer", attrs...)
	}
	if s.OnEvent != nil {
		s.OnEvent(*ev)
	}
}

// What a log line holds of a request is bounded, whatever the client sent
// (a name is up to 65 KB before it is refused): the notes are bounded by
// Negotiate (MaxNotes of %.32q each), the name and the error here.
const (
	maxLoggedName  = 256
	maxLoggedError = 512
)

// clip cuts s to at most n bytes, on a character boundary, and says how
// long it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > n-utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[%d bytes]", len(s))
}

// Shutdown stops accepting requests and waits for running transfers to
// finish. When ctx ends first, the remaining transfers are cut (their event
// says "shutdown") and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.conn.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.hardStop()
		<-done
		err = ctx.Err()
	}
	s.stopDrv.Do(s.drv.stop)
	return err
}
