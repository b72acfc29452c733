// Package tftptest is a TFTP client for tests and load generation: it
// fetches and stores files like a phone would, with optional simulated
// packet loss, and reports what the transfer negotiated and cost.
//
// A transfer is one goroutine and one socket; the per-packet path makes no
// allocations, so tens of thousands of concurrent transfers stay cheap
// enough that the client is not what a benchmark measures.
package tftptest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"phoneboot/internal/tftp"
)

// Client holds the settings of transfers. A Client may be used by several
// goroutines at once; it is not changed by a transfer.
type Client struct {
	Server netip.AddrPort
	// Local is the source address to bind; the zero value means any. A
	// load generator gives each simulated phone its own loopback address.
	Local netip.Addr
	// Blksize and Windowsize are requested as options when non-zero
	// (RFC 2348, RFC 7440); Tsize asks for the file size (RFC 2349).
	Blksize, Windowsize int
	Tsize               bool
	// Timeout is how long to wait for the server before sending the last
	// packet again; 0 means 1s. Retries bounds those resends; 0 means 5.
	Timeout time.Duration
	Retries int
	// Loss is the fraction (0..1) of DATA packets received that are thrown
	// away and of ACKs that are not sent, drawn from a generator seeded
	// with Seed: a lossy network in both directions, reproducibly.
	Loss float64
	Seed int64
	// RolloverToOne numbers blocks 65535, 1, 2… instead of 65535, 0, 1…
	RolloverToOne bool
	// Mode is the transfer mode asked for; "" means octet. In netascii
	// mode the bytes are delivered as they travel (CR LF, CR NUL): the
	// client does not convert them.
	Mode tftp.Mode
}

// Stats describe one transfer.
type Stats struct {
	Bytes    int64         // payload bytes delivered
	Duration time.Duration // from the request to the last block
	Timeouts int           // times the client had to send again
	Lost     int           // packets thrown away or not sent to simulate Loss
	// Unexpected counts DATA blocks other than the next one wanted:
	// duplicates (the server resent, needlessly or not) and blocks after a
	// gap. It shows a server's retransmissions from the outside.
	Unexpected int
	// Negotiated values; 512 and 1 when the server ignored the options.
	Blksize, Windowsize int
	// Tsize is the size announced by the server, -1 when it did not.
	Tsize int64
}

// Error is an ERROR packet received from the server.
type Error struct {
	Code    tftp.ErrorCode
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tftp: server sent error %d: %q", e.Code, e.Message)
}

var errTimeout = errors.New("timeout")

// session is the state of one transfer, owned by its goroutine.
type session struct {
	c     *Client
	ctx   context.Context
	conn  *net.UDPConn
	peer  netip.AddrPort // the server's TID once known
	known bool
	// connected: the socket is connected to peer, so sends carry no
	// address and reuse the socket's cached route.
	connected bool
	timeout   time.Duration
	retries   int
	rng       *rand.Rand
	// armed is the read deadline set on the socket. Resetting it for every
	// packet costs a timer update each time; instead it is moved only when
	// it fires early, so a transfer touches it about once per timeout.
	armed time.Time
	buf   *[]byte
	out   []byte // the request, or the DATA being sent by Put
	ack   [4]byte
	errb  [64]byte
	stats Stats
}

// bufPool holds receive buffers for the usual block sizes (up to 1468, the
// largest that fits an Ethernet frame), which is what a storm of thousands
// of transfers uses.
var bufPool = sync.Pool{New: func() any { b := make([]byte, pooledBuf); return &b }}

const pooledBuf = 4 + 2048

func (c *Client) open(ctx context.Context, blksize int) (*session, error) {
	if !c.Server.IsValid() {
		return nil, errors.New("tftptest: Client.Server is not set")
	}
	server := netip.AddrPortFrom(c.Server.Addr().Unmap(), c.Server.Port())
	network := "udp4"
	if server.Addr().Is6() {
		network = "udp6"
	}
	var laddr *net.UDPAddr
	if c.Local.IsValid() {
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Local.Unmap(), 0))
	}
	conn, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	s := &session{c: c, ctx: ctx, conn: conn, peer: server, timeout: c.Timeout, retries: c.Retries}
	if s.timeout <= 0 {
		s.timeout = time.Second
	}
	if s.retries <= 0 {
		s.retries = 5
	}
	if c.Loss > 0 {
		s.rng = rand.New(rand.NewPCG(uint64(c.Seed), 0x7466747074657374))
	}
	need := 4 + max(blksize, tftp.DefaultBlksize) + 1 // +1 spots an oversized block
	if need <= pooledBuf {
		s.buf = bufPool.Get().(*[]byte)
	} else {
		b := make([]byte, need)
		s.buf = &b
	}
	s.out = make([]byte, 0, 512)
	return s, nil
}

func (s *session) close() {
	s.conn.Close()
	if len(*s.buf) == pooledBuf {
		bufPool.Put(s.buf)
	}
}

// lose draws whether the next packet is lost.
func (s *session) lose() bool {
	if s.rng != nil && s.rng.Float64() < s.c.Loss {
		s.stats.Lost++
		return true
	}
	return false
}

// lockPeer fixes the server's TID and connects the socket to it, so the
// kernel drops strays and sends without a route lookup per packet. When
// connecting fails the source check in recv still filters.
func (s *session) lockPeer(from netip.AddrPort) {
	s.peer, s.known = from, true
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return
	}
	var sa syscall.Sockaddr
	if a := from.Addr(); a.Is4() {
		sa = &syscall.SockaddrInet4{Port: int(from.Port()), Addr: a.As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: int(from.Port()), Addr: a.As16()}
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = syscall.Connect(int(fd), sa) }); err == nil && cerr == nil {
		s.connected = true
	}
}

func (s *session) send(b []byte) error {
	var err error
	if s.connected {
		_, err = s.conn.Write(b)
	} else {
		_, err = s.conn.WriteToUDPAddrPort(b, s.peer)
	}
	if err != nil && s.ctx.Err() != nil {
		return s.ctx.Err()
	}
	return err
}

func (s *session) sendAck(block uint16) error {
	if s.lose() {
		return nil
	}
	return s.send(tftp.AppendAck(s.ack[:0], block))
}

// recv returns the next datagram from the server, or errTimeout when none
// came by since+timeout. Before the TID is known any port of the server's
// address is accepted; the first packet fixes it.
func (s *session) recv(since time.Time) ([]byte, error) {
	due := since.Add(s.timeout)
	buf := *s.buf
	for {
		if s.armed.IsZero() || s.armed.After(due) {
			if err := s.ctx.Err(); err != nil {
				return nil, err
			}
			s.conn.SetReadDeadline(due)
			s.armed = due
		}
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, s.ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.armed = time.Time{}
				if time.Now().Before(due) {
					continue // the deadline was an older, earlier one
				}
				return nil, errTimeout
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				return nil, errors.New("tftp: the server's transfer port is closed (ICMP port unreachable)")
			}
			return nil, err
		}
		if s.rng != nil && n >= 2 {
			// Loss is decided before anything else looks at the packet, so
			// a lost first block does not fix the TID either.
			if op := tftp.Opcode(binary.BigEndian.Uint16(buf)); (op == tftp.OpDATA || op == tftp.OpACK) && s.lose() {
				continue
			}
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if s.known {
			if from != s.peer {
				continue // wrong TID (RFC 1350 §4): not ours
			}
		} else {
			if from.Addr() != s.peer.Addr() {
				continue
			}
			s.lockPeer(from)
		}
		return buf[:n], nil
	}
}

// blockNumber is the wire number of absolute block idx.
func (c *Client) mode() tftp.Mode {
	if c.Mode == "" {
		return tftp.ModeOctet
	}
	return c.Mode
}

func (c *Client) blockNumber(idx int64) uint16 {
	if c.RolloverToOne && idx > 0 {
		return uint16((idx-1)%65535 + 1)
	}
	return uint16(idx)
}

func (c *Client) options(size int64) []tftp.Option {
	var opts []tftp.Option
	if c.Blksize > 0 {
		opts = append(opts, tftp.Option{Name: "blksize", Value: strconv.Itoa(c.Blksize)})
	}
	if c.Windowsize > 0 {
		opts = append(opts, tftp.Option{Name: "windowsize", Value: strconv.Itoa(c.Windowsize)})
	}
	if c.Tsize {
		opts = append(opts, tftp.Option{Name: "tsize", Value: strconv.FormatInt(max(size, 0), 10)})
	}
	return opts
}

// applyOACK checks the server's answer against what was asked (RFC 2347: a
// server may only lower values) and records the result.
func (s *session) applyOACK(b []byte) error {
	opts, err := tftp.ParseOACK(b)
	if err != nil {
		return err
	}
	c := s.c
	for _, o := range opts {
		n, err := strconv.ParseInt(o.Value, 10, 64)
		if err != nil {
			return fmt.Errorf("tftp: OACK option %s has value %q", o.Name, o.Value)
		}
		switch strings.ToLower(o.Name) {
		case "blksize":
			if c.Blksize == 0 || n < tftp.MinBlksize || n > int64(c.Blksize) {
				return fmt.Errorf("tftp: server answered blksize %d to a request for %d", n, c.Blksize)
			}
			s.stats.Blksize = int(n)
		case "windowsize":
			if c.Windowsize == 0 || n < 1 || n > int64(c.Windowsize) {
				return fmt.Errorf("tftp: server answered windowsize %d to a request for %d", n, c.Windowsize)
			}
			s.stats.Windowsize = int(n)
		case "tsize":
			if !c.Tsize {
				return errors.New("tftp: server answered tsize, which was not requested")
			}
			s.stats.Tsize = n
		case "timeout":
			return errors.New("tftp: server answered timeout, which was not requested")
		}
	}
	return nil
}

// abort tells the server why the client gives up. Best effort.
func (s *session) abort(code tftp.ErrorCode, msg string) {
	if s.known {
		s.send(tftp.AppendError(s.errb[:0], code, msg))
	}
}

// serverError turns an ERROR packet into an *Error.
func serverError(b []byte) error {
	code, msg, err := tftp.ParseErrorPacket(b)
	if err != nil {
		return err
	}
	return &Error{Code: code, Message: msg}
}

func (s *session) watch() (stop func() bool) {
	return context.AfterFunc(s.ctx, func() { s.conn.SetReadDeadline(time.Unix(1, 0)) })
}

// Get reads the file name from the server into w.
func (c *Client) Get(ctx context.Context, name string, w io.Writer) (Stats, error) {
	start := time.Now()
	s, err := c.open(ctx, c.Blksize)
	if err != nil {
		return Stats{}, err
	}
	defer s.close()
	defer s.watch()()
	s.stats = Stats{Blksize: tftp.DefaultBlksize, Windowsize: 1, Tsize: -1}
	opts := c.options(0)
	s.out = tftp.AppendRequest(s.out[:0], tftp.OpRRQ, name, c.mode(), opts...)
	err = s.get(w, start, len(opts) > 0)
	if s.stats.Duration == 0 {
		s.stats.Duration = time.Since(start)
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (after %d bytes)", ctx.Err(), s.stats.Bytes)
	}
	return s.stats, err
}

func (s *session) get(w io.Writer, start time.Time, askedOptions bool) error {
	c := s.c
	if err := s.send(s.out); err != nil {
		return err
	}
	var (
		expected  = int64(1) // absolute number of the next block wanted
		sinceAck  = 0        // in-order blocks since the last ACK
		nacked    = false    // out-of-order already answered since progress
		oackSeen  = false
		lastAcked = false // the last packet sent is an ACK, not the request
		retries   = 0
		since     = time.Now()
	)
	for {
		b, err := s.recv(since)
		if errors.Is(err, errTimeout) {
			if retries >= s.retries {
				what := "the request"
				if lastAcked {
					what = "block " + strconv.FormatInt(expected, 10)
				}
				s.abort(tftp.ErrUndefined, "client timed out")
				return fmt.Errorf("tftp: timed out waiting for %s (%d retries of %v)", what, retries, s.timeout)
			}
			retries++
			s.stats.Timeouts++
			sinceAck = 0
			if lastAcked {
				err = s.sendAck(c.blockNumber(expected - 1))
			} else {
				err = s.send(s.out)
			}
			if err != nil {
				return err
			}
			since = time.Now()
			continue
		}
		if err != nil {
			return err
		}
		op, _ := tftp.PacketOpcode(b)
		switch op {
		case tftp.OpDATA:
		case tftp.OpOACK:
			if expected != 1 {
				continue // a late duplicate; the transfer has moved on
			}
			if !askedOptions {
				s.abort(tftp.ErrOptionRefused, "no options were requested")
				return errors.New("tftp: server sent an OACK to a request without options")
			}
			if !oackSeen {
				if err := s.applyOACK(b); err != nil {
					s.abort(tftp.ErrOptionRefused, err.Error())
					return err
				}
				oackSeen = true
			}
			// ACK 0 again for a resent OACK: ours was lost.
			lastAcked = true
			if err := s.sendAck(0); err != nil {
				return err
			}
			since = time.Now()
			continue
		case tftp.OpERROR:
			return serverError(b)
		default:
			s.abort(tftp.ErrIllegalOp, "expected DATA")
			return fmt.Errorf("tftp: expected DATA from the server, got %s", op)
		}
		n, payload, _ := tftp.ParseData(b)
		if n != c.blockNumber(expected) {
			s.stats.Unexpected++
			// A duplicate (our ACK was lost) or a block after a gap: ACK
			// the last block in order, once until progress (RFC 7440 §4).
			if !nacked {
				nacked, sinceAck, lastAcked = true, 0, true
				if err := s.sendAck(c.blockNumber(expected - 1)); err != nil {
					return err
				}
			}
			continue
		}
		bs := s.stats.Blksize
		if len(payload) > bs {
			s.abort(tftp.ErrIllegalOp, "block larger than the block size")
			return fmt.Errorf("tftp: block %d has %d bytes, more than the block size %d", expected, len(payload), bs)
		}
		if _, err := w.Write(payload); err != nil {
			s.abort(tftp.ErrDiskFull, "client cannot store the data")
			return fmt.Errorf("tftp: writing block %d: %w", expected, err)
		}
		s.stats.Bytes += int64(len(payload))
		expected++
		sinceAck++
		nacked, retries, lastAcked = false, 0, true
		since = time.Now()
		if len(payload) < bs {
			s.stats.Duration = since.Sub(start)
			if s.lose() {
				s.dally(b[:4])
				return nil
			}
			return s.send(tftp.AppendAck(s.ack[:0], n))
		}
		if sinceAck >= s.stats.Windowsize {
			sinceAck = 0
			if err := s.sendAck(n); err != nil {
				return err
			}
		}
	}
}

// dally stands in for a final ACK that was lost: the server sends the last
// block again, and it gets ACKed until one ACK goes through (RFC 1350 §6).
// The data is complete, so running out of time here is not an error.
func (s *session) dally(header []byte) {
	last := [4]byte(header)
	block := binary.BigEndian.Uint16(last[2:])
	since := time.Now()
	for range s.retries + 1 {
		b, err := s.recv(since)
		if err != nil {
			return
		}
		if len(b) < 4 || [4]byte(b[:4]) != last {
			continue
		}
		since = time.Now()
		if !s.lose() {
			s.send(tftp.AppendAck(s.ack[:0], block))
			return
		}
	}
}

// Put writes size bytes read from r to the server as the file name, in
// lock-step. size is announced with tsize when Tsize is set; r must then
// hold exactly that many bytes. Windowsize is not used.
func (c *Client) Put(ctx context.Context, name string, r io.Reader, size int64) (Stats, error) {
	start := time.Now()
	s, err := c.open(ctx, 0)
	if err != nil {
		return Stats{}, err
	}
	defer s.close()
	defer s.watch()()
	s.stats = Stats{Blksize: tftp.DefaultBlksize, Windowsize: 1, Tsize: -1}
	pc := *c
	pc.Windowsize = 0
	opts := pc.options(size)
	req := tftp.AppendRequest(nil, tftp.OpWRQ, name, c.mode(), opts...)
	err = s.put(&pc, r, req, len(opts) > 0)
	s.stats.Duration = time.Since(start)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (after %d bytes)", ctx.Err(), s.stats.Bytes)
	}
	return s.stats, err
}

func (s *session) put(c *Client, r io.Reader, req []byte, askedOptions bool) error {
	// Until the server answers, the packet to resend is the request and the
	// answer wanted is ACK 0 or an OACK.
	pkt := req
	block := int64(0)
	last := false
	var data []byte
	for {
		if !s.lose() || block == 0 {
			if err := s.send(pkt); err != nil {
				return err
			}
		}
		since := time.Now()
		retries := 0
	wait:
		for {
			b, err := s.recv(since)
			if errors.Is(err, errTimeout) {
				if retries >= s.retries {
					s.abort(tftp.ErrUndefined, "client timed out")
					return fmt.Errorf("tftp: timed out waiting for the ACK of block %d (%d retries of %v)", block, retries, s.timeout)
				}
				retries++
				s.stats.Timeouts++
				if block == 0 || !s.lose() {
					if err := s.send(pkt); err != nil {
						return err
					}
				}
				since = time.Now()
				continue
			}
			if err != nil {
				return err
			}
			op, _ := tftp.PacketOpcode(b)
			switch op {
			case tftp.OpACK:
				if len(b) >= 4 && binary.BigEndian.Uint16(b[2:]) == c.blockNumber(block) {
					break wait
				}
				// An older ACK: never resend on it (Sorcerer's Apprentice).
			case tftp.OpOACK:
				if block != 0 {
					continue
				}
				if !askedOptions {
					s.abort(tftp.ErrOptionRefused, "no options were requested")
					return errors.New("tftp: server sent an OACK to a request without options")
				}
				if err := s.applyOACK(b); err != nil {
					s.abort(tftp.ErrOptionRefused, err.Error())
					return err
				}
				break wait
			case tftp.OpERROR:
				return serverError(b)
			default:
				s.abort(tftp.ErrIllegalOp, "expected an ACK")
				return fmt.Errorf("tftp: expected an ACK from the server, got %s", op)
			}
		}
		if block > 0 {
			s.stats.Bytes += int64(len(pkt) - 4)
		}
		if last {
			return nil
		}
		if data == nil {
			data = make([]byte, 4+s.stats.Blksize)
		}
		block++
		n, err := io.ReadFull(r, data[4:])
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			last = true
		case err != nil:
			s.abort(tftp.ErrUndefined, "client cannot read the data")
			return fmt.Errorf("tftp: reading block %d: %w", block, err)
		}
		binary.BigEndian.PutUint16(data, uint16(tftp.OpDATA))
		binary.BigEndian.PutUint16(data[2:], c.blockNumber(block))
		pkt = data[:4+n]
	}
}
