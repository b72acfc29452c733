//go:build linux

package tftp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epollDriver runs transfers on one worker per CPU. A worker waits for all
// of its transfers' sockets at once in epoll and calls the state machines
// directly: per block one recvfrom and one sendto on a non-blocking socket,
// no goroutine switch, no lock. This is what lets a boot storm of thousands
// of phones cost less CPU than servers written in C (docs/benchmarks.md).
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

func newDriver(s *Server) driver {
	d := &epollDriver{s: s, strayMax: 1 << 30}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < 1<<31 {
		d.strayMax = int64(lim.Cur)/2 - 128
	}
	for range runtime.GOMAXPROCS(0) {
		w, err := newWorker(s)
		if err != nil {
			s.Logger.Warn("tftp: epoll unavailable, using one goroutine per transfer", "err", err)
			for _, w := range d.workers {
				w.stop()
			}
			return goroutineDriver{s: s}
		}
		d.workers = append(d.workers, w)
		go w.run()
	}
	d.unwatch = context.AfterFunc(s.hardCtx, func() {
		for _, w := range d.workers {
			w.notify(func(w *worker) { w.abort = true })
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
	t.conn, t.fd = c, c.fd
	return nil
}

func (d *epollDriver) start(t *transfer) {
	w := d.workers[d.next.Add(1)%uint32(len(d.workers))]
	w.notify(func(w *worker) { w.pending = append(w.pending, t) })
}

func (d *epollDriver) stop() {
	d.unwatch()
	for _, w := range d.workers {
		w.stop()
	}
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

// worker owns an epoll instance and the transfers on it. Only its own
// goroutine touches them; other goroutines hand work over through notify.
type worker struct {
	s      *Server
	epfd   int
	ep     *os.File        // epfd, registered in Go's own netpoller
	epRaw  syscall.RawConn // to park on it
	efd    int             // eventfd that wakes the worker for notify
	byFD   []*transfer     // by socket fd (both of a transfer's sockets)
	timers timerHeap
	events []unix.EpollEvent
	rbuf   []byte
	sbuf   []byte
	count  int                // transfers on this worker
	pollFn func(uintptr) bool // w.poll, made once
	ready  int                // results of the last poll
	errno  unix.Errno

	mu      sync.Mutex // guards what notify changes:
	pending []*transfer
	abort   bool // cut every transfer (shutdown deadline)
	quit    bool // exit once no transfer is left
	exited  chan struct{}
}

func newWorker(s *Server) (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, err
	}
	// The worker never blocks inside a system call: that would hand its P
	// to another thread and keep Go's sysmon polling every 20µs. Instead
	// the epoll fd itself is parked on in Go's netpoller (epoll nests) and
	// every call on the hot path is a non-blocking raw system call.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, err
	}
	ep := os.NewFile(uintptr(epfd), "tftp-epoll")
	raw, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		unix.Close(efd)
		return nil, err
	}
	w := &worker{
		s: s, epfd: epfd, ep: ep, epRaw: raw, efd: efd,
		events: make([]unix.EpollEvent, 256),
		rbuf:   make([]byte, MaxBlksize+headerLen+1),
		sbuf:   make([]byte, MaxBlksize+headerLen),
		exited: make(chan struct{}),
	}
	w.pollFn = w.poll
	return w, nil
}

var eventfdOne = [8]byte{1}

// notify runs change under the worker's lock and wakes it up.
func (w *worker) notify(change func(*worker)) {
	w.mu.Lock()
	change(w)
	w.mu.Unlock()
	unix.Write(w.efd, eventfdOne[:])
}

func (w *worker) stop() {
	w.notify(func(w *worker) { w.quit = true })
	<-w.exited
}

func (w *worker) run() {
	defer close(w.exited)
	defer w.ep.Close()
	defer unix.Close(w.efd)
	for {
		n, err := w.wait()
		if err != nil {
			w.s.Logger.Error("tftp: epoll_wait failed; transfers on this worker are cut", "err", err)
			w.abortAll()
			return
		}
		now := time.Now()
		for _, ev := range w.events[:max(n, 0)] {
			if int(ev.Fd) == w.efd {
				if w.wake(now) {
					return
				}
				continue
			}
			if int(ev.Fd) < len(w.byFD) {
				if t := w.byFD[ev.Fd]; t != nil {
					w.readable(t, int(ev.Fd), now)
				}
			}
		}
		w.expire(now)
	}
}

// wait returns the number of ready events, parking in Go's netpoller until
// there are some or the earliest deadline passed (then n is 0).
func (w *worker) wait() (int, error) {
	if w.poll(0) {
		return w.ready, errnoErr(w.errno)
	}
	var deadline time.Time
	if len(w.timers) > 0 {
		deadline = w.timers[0].when
	}
	w.ep.SetReadDeadline(deadline)
	err := w.epRaw.Read(w.pollFn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return w.ready, errnoErr(w.errno)
}

// poll runs a non-blocking epoll_wait into w.events and reports whether
// there is something to do (events or an error). Its method value w.pollFn
// is made once, so parking allocates nothing.
func (w *worker) poll(uintptr) bool {
	w.ready, w.errno = epollPoll(w.epfd, w.events)
	if w.ready < 0 {
		w.ready = 0
	}
	return w.ready > 0 || (w.errno != 0 && w.errno != unix.EINTR)
}

// epollPoll is epoll_wait without waiting.
func epollPoll(epfd int, events []unix.EpollEvent) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	return int(n), errno
}

func errnoErr(e unix.Errno) error {
	if e == 0 || e == unix.EINTR {
		return nil
	}
	return e
}

// wake adopts new transfers and applies flags; true means exit.
func (w *worker) wake(now time.Time) bool {
	var drain [8]byte
	unix.Read(w.efd, drain[:])
	w.mu.Lock()
	pending, abort, quit := w.pending, w.abort, w.quit
	w.pending = nil
	w.mu.Unlock()
	for _, t := range pending {
		if err := w.register(t); err != nil {
			t.ended(err, "")
			t.conn.close()
			w.s.transferDone(t)
			continue
		}
		t.scratch = w.sbuf
		if abort {
			continue // cut below, before sending anything
		}
		t.begin(now)
		w.after(t)
	}
	if abort {
		w.abortAll()
	}
	return quit && w.count == 0
}

// register adds both sockets of t to the epoll set.
func (w *worker) register(t *transfer) error {
	c := t.conn.(*fdConn)
	for _, fd := range [2]int{c.fd, c.stray} {
		if fd < 0 {
			continue
		}
		if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return err
		}
		if fd >= len(w.byFD) {
			w.byFD = append(w.byFD, make([]*transfer, fd+1-len(w.byFD))...)
		}
		w.byFD[fd] = t
	}
	w.count++
	return nil
}

func (w *worker) abortAll() {
	for fd, t := range w.byFD {
		if t == nil || fd != t.fd {
			continue
		}
		if !t.done {
			t.ended(net.ErrClosed, "")
		}
		w.remove(t)
	}
}

func (w *worker) readable(t *transfer, fd int, now time.Time) {
	c := t.conn.(*fdConn)
	var n int
	var err error
	from := t.remote
	if fd == c.fd {
		n, err = c.recv(w.rbuf)
	} else {
		n, from, err = c.recvStray(w.rbuf)
	}
	if err != nil {
		// EAGAIN: nothing after all. ECONNREFUSED: an ICMP error about an
		// earlier datagram, treated like a loss. Anything else ends it.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNREFUSED) {
			return
		}
		t.ended(err, "")
	} else {
		t.handle(w.rbuf[:n], from, now)
	}
	w.after(t)
}

// after removes a finished transfer or makes sure its deadline is in the
// timer heap. Most packets move the deadline later, which needs no heap
// operation: the old entry fires, sees the later deadline and re-arms.
func (w *worker) after(t *transfer) {
	if t.done {
		w.remove(t)
		return
	}
	if t.heapWhen.IsZero() || t.deadline.Before(t.heapWhen) {
		t.heapWhen = t.deadline
		w.timers.push(timerEntry{when: t.deadline, t: t})
	}
}

func (w *worker) expire(now time.Time) {
	for len(w.timers) > 0 && !w.timers[0].when.After(now) {
		e := w.timers.pop()
		t := e.t
		if t.done || !e.when.Equal(t.heapWhen) {
			continue // stale: an earlier entry replaced it
		}
		t.heapWhen = time.Time{}
		if t.deadline.After(now) {
			w.after(t)
			continue
		}
		t.expire(now)
		w.after(t)
	}
}

func (w *worker) remove(t *transfer) {
	c := t.conn.(*fdConn)
	w.byFD[c.fd] = nil
	if c.stray >= 0 {
		w.byFD[c.stray] = nil
	}
	w.count--
	t.conn.close() // closing the sockets also takes them out of the epoll set
	t.scratch = nil
	w.s.transferDone(t)
}

// timerHeap is a min-heap of transfer deadlines, written out instead of
// container/heap so that pushing allocates nothing.
type timerHeap []timerEntry

type timerEntry struct {
	when time.Time
	t    *transfer
}

func (h *timerHeap) push(e timerEntry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].when.Before(s[p].when) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() timerEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = timerEntry{}
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].when.Before(s[m].when) {
			m = l
		}
		if r < len(s) && s[r].when.Before(s[m].when) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
