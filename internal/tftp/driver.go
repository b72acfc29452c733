package tftp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"
)

// driver runs transfer state machines: it owns their sockets and decides
// when handle and expire are called.
type driver interface {
	// open creates the transfer's socket on local and sets t.conn.
	open(t *transfer, local netip.Addr) error
	// start runs t (begin, then handle/expire) until it is done, then
	// calls s.transferDone(t).
	start(t *transfer)
	// stop releases the driver once no transfer runs.
	stop()
}

// goroutineDriver runs each transfer on its own goroutine with a
// net.UDPConn: portable, and the reference the epoll driver is tested
// against.
type goroutineDriver struct{ s *Server }

type udpTransferConn struct {
	c      *net.UDPConn
	remote netip.AddrPort
}

func (u *udpTransferConn) send(b []byte) error {
	_, err := u.c.WriteToUDPAddrPort(b, u.remote)
	return err
}

func (u *udpTransferConn) sendBatch(b []byte, seg int) error {
	return sendEach(u.send, b, seg)
}

// sendEach sends the datagrams of a batch one by one. A datagram the
// kernel drops (full buffer) does not stop the rest: it is retransmitted
// after the timeout like any lost packet.
func sendEach(send func([]byte) error, b []byte, seg int) error {
	for off := 0; off < len(b); off += seg {
		if err := send(b[off:min(off+seg, len(b))]); err != nil && !isTransient(err) {
			return err
		}
	}
	return nil
}

func (u *udpTransferConn) sendTo(b []byte, to netip.AddrPort) { u.c.WriteToUDPAddrPort(b, to) }

func (u *udpTransferConn) close() { u.c.Close() }

func (d goroutineDriver) open(t *transfer, local netip.Addr) error {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: local.AsSlice(), Zone: local.Zone()})
	if err != nil {
		return err
	}
	t.conn = &udpTransferConn{c: c, remote: t.remote}
	return nil
}

func (d goroutineDriver) start(t *transfer) {
	go func() {
		c := t.conn.(*udpTransferConn).c
		stop := context.AfterFunc(d.s.hardCtx, func() { c.Close() })
		defer stop()
		defer c.Close()
		// Large enough for a DATA block of the biggest blksize (uploads).
		buf := make([]byte, headerLen+max(t.bs, 1024))
		t.scratch = make([]byte, headerLen+t.bs)
		t.begin(time.Now())
		for !t.done {
			c.SetReadDeadline(t.deadline)
			n, from, err := c.ReadFromUDPAddrPort(buf)
			now := time.Now()
			switch {
			case err == nil:
				t.handle(buf[:n], unmap(from), now)
			case errors.Is(err, os.ErrDeadlineExceeded):
				t.expire(now)
			case errors.Is(err, net.ErrClosed):
				t.ended(net.ErrClosed, "")
			default:
				t.ended(err, "")
			}
		}
		d.s.transferDone(t)
	}()
}

func (goroutineDriver) stop() {}
