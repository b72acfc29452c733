package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"
)

// transfer is the state of one transfer, owned by its goroutine. The hot
// path (one DATA out, one ACK in) allocates nothing: buffers are made once
// per transfer and the socket calls take netip values.
type transfer struct {
	s      *Server
	conn   *net.UDPConn
	remote netip.AddrPort
	ev     *Event
	rtt    rtt
	rbuf   []byte // received datagrams
	ebuf   [4 + MaxErrorMessage + 1]byte
}

// errTimeout is returned by recv when the deadline passed.
var errTimeout = errors.New("timeout")

// recv waits for the next datagram from the client until deadline. A
// datagram from any other address or port gets ERROR 5 and does not
// disturb the transfer (RFC 1350 §4).
func (t *transfer) recv(deadline time.Time) ([]byte, error) {
	t.conn.SetReadDeadline(deadline)
	for {
		n, from, err := t.conn.ReadFromUDPAddrPort(t.rbuf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, errTimeout
			}
			return nil, err
		}
		from = unmap(from)
		if from != t.remote {
			if op, _ := PacketOpcode(t.rbuf[:n]); op != OpERROR {
				t.conn.WriteToUDPAddrPort(AppendError(t.ebuf[:0], ErrUnknownTID, "unknown transfer ID"), from)
			}
			continue
		}
		return t.rbuf[:n], nil
	}
}

func (t *transfer) write(b []byte) error {
	_, err := t.conn.WriteToUDPAddrPort(b, t.remote)
	return err
}

// fail ends the transfer with an ERROR packet to the client.
func (t *transfer) fail(outcome Outcome, e *Error, detail string) {
	t.write(AppendError(t.ebuf[:0], e.Code, e.Message))
	t.ev.Outcome = outcome
	t.ev.Error = e.Message
	if detail != "" {
		t.ev.Error = detail
	}
}

// ended records a transfer cut by the client, a timeout or shutdown.
func (t *transfer) ended(err error, what string) {
	switch {
	case errors.Is(err, errTimeout):
		t.ev.Outcome = OutcomeTimeout
		t.ev.Error = fmt.Sprintf("no answer from the client %s after %d retransmissions", what, t.s.retries())
	case errors.Is(err, net.ErrClosed):
		t.ev.Outcome = OutcomeShutdown
		t.ev.Error = "cut by server shutdown"
	default:
		t.ev.Outcome = OutcomeFailed
		t.ev.Error = err.Error()
	}
}

// clientError records an ERROR packet the client sent.
func (t *transfer) clientError(b []byte, probed bool) {
	code, msg, _ := ParseErrorPacket(b)
	t.ev.Outcome = OutcomeAborted
	if probed {
		// tsize probe: the client only wanted the size (PXE firmware
		// does this; dnsmasq logs it as a failure, we do not).
		t.ev.Outcome = OutcomeProbe
	}
	t.ev.Error = fmt.Sprintf("client sent error %d: %q", code, msg)
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

// send runs a read request: negotiation, then the file in windows of
// blocks, each window resent from the first unacknowledged block on timeout.
func (t *transfer) send(req *Request, pkt Packet) {
	f, err := t.s.resolver().Open(t.s.hardCtx, req)
	if err != nil {
		e := asError(err)
		outcome := OutcomeDenied
		if e.Code == ErrFileNotFound {
			outcome = OutcomeNotFound
		}
		t.fail(outcome, e, err.Error())
		return
	}
	defer f.Close()
	if req.Mode == ModeNetascii {
		nf, err := toNetascii(f)
		if err != nil {
			t.fail(OutcomeFailed, asError(err), err.Error())
			return
		}
		f = nf
	}
	size := f.Size()
	t.ev.Size = size
	p, err := Negotiate(pkt, size, t.s.Limits)
	t.ev.Notes = p.Notes
	if err != nil {
		t.fail(OutcomeDenied, asError(err), "")
		return
	}
	t.ev.Blksize, t.ev.Windowsize = p.Blksize, p.Windowsize
	t.rtt = t.s.newRTT(p.Timeout)

	if len(p.OACK) > 0 {
		if !t.sendOACK(p) {
			return
		}
	}

	bs := int64(p.Blksize)
	window := int64(p.Windowsize)
	last := size/bs + 1 // the last block is short, possibly empty
	buf := make([]byte, headerLen+p.Blksize)
	base, next := int64(1), int64(1) // first unacknowledged, next to send
	restartedAt := int64(-1)         // window base already resent for a duplicate ACK
	highest := int64(0)              // highest block sent so far
	retries := 0
	for base <= last {
		end := min(base+window-1, last)
		fresh := next > highest // no block of this window was sent before (Karn)
		highest = max(highest, end)
		for ; next <= end; next++ {
			n := bs
			if next == last {
				n = size - (last-1)*bs
			}
			PutDataHeader(buf, t.blockNumber(next))
			if m, err := f.ReadAt(buf[headerLen:headerLen+n], (next-1)*bs); int64(m) < n {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				t.fail(OutcomeFailed, Errorf(ErrUndefined, "server read error"), "read "+req.Path+": "+err.Error())
				return
			}
			if err := t.write(buf[:headerLen+n]); err != nil {
				t.ended(err, "")
				return
			}
		}
		sentAt := time.Now()
		deadline := sentAt.Add(t.rtt.timeout())
	wait:
		for {
			b, err := t.recv(deadline)
			if errors.Is(err, errTimeout) {
				if retries >= t.s.retries() {
					t.ended(err, fmt.Sprintf("for block %d", base))
					return
				}
				retries++
				t.ev.Retransmits += int(end - base + 1)
				t.rtt.backoff()
				next = base
				break wait
			}
			if err != nil {
				t.ended(err, "")
				return
			}
			op, _ := PacketOpcode(b)
			switch op {
			case OpACK:
			case OpERROR:
				t.clientError(b, false)
				return
			default:
				t.fail(OutcomeFailed, Errorf(ErrIllegalOp, "expected an ACK, got %s", op), "")
				return
			}
			n, err := ParseAck(b)
			if err != nil {
				continue
			}
			idx, ok := t.match(n, base-1, end)
			if !ok {
				continue // an old ACK, from before a rollover or a resend
			}
			if idx == base-1 {
				// Duplicate ACK. In lock-step never resend on it (RFC 1123
				// §4.2.3.1, Sorcerer's Apprentice). With a window it is the
				// client saying the first block was lost (RFC 7440 §4):
				// resend the window, but only once per base.
				if window > 1 && restartedAt != base {
					restartedAt = base
					next = base
					break wait
				}
				continue
			}
			if fresh && idx == end {
				t.rtt.sample(time.Since(sentAt))
			}
			base = idx + 1
			t.ev.Bytes = min(idx*bs, size)
			retries = 0
			next = max(next, base)
			if idx < end {
				next = base // partial window: resend from the gap (RFC 7440 §4)
			}
			break wait
		}
	}
	t.ev.Outcome = OutcomeOK
}

// sendOACK sends the option acknowledgement until the client ACKs block 0.
func (t *transfer) sendOACK(p Params) bool {
	oack := AppendOACK(nil, p.OACK)
	probe := false
	for _, o := range p.OACK {
		probe = probe || o.Name == "tsize"
	}
	for retries := 0; ; retries++ {
		if err := t.write(oack); err != nil {
			t.ended(err, "")
			return false
		}
		sentAt := time.Now()
		deadline := sentAt.Add(t.rtt.timeout())
		for {
			b, err := t.recv(deadline)
			if errors.Is(err, errTimeout) {
				if retries >= t.s.retries() {
					t.ended(err, "to the option acknowledgement")
					return false
				}
				t.ev.Retransmits++
				t.rtt.backoff()
				break
			}
			if err != nil {
				t.ended(err, "")
				return false
			}
			op, _ := PacketOpcode(b)
			if op == OpERROR {
				t.clientError(b, probe)
				return false
			}
			if n, err := ParseAck(b); err == nil && n == 0 {
				if retries == 0 {
					t.rtt.sample(time.Since(sentAt))
				}
				return true
			}
		}
	}
}

// receive runs a write request: ACK (or OACK), then DATA blocks written to
// the Receiver's Upload, committed only after the last one.
func (t *transfer) receive(req *Request, pkt Packet) {
	p, err := Negotiate(pkt, 0, t.s.Limits)
	t.ev.Notes = p.Notes
	if err != nil {
		t.fail(OutcomeDenied, asError(err), "")
		return
	}
	t.ev.Blksize, t.ev.Windowsize, t.ev.Size = p.Blksize, p.Windowsize, p.Tsize
	t.rtt = t.s.newRTT(p.Timeout)
	up, err := t.s.Receiver.Create(t.s.hardCtx, req)
	if err != nil {
		e := asError(err)
		t.fail(OutcomeDenied, e, err.Error())
		return
	}
	committed := false
	defer func() {
		if !committed {
			up.Abort()
		}
	}()
	if req.Mode == ModeNetascii {
		up = &netasciiUpload{Upload: up}
	}

	reply := make([]byte, 0, 512)
	if len(p.OACK) > 0 {
		reply = AppendOACK(reply, p.OACK)
	} else {
		reply = AppendAck(reply, 0)
	}
	bs := p.Blksize
	window := int64(p.Windowsize)
	expected := int64(1) // next block wanted
	sinceAck := int64(0)
	nacked := false // out-of-order already answered since the last progress
	retries := 0
	var received int64
	if err := t.write(reply); err != nil {
		t.ended(err, "")
		return
	}
	deadline := time.Now().Add(t.rtt.timeout())
	for {
		b, err := t.recv(deadline)
		if errors.Is(err, errTimeout) {
			if retries >= t.s.retries() {
				t.ended(err, fmt.Sprintf("for block %d", expected))
				return
			}
			retries++
			t.ev.Retransmits++
			t.rtt.backoff()
			t.write(reply)
			deadline = time.Now().Add(t.rtt.timeout())
			continue
		}
		if err != nil {
			t.ended(err, "")
			return
		}
		op, _ := PacketOpcode(b)
		switch op {
		case OpDATA:
		case OpERROR:
			t.clientError(b, false)
			return
		default:
			t.fail(OutcomeFailed, Errorf(ErrIllegalOp, "expected DATA, got %s", op), "")
			return
		}
		n, payload, err := ParseData(b)
		if err != nil {
			continue
		}
		if n != t.blockNumber(expected) {
			// Duplicate or out of order: ACK the last block in order, once
			// until progress (RFC 7440 §4; RFC 1350 re-ACK of a duplicate).
			if !nacked {
				reply = AppendAck(reply[:0], t.blockNumber(expected-1))
				t.write(reply)
				nacked = true
			}
			continue
		}
		if len(payload) > bs {
			t.fail(OutcomeFailed, Errorf(ErrIllegalOp, "block %d has %d bytes, more than the block size %d", expected, len(payload), bs), "")
			return
		}
		received += int64(len(payload))
		if lim := t.s.Limits.MaxUpload; lim > 0 && received > lim {
			t.fail(OutcomeFailed, Errorf(ErrDiskFull, "upload is over the limit of %d bytes", lim), "")
			return
		}
		if _, err := up.Write(payload); err != nil {
			t.fail(OutcomeFailed, Errorf(ErrDiskFull, "cannot store the file"), "write: "+err.Error())
			return
		}
		t.ev.Bytes = received
		nacked, retries = false, 0
		expected++
		sinceAck++
		final := len(payload) < bs
		if final {
			if err := up.Commit(); err != nil {
				t.fail(OutcomeFailed, asError(err), "commit: "+err.Error())
				return
			}
			committed = true
			t.ev.Size = received
			reply = AppendAck(reply[:0], t.blockNumber(expected-1))
			t.write(reply)
			t.dally(b[:headerLen], reply)
			t.ev.Outcome = OutcomeOK
			return
		}
		if sinceAck >= window {
			sinceAck = 0
			reply = AppendAck(reply[:0], t.blockNumber(expected-1))
			t.write(reply)
		}
		deadline = time.Now().Add(t.rtt.timeout())
	}
}

// dally waits after the final ACK in case it was lost: a retransmitted last
// DATA is ACKed again (RFC 1350 §6).
func (t *transfer) dally(lastHeader, ack []byte) {
	header := [headerLen]byte(lastHeader)
	deadline := time.Now().Add(min(2*t.rtt.timeout(), t.s.maxTimeout()))
	for range t.s.retries() {
		b, err := t.recv(deadline)
		if err != nil {
			return
		}
		if len(b) >= headerLen && [headerLen]byte(b[:headerLen]) == header {
			t.write(ack)
		}
	}
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
	return r
}

// rtt is the adaptive retransmission timeout of RFC 1123 §4.2.3.2, computed
// like TCP's (RFC 6298): smoothed RTT plus four deviations, doubled on each
// retransmission, never sampled from a retransmitted packet (Karn).
type rtt struct {
	srtt, rttvar time.Duration
	rto          time.Duration
	min, max     time.Duration
	fixed        bool // the client set the timeout option
}

func (r *rtt) timeout() time.Duration { return r.rto }

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
	r.rto = min(max(r.srtt+4*r.rttvar, r.min), r.max)
}

func (r *rtt) backoff() {
	if !r.fixed {
		r.rto = min(2*r.rto, r.max)
	}
}
