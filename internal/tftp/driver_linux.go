//go:build linux

package tftp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"phoneboot/internal/reactor"
)

// epollDriver runs transfers on one reactor loop per CPU: per block one
// recv and one send on a non-blocking socket, no goroutine switch, no lock.
// This is what lets a boot storm of thousands of phones cost less CPU than
// servers written in C (docs/benchmarks.md).
type epollDriver struct {
	s       *Server
	workers []*worker
	next    atomic.Uint32
	unwatch func() bool
	// strayMax is how many transfers may hold a second (stray) socket:
	// half the open-file limit, so that when descriptors run short the
	// transfers themselves still get one.
	strayMax  int64
	warnStray sync.Once
}

// worker is a reactor loop with the buffers its transfers share: a
// transfer only uses them during a call from the loop.
type worker struct {
	loop *reactor.Loop
	rbuf []byte
	sbuf []byte
}

func newDriver(s *Server) driver {
	d := &epollDriver{s: s, strayMax: 1 << 30}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < 1<<31 {
		d.strayMax = int64(lim.Cur)/2 - 128
	}
	for range runtime.GOMAXPROCS(0) {
		loop, err := reactor.New()
		if err != nil {
			s.Logger.Warn("tftp: epoll unavailable, using one goroutine per transfer", "err", err)
			d.stop()
			return goroutineDriver{s: s}
		}
		w := &worker{loop: loop, rbuf: make([]byte, MaxBlksize+headerLen+1), sbuf: make([]byte, MaxBlksize+headerLen)}
		d.workers = append(d.workers, w)
		go func() {
			if err := loop.Run(); err != nil {
				s.Logger.Error("tftp: epoll failed; the transfers on one worker were cut", "err", err)
			}
		}()
	}
	d.unwatch = context.AfterFunc(s.hardCtx, func() {
		for _, w := range d.workers {
			w.loop.Post(func() {
				w.loop.Sweep(func(h reactor.Handler) {
					if t := h.(*loopTransfer); !t.done {
						t.ended(net.ErrClosed, "")
					}
				})
			})
		}
	})
	return d
}

func (d *epollDriver) open(t *transfer, local netip.Addr) error {
	withStray := d.s.nactive.Load() <= d.strayMax
	c, err := newFDConn(local, t.remote, withStray)
	if err != nil {
		return err
	}
	if !withStray {
		d.warnStray.Do(func() {
			d.s.Logger.Warn("tftp: open files are running short: new transfers answer datagrams from a wrong port with ICMP instead of TFTP error 5; raise the open-file limit (ulimit -n, LimitNOFILE=)",
				"transfers", d.s.nactive.Load())
		})
	}
	t.conn = c
	return nil
}

func (d *epollDriver) start(t *transfer) {
	w := d.workers[d.next.Add(1)%uint32(len(d.workers))]
	lt := &loopTransfer{transfer: t, w: w}
	w.loop.Post(func() {
		c := t.conn.(*fdConn)
		t.scratch = w.sbuf
		t.begin(time.Now())
		if err := w.loop.Add(lt, c.fd, c.stray); err != nil {
			t.ended(err, "")
			lt.Close()
		}
	})
}

func (d *epollDriver) stop() {
	if d.unwatch != nil {
		d.unwatch()
	}
	for _, w := range d.workers {
		w.loop.Stop()
	}
}

// loopTransfer runs a transfer as a reactor.Handler.
type loopTransfer struct {
	*transfer
	w *worker
}

func (lt *loopTransfer) Readable(fd int, now time.Time) {
	c := lt.conn.(*fdConn)
	var n int
	var err error
	from := lt.remote
	if fd == c.fd {
		n, err = c.recv(lt.w.rbuf)
	} else {
		n, from, err = c.recvStray(lt.w.rbuf)
	}
	switch {
	case err == nil:
		lt.handle(lt.w.rbuf[:n], from, now)
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNREFUSED):
		// Nothing after all, or an ICMP error about an earlier datagram,
		// which counts as a loss.
	default:
		lt.ended(err, "")
	}
}

func (lt *loopTransfer) Expire(now time.Time) { lt.expire(now) }
func (lt *loopTransfer) Deadline() time.Time  { return lt.deadline }
func (lt *loopTransfer) Done() bool           { return lt.done }

func (lt *loopTransfer) Close() {
	if !lt.done {
		lt.ended(net.ErrClosed, "")
	}
	lt.conn.close()
	lt.scratch = nil
	lt.s.transferDone(lt.transfer)
}

// fdConn is a transfer's pair of non-blocking UDP sockets on one port:
// fd is connected to the client, so the kernel keeps its route and the hot
// path skips the routing lookup on every send; stray, bound to the same
// port with SO_REUSEADDR but not connected, receives what the kernel does
// not hand to fd: datagrams from any other address or port, which get
// ERROR 5 (RFC 1350 §4). The kernel prefers the connected socket for the
// client's datagrams. Without stray (file descriptors running short), the
// kernel answers strays with ICMP port unreachable instead.
type fdConn struct {
	fd     int
	stray  int
	family int
	noGSO  bool // the kernel refused UDP GSO once: send one by one
	msg    unix.Msghdr
	iov    unix.Iovec
	cmsg   [32]byte
}

func newFDConn(local netip.Addr, remote netip.AddrPort, withStray bool) (_ *fdConn, err error) {
	c := &fdConn{fd: -1, stray: -1, family: unix.AF_INET6}
	if local.Is4() {
		c.family = unix.AF_INET
	}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.fd, err = newUDPSocket(c.family); err != nil {
		return nil, err
	}
	scope := zoneIndex(local.Zone())
	bindAddr := func(port int) unix.Sockaddr {
		if c.family == unix.AF_INET {
			return &unix.SockaddrInet4{Addr: local.As4(), Port: port}
		}
		return &unix.SockaddrInet6{Addr: local.As16(), Port: port, ZoneId: scope}
	}
	// Bind first without SO_REUSEADDR so the kernel picks a port nobody
	// uses, then allow the stray socket to share it.
	if err = unix.Bind(c.fd, bindAddr(0)); err != nil {
		return nil, err
	}
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return nil, err
	}
	port := 0
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		port = sa.Port
	case *unix.SockaddrInet6:
		port = sa.Port
	}
	if err = unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, err
	}
	var peer unix.Sockaddr
	if c.family == unix.AF_INET {
		peer = &unix.SockaddrInet4{Addr: remote.Addr().As4(), Port: int(remote.Port())}
	} else {
		zone := zoneIndex(remote.Addr().Zone())
		if zone == 0 {
			zone = scope
		}
		peer = &unix.SockaddrInet6{Addr: remote.Addr().As16(), Port: int(remote.Port()), ZoneId: zone}
	}
	if err = unix.Connect(c.fd, peer); err != nil {
		return nil, err
	}
	if withStray {
		// Best effort: without it the transfer still works.
		c.stray = newStray(c.family, bindAddr(port))
	}
	return c, nil
}

func newStray(family int, addr unix.Sockaddr) int {
	fd, err := newUDPSocket(family)
	if err != nil {
		return -1
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) != nil || unix.Bind(fd, addr) != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

func newUDPSocket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
}

func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.Atoi(zone); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

func (c *fdConn) send(b []byte) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (c *fdConn) sendBatch(b []byte, seg int) error {
	if len(b) <= seg || c.noGSO {
		return sendEach(c.send, b, seg)
	}
	c.iov.Base = unsafe.SliceData(b)
	c.iov.SetLen(len(b))
	c.msg.Iov = &c.iov
	c.msg.SetIovlen(1)
	// One control message: UDP_SEGMENT with the segment size (uint16).
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c.cmsg[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&c.cmsg[unix.CmsgLen(0)])) = uint16(seg)
	c.msg.Control = &c.cmsg[0]
	c.msg.SetControllen(unix.CmsgSpace(2))
	_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.msg)), 0)
	switch errno {
	case 0:
		return nil
	case unix.EINVAL, unix.EIO, unix.ENOPROTOOPT, unix.EOPNOTSUPP:
		// No GSO here (old kernel, a device or path that cannot do it):
		// remember and fall back, without losing this batch.
		c.noGSO = true
		return sendEach(c.send, b, seg)
	}
	return errno
}

func (c *fdConn) sendTo(b []byte, to netip.AddrPort) {
	if c.stray < 0 {
		return
	}
	if c.family == unix.AF_INET && to.Addr().Is4() {
		unix.Sendto(c.stray, b, 0, &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()})
	} else if c.family == unix.AF_INET6 {
		unix.Sendto(c.stray, b, 0, &unix.SockaddrInet6{Port: int(to.Port()), Addr: to.Addr().As16(), ZoneId: zoneIndex(to.Addr().Zone())})
	}
}

func (c *fdConn) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
	}
	if c.stray >= 0 {
		unix.Close(c.stray)
	}
}

// recv reads one datagram from the client's connected socket.
func (c *fdConn) recv(b []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(c.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// recvStray reads one datagram that came from someone else than the client.
func (c *fdConn) recvStray(b []byte) (int, netip.AddrPort, error) {
	n, from, err := unix.Recvfrom(c.stray, b, 0)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		return n, netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		return n, netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port)), nil
	}
	return n, netip.AddrPort{}, nil
}
