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
}

func newDriver(s *Server) driver {
	d := &epollDriver{s: s}
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
	c, err := newFDConn(local, t.remote)
	if err != nil {
		return err
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

// fdConn is a transfer's non-blocking UDP socket with the client's address
// prepared once as a raw sockaddr.
type fdConn struct {
	fd     int
	family int
	sa4    unix.RawSockaddrInet4
	sa6    unix.RawSockaddrInet6
	noGSO  bool // the kernel refused UDP GSO once: send one by one
	msg    unix.Msghdr
	iov    unix.Iovec
	cmsg   [32]byte
}

func newFDConn(local netip.Addr, remote netip.AddrPort) (*fdConn, error) {
	family := unix.AF_INET6
	if local.Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, err
	}
	c := &fdConn{fd: fd, family: family}
	var bindErr error
	if family == unix.AF_INET {
		bindErr = unix.Bind(fd, &unix.SockaddrInet4{Addr: local.As4()})
		c.sa4.Family = unix.AF_INET
		putPort(&c.sa4.Port, remote.Port())
		c.sa4.Addr = remote.Addr().As4()
	} else {
		scope := zoneIndex(local.Zone())
		bindErr = unix.Bind(fd, &unix.SockaddrInet6{Addr: local.As16(), ZoneId: scope})
		c.sa6.Family = unix.AF_INET6
		putPort(&c.sa6.Port, remote.Port())
		c.sa6.Addr = remote.Addr().As16()
		c.sa6.Scope_id = zoneIndex(remote.Addr().Zone())
		if c.sa6.Scope_id == 0 {
			c.sa6.Scope_id = scope
		}
	}
	if bindErr != nil {
		unix.Close(fd)
		return nil, bindErr
	}
	return c, nil
}

// putPort stores a port in network byte order into a sockaddr field.
func putPort(field *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(field))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(field *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(field))
	return uint16(b[0])<<8 | uint16(b[1])
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
	var sa unsafe.Pointer
	var salen uintptr
	if c.family == unix.AF_INET {
		sa, salen = unsafe.Pointer(&c.sa4), unsafe.Sizeof(c.sa4)
	} else {
		sa, salen = unsafe.Pointer(&c.sa6), unsafe.Sizeof(c.sa6)
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, uintptr(sa), salen)
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
	if c.family == unix.AF_INET {
		c.msg.Name, c.msg.Namelen = (*byte)(unsafe.Pointer(&c.sa4)), uint32(unsafe.Sizeof(c.sa4))
	} else {
		c.msg.Name, c.msg.Namelen = (*byte)(unsafe.Pointer(&c.sa6)), uint32(unsafe.Sizeof(c.sa6))
	}
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
	if c.family == unix.AF_INET && to.Addr().Is4() {
		unix.Sendto(c.fd, b, 0, &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()})
	} else if c.family == unix.AF_INET6 {
		unix.Sendto(c.fd, b, 0, &unix.SockaddrInet6{Port: int(to.Port()), Addr: to.Addr().As16(), ZoneId: zoneIndex(to.Addr().Zone())})
	}
}

func (c *fdConn) close() { unix.Close(c.fd) }

// recv reads one datagram. from is the transfer's own client address when
// the sender is the client (compared as raw bytes, so the hot path builds
// no address), else the sender's address.
func (c *fdConn) recv(b []byte, rsa *unix.RawSockaddrInet6, remote netip.AddrPort) (int, netip.AddrPort, error) {
	salen := uint32(unsafe.Sizeof(*rsa))
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(c.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&salen)))
	if errno != 0 {
		return 0, netip.AddrPort{}, errno
	}
	if rsa.Family == unix.AF_INET {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		if sa.Port == c.sa4.Port && sa.Addr == c.sa4.Addr {
			return int(n), remote, nil
		}
		return int(n), netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port)), nil
	}
	if rsa.Port == c.sa6.Port && rsa.Addr == c.sa6.Addr {
		return int(n), remote, nil
	}
	return int(n), netip.AddrPortFrom(netip.AddrFrom16(rsa.Addr).Unmap(), getPort(&rsa.Port)), nil
}

// worker owns an epoll instance and the transfers on it. Only its own
// goroutine touches them; other goroutines hand work over through notify.
type worker struct {
	s      *Server
	epfd   int
	ep     *os.File        // epfd, registered in Go's own netpoller
	epRaw  syscall.RawConn // to park on it
	efd    int             // eventfd that wakes the worker for notify
	byFD   map[int32]*transfer
	timers timerHeap
	events []unix.EpollEvent
	rbuf   []byte
	sbuf   []byte
	rsa    unix.RawSockaddrInet6
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
		byFD:   make(map[int32]*transfer),
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
			if t := w.byFD[ev.Fd]; t != nil {
				w.readable(t, now)
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
		if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, t.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(t.fd)}); err != nil {
			t.ended(err, "")
			t.conn.close()
			w.s.transferDone(t)
			continue
		}
		w.byFD[int32(t.fd)] = t
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
	return quit && len(w.byFD) == 0
}

func (w *worker) abortAll() {
	for _, t := range w.byFD {
		if !t.done {
			t.ended(net.ErrClosed, "")
		}
		w.remove(t)
	}
}

func (w *worker) readable(t *transfer, now time.Time) {
	c := t.conn.(*fdConn)
	n, from, err := c.recv(w.rbuf, &w.rsa, t.remote)
	if err != nil {
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
	delete(w.byFD, int32(t.fd))
	t.conn.close() // closing the socket also takes it out of the epoll set
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
