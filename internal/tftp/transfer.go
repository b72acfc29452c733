package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// transferConn is a transfer's own socket (its TID, RFC 1350 §4) as the
// state machine sees it. Drivers implement it: epoll over raw sockets on
// Linux, a goroutine per transfer elsewhere.
type transferConn interface {
	// send sends b to the client. A full socket buffer is not an error:
	// the packet counts as lost and is retransmitted on timeout.
	send(b []byte) error
	// sendBatch sends consecutive datagrams of seg bytes each (the last
	// may be shorter) stored back to back in b: one system call with UDP
	// GSO where the kernel supports it.
	sendBatch(b []byte, seg int) error
	// sendTo sends b to another address (ERROR 5 to a wrong TID).
	sendTo(b []byte, to netip.AddrPort)
	close()
}

// transfer is one transfer's state machine. Its driver calls begin once,
// then handle for each datagram and expire when deadline passes, all from
// one goroutine, until done. None of these allocate: the hot path (one ACK
// in, one DATA out) costs one read and one write system call.
type transfer struct {
	s        *Server
	conn     transferConn
	remote   netip.AddrPort
	ev       Event
	rtt      rtt
	deadline time.Time // when expire is due
	done     bool
	end      time.Time // when the outcome was decided (before any dally)
	// scratch holds the DATA packet being built; the driver provides it
	// (shared by all transfers of an epoll worker) and it is only used
	// during a call.
	scratch []byte
	ebuf    [headerLen + MaxErrorMessage + 1]byte
	retries int  // consecutive timeouts
	heard   bool // the client has answered at least once

	// Read transfers.
	f           File
	size        int64
	bs, window  int64
	last        int64  // number of the last block (short, possibly empty)
	oack        []byte // OACK still waiting for ACK 0; nil once acknowledged
	probe       bool   // the OACK holds tsize: an ERROR answer is a probe
	base, next  int64  // first unacknowledged block, next block to send
	windowEnd   int64  // last block of the window in flight
	highest     int64  // highest block sent so far
	restartedAt int64  // window base already resent for a duplicate ACK
	sentAt      time.Time
	fresh       bool // no block of the window in flight was sent before (Karn)

	// Write transfers.
	up        Upload
	committed bool
	expected  int64 // next block wanted
	sinceAck  int64
	nacked    bool // an out-of-order block was answered since the last progress
	reply     []byte
	dallying  bool
	finalHdr  [headerLen]byte
}

// maxUnansweredRetries bounds the resends of a transfer's first packet
// before the client has answered anything (TFTP reflection attacks).
const maxUnansweredRetries = 3

// errTimeout is the cause of a transfer given up after its retries.
var errTimeout = errors.New("timeout")

// isTransient reports send errors that mean "packet dropped", to be cured
// by retransmission.
func isTransient(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ECONNREFUSED)
}

func (t *transfer) write(b []byte) bool {
	if err := t.conn.send(b); err != nil && !isTransient(err) {
		t.ended(err, "")
		return false
	}
	return true
}

func (t *transfer) finish() {
	t.done = true
	if t.end.IsZero() {
		t.end = time.Now()
	}
	if t.up != nil && !t.committed {
		t.up.Abort()
	}
	if t.f != nil {
		t.f.Close()
	}
}

// fail ends the transfer with an ERROR packet to the client. detail, if
// set, is what the event records instead of the message sent.
func (t *transfer) fail(outcome Outcome, e *Error, detail string) {
	t.conn.send(AppendError(t.ebuf[:0], e.Code, e.Message))
	t.ev.Outcome, t.ev.Error = outcome, e.Message
	if detail != "" {
		t.ev.Error = detail
	}
	t.finish()
}

// ended records a transfer cut by a timeout, shutdown or a socket error.
func (t *transfer) ended(err error, what string) {
	switch {
	case errors.Is(err, errTimeout):
		t.ev.Outcome = OutcomeTimeout
		t.ev.Error = fmt.Sprintf("no answer from the client %s after %d retransmissions", what, t.retries)
	case errors.Is(err, net.ErrClosed):
		t.ev.Outcome = OutcomeShutdown
		t.ev.Error = "cut by server shutdown"
	default:
		t.ev.Outcome = OutcomeFailed
		t.ev.Error = err.Error()
	}
	t.finish()
}

// clientError records an ERROR packet the client sent.
func (t *transfer) clientError(b []byte) {
	code, msg, _ := ParseErrorPacket(b)
	t.ev.Outcome = OutcomeAborted
	if t.oack != nil && t.probe {
		// tsize probe: the client only wanted the size (PXE firmware
		// does this; dnsmasq logs it as a failure, we do not).
		t.ev.Outcome = OutcomeProbe
	}
	t.ev.Error = fmt.Sprintf("client sent error %d: %q", code, msg)
	t.finish()
}

// blockNumber is the 16-bit wire number of absolute block idx, with
// rollover to 0 (default) or to 1.
func (t *transfer) blockNumber(idx int64) uint16 {
	if t.s.RolloverToOne && idx > 0 {
		return uint16((idx-1)%65535 + 1)
	}
	return uint16(idx)
}

// match finds the absolute block in [lo, hi] whose wire number is n.
func (t *transfer) match(n uint16, lo, hi int64) (int64, bool) {
	for idx := hi; idx >= lo && idx >= 0; idx-- {
		if t.blockNumber(idx) == n {
			return idx, true
		}
	}
	return 0, false
}

// setup prepares a transfer before its driver runs it: opens the file or
// the upload and negotiates options. It runs on the request's own
// goroutine because a Resolver may be slow. A failure answers the client
// and leaves t done.
func (t *transfer) setup(req *Request, pkt Packet) {
	if req.Op == OpRRQ {
		t.setupRead(req, pkt)
	} else {
		t.setupWrite(req, pkt)
	}
}

func (t *transfer) setupRead(req *Request, pkt Packet) {
	f, err := t.s.resolver().Open(t.s.hardCtx, req)
	if err != nil {
		e := asError(err)
		outcome := OutcomeDenied
		if e.Code == ErrFileNotFound {
			outcome = OutcomeNotFound
		}
		t.fail(outcome, e, resolverDetail(err, e))
		return
	}
	t.f = f
	t.size = f.Size()
	if req.Mode == ModeNetascii {
		if t.size, err = netasciiSize(f); err != nil {
			t.fail(OutcomeFailed, Errorf(ErrUndefined, "server read error"), "the file could not be read to count its size in netascii")
			return
		}
	}
	t.ev.Size = t.size
	p, err := Negotiate(pkt, t.size, t.s.Limits)
	t.ev.Notes = p.Notes
	if err != nil {
		t.fail(OutcomeDenied, asError(err), "")
		return
	}
	if req.Mode == ModeNetascii {
		t.f = newNetascii(f, t.size, p.Windowsize)
	}
	t.ev.Blksize, t.ev.Windowsize = p.Blksize, p.Windowsize
	t.rtt = t.s.newRTT(p.Timeout)
	t.bs, t.window = int64(p.Blksize), int64(p.Windowsize)
	t.last = t.size/t.bs + 1
	t.base, t.next, t.restartedAt = 1, 1, -1
	if len(p.OACK) > 0 {
		t.oack = AppendOACK(nil, p.OACK)
		for _, o := range p.OACK {
			t.probe = t.probe || o.Name == "tsize"
		}
	}
}

func (t *transfer) setupWrite(req *Request, pkt Packet) {
	p, err := Negotiate(pkt, 0, t.s.Limits)
	t.ev.Notes = p.Notes
	if err != nil {
		t.fail(OutcomeDenied, asError(err), "")
		return
	}
	t.ev.Blksize, t.ev.Windowsize, t.ev.Size = p.Blksize, p.Windowsize, p.Tsize
	t.rtt = t.s.newRTT(p.Timeout)
	t.bs, t.window = int64(p.Blksize), int64(p.Windowsize)
	up, err := t.s.Receiver.Create(t.s.hardCtx, req)
	if err != nil {
		t.fail(OutcomeDenied, asError(err), err.Error())
		return
	}
	if req.Mode == ModeNetascii {
		up = &netasciiUpload{Upload: up}
	}
	t.up = up
	t.expected = 1
	t.reply = make([]byte, 0, 512)
	if len(p.OACK) > 0 {
		t.reply = AppendOACK(t.reply, p.OACK)
	} else {
		t.reply = AppendAck(t.reply, 0)
	}
}

// begin sends the first packet: OACK, DATA 1 or ACK 0.
func (t *transfer) begin(now time.Time) {
	switch {
	case t.up != nil:
		t.sendReply(now)
	case t.oack != nil:
		t.sendOACK(now)
	default:
		t.sendWindow(now)
	}
}

// handle processes one datagram that arrived on the transfer's socket.
func (t *transfer) handle(b []byte, from netip.AddrPort, now time.Time) {
	if from != t.remote {
		// RFC 1350 §4: another TID gets ERROR 5; the transfer goes on.
		// Never answer an ERROR with an ERROR.
		if op, _ := PacketOpcode(b); op != OpERROR {
			t.conn.sendTo(AppendError(t.ebuf[:0], ErrUnknownTID, "unknown transfer ID"), from)
		}
		return
	}
	t.heard = true
	if t.up != nil {
		t.handleWrite(b, now)
	} else {
		t.handleRead(b, now)
	}
}

// expire runs when the deadline passed without an answer.
func (t *transfer) expire(now time.Time) {
	if t.dallying {
		t.finish()
		return
	}
	limit := t.s.retries()
	if !t.heard {
		// Until the client answers once, its address may be spoofed: do
		// not let a forged request make us send the same packet 9 times.
		limit = min(limit, maxUnansweredRetries)
	}
	if t.retries >= limit {
		what := ""
		switch {
		case t.up != nil:
			what = fmt.Sprintf("for block %d", t.expected)
		case t.oack != nil:
			what = "to the option acknowledgement"
		default:
			what = fmt.Sprintf("for block %d", t.base)
		}
		t.ended(errTimeout, what)
		return
	}
	t.retries++
	t.rtt.backoff()
	switch {
	case t.up != nil:
		t.ev.Retransmits++
		t.sendReply(now)
	case t.oack != nil:
		t.ev.Retransmits++
		t.sendOACK(now)
	default:
		t.ev.Retransmits += int(t.windowEnd - t.base + 1)
		t.next = t.base
		t.sendWindow(now)
	}
}

func (t *transfer) sendOACK(now time.Time) {
	if t.write(t.oack) {
		t.sentAt = now
		t.deadline = now.Add(t.rtt.timeout())
	}
}

// maxBatch is the most datagrams sent in one system call (UDP GSO allows
// 64 segments on every kernel that has it).
const maxBatch = 64

// sendWindow sends the blocks from next to the end of the window that
// starts at base, as many per system call as fit the driver's scratch.
func (t *transfer) sendWindow(now time.Time) {
	t.windowEnd = min(t.base+t.window-1, t.last)
	t.fresh = t.next > t.highest
	t.highest = max(t.highest, t.windowEnd)
	seg := headerLen + int(t.bs)
	batch := min(max(len(t.scratch)/seg, 1), maxBatch)
	for t.next <= t.windowEnd {
		buf := t.scratch[:0]
		for k := 0; k < batch && t.next <= t.windowEnd; k++ {
			n := t.bs
			if t.next == t.last {
				n = t.size - (t.last-1)*t.bs
			}
			off := len(buf)
			buf = buf[:off+headerLen+int(n)]
			PutDataHeader(buf[off:], t.blockNumber(t.next))
			if m, err := t.f.ReadAt(buf[off+headerLen:], (t.next-1)*t.bs); int64(m) < n {
				// In words, never the system call's text.
				why := fmt.Sprintf("the file could not be read at block %d", t.next)
				if err == nil || errors.Is(err, io.EOF) {
					why = fmt.Sprintf("the file ended before block %d: it was made shorter while being sent", t.next)
				}
				t.fail(OutcomeFailed, Errorf(ErrUndefined, "server read error"), why)
				return
			}
			t.next++
		}
		if err := t.conn.sendBatch(buf, seg); err != nil && !isTransient(err) {
			t.ended(err, "")
			return
		}
	}
	t.sentAt = now
	t.deadline = now.Add(t.rtt.timeout())
}

func (t *transfer) handleRead(b []byte, now time.Time) {
	op, _ := PacketOpcode(b)
	if op == OpERROR {
		t.clientError(b)
		return
	}
	if t.oack != nil {
		// Waiting for ACK 0; anything else is a stray from before.
		if n, err := ParseAck(b); err == nil && n == 0 {
			if t.retries == 0 {
				t.rtt.sample(now.Sub(t.sentAt))
			}
			t.oack, t.retries = nil, 0
			t.sendWindow(now)
		}
		return
	}
	if op != OpACK {
		t.fail(OutcomeFailed, Errorf(ErrIllegalOp, "expected an ACK, got %s", op), "")
		return
	}
	n, err := ParseAck(b)
	if err != nil {
		return
	}
	idx, ok := t.match(n, t.base-1, t.windowEnd)
	if !ok {
		return // an old ACK, from before a resend or a rollover
	}
	if idx == t.base-1 {
		// Duplicate ACK. In lock-step never resend on it (RFC 1123
		// §4.2.3.1, Sorcerer's Apprentice): only the timeout does. With a
		// window it is the client saying the window's first block was lost
		// (RFC 7440 §4): resend the window, once per base.
		if t.window > 1 && t.restartedAt != t.base {
			t.restartedAt = t.base
			t.next = t.base
			t.sendWindow(now)
			return
		}
		// The client is alive and waiting: if our timer has backed off
		// far, bring the resend in to the unbacked timeout. Still one
		// resend per timer expiry, so duplicates cannot multiply traffic.
		if due := now.Add(t.rtt.base()); due.Before(t.deadline) {
			t.deadline = due
		}
		return
	}
	if t.fresh && idx == t.windowEnd {
		t.rtt.sample(now.Sub(t.sentAt))
	}
	t.base = idx + 1
	t.ev.Bytes = min(idx*t.bs, t.size)
	t.retries = 0
	if t.base > t.last {
		t.ev.Outcome = OutcomeOK
		t.finish()
		return
	}
	if idx < t.windowEnd {
		t.next = t.base // partial window: resend from the gap (RFC 7440 §4)
	}
	t.sendWindow(now)
}

func (t *transfer) sendReply(now time.Time) {
	if t.write(t.reply) {
		t.sentAt = now
		t.deadline = now.Add(t.rtt.timeout())
	}
}

func (t *transfer) handleWrite(b []byte, now time.Time) {
	op, _ := PacketOpcode(b)
	if t.dallying {
		// RFC 1350 §6: the final ACK was lost if the last DATA comes again.
		if len(b) >= headerLen && [headerLen]byte(b[:headerLen]) == t.finalHdr {
			t.conn.send(t.reply)
		}
		return
	}
	switch op {
	case OpDATA:
	case OpERROR:
		t.clientError(b)
		return
	default:
		t.fail(OutcomeFailed, Errorf(ErrIllegalOp, "expected DATA, got %s", op), "")
		return
	}
	n, payload, err := ParseData(b)
	if err != nil {
		return
	}
	if n != t.blockNumber(t.expected) {
		// Duplicate or out of order: ACK the last block in order, once
		// until progress (RFC 7440 §4; RFC 1350 re-ACK of a duplicate).
		if !t.nacked {
			t.reply = AppendAck(t.reply[:0], t.blockNumber(t.expected-1))
			t.conn.send(t.reply)
			t.nacked = true
		}
		return
	}
	if int64(len(payload)) > t.bs {
		t.fail(OutcomeFailed, Errorf(ErrIllegalOp, "block %d has %d bytes, more than the block size %d", t.expected, len(payload), t.bs), "")
		return
	}
	if t.retries == 0 && t.sinceAck == 0 && !t.sentAt.IsZero() {
		// The first block after our ACK, none of it resent: a clean
		// round trip (Karn), so uploads get an adaptive timeout too.
		t.rtt.sample(now.Sub(t.sentAt))
	}
	t.ev.Bytes += int64(len(payload))
	if lim := t.s.Limits.MaxUpload; lim > 0 && t.ev.Bytes > lim {
		t.fail(OutcomeFailed, Errorf(ErrDiskFull, "upload is over the limit of %d bytes", lim), "")
		return
	}
	if _, err := t.up.Write(payload); err != nil {
		var te *Error
		if errors.As(err, &te) { // a refusal in words: the upload folder is full
			t.fail(OutcomeFailed, te, "")
			return
		}
		t.fail(OutcomeFailed, Errorf(ErrDiskFull, "cannot store the file"), "write: "+err.Error())
		return
	}
	t.nacked, t.retries = false, 0
	t.expected++
	t.sinceAck++
	if int64(len(payload)) < t.bs {
		// The last block: store, then acknowledge, so the client hears
		// about a failure to store instead of believing it succeeded.
		if err := t.up.Commit(); err != nil {
			t.fail(OutcomeFailed, asError(err), "commit: "+err.Error())
			return
		}
		t.committed = true
		t.ev.Size = t.ev.Bytes
		t.ev.Outcome = OutcomeOK
		t.end = now
		t.finalHdr = [headerLen]byte(b[:headerLen])
		t.reply = AppendAck(t.reply[:0], t.blockNumber(t.expected-1))
		t.conn.send(t.reply)
		// Dally long enough for a client whose own timeout is about a
		// second to resend its last block if this ACK is lost.
		t.dallying = true
		t.deadline = now.Add(min(max(2*t.rtt.timeout(), time.Second), t.s.maxTimeout()))
		return
	}
	if t.sinceAck >= t.window {
		t.sinceAck = 0
		t.reply = AppendAck(t.reply[:0], t.blockNumber(t.expected-1))
		t.conn.send(t.reply)
		t.sentAt = now
	}
	t.deadline = now.Add(t.rtt.timeout())
}

func (s *Server) resolver() Resolver {
	if s.Resolver == nil {
		return ResolverFunc(func(context.Context, *Request) (File, error) {
			return nil, Errorf(ErrFileNotFound, "file not found")
		})
	}
	return s.Resolver
}

func (s *Server) retries() int {
	if s.Retries <= 0 {
		return 8
	}
	return s.Retries
}

func (s *Server) maxTimeout() time.Duration {
	if s.MaxTimeout <= 0 {
		return 5 * time.Second
	}
	return s.MaxTimeout
}

func (s *Server) newRTT(fixed time.Duration) rtt {
	r := rtt{min: s.MinTimeout, max: s.maxTimeout(), rto: s.Timeout, fixed: fixed > 0}
	if r.min <= 0 {
		r.min = 50 * time.Millisecond
	}
	if r.rto <= 0 {
		r.rto = time.Second
	}
	if fixed > 0 {
		r.rto = fixed
	}
	r.initial = r.rto
	return r
}

// rtt is the adaptive retransmission timeout of RFC 1123 §4.2.3.2, computed
// like TCP's (RFC 6298): smoothed RTT plus four deviations, doubled on each
// retransmission, never sampled from a retransmitted packet (Karn).
type rtt struct {
	srtt, rttvar time.Duration
	rto          time.Duration // current timeout, backed off
	initial      time.Duration // before the first sample
	min, max     time.Duration
	fixed        bool // the client set the timeout option
}

func (r *rtt) timeout() time.Duration { return r.rto }

// base is the timeout without backoff.
func (r *rtt) base() time.Duration {
	if r.fixed || r.srtt == 0 {
		return r.initial
	}
	return min(max(r.srtt+4*r.rttvar, r.min), r.max)
}

func (r *rtt) sample(d time.Duration) {
	if r.fixed {
		return
	}
	if r.srtt == 0 {
		r.srtt, r.rttvar = d, d/2
	} else {
		diff := r.srtt - d
		if diff < 0 {
			diff = -diff
		}
		r.rttvar = (3*r.rttvar + diff) / 4
		r.srtt = (7*r.srtt + d) / 8
	}
	r.rto = r.base()
}

func (r *rtt) backoff() {
	if !r.fixed {
		r.rto = min(2*r.rto, r.max)
	}
}
