//go:build linux

// Package reactor runs many non-blocking sockets on one goroutine: a Loop
// waits for all of them at once with epoll and calls their Handlers
// directly, with one timer each. The TFTP server runs its transfers on it,
// and the benchmark's load generator its clients, so that one datagram in
// and one out cost one read and one write system call, no goroutine switch
// and no lock.
//
// A Loop never blocks inside a system call: that would hand its thread's
// P to another thread and keep Go's sysmon waking every 20µs. The epoll fd
// is itself parked on in Go's netpoller (epoll nests), and every call on
// the hot path is a non-blocking raw system call.
package reactor

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Handler is one unit of work on a Loop, such as a transfer: some sockets
// and a deadline. The Loop calls its methods from its own goroutine only.
type Handler interface {
	// Readable is called when fd, one of the handler's, has data. Read one
	// datagram: the loop calls again while more is queued.
	Readable(fd int, now time.Time)
	// Expire is called once Deadline has passed.
	Expire(now time.Time)
	// Deadline is when Expire is due; the zero time means never.
	Deadline() time.Time
	// Done reports that the handler has finished. The loop then forgets
	// it and calls Close.
	Done() bool
	// Close releases the handler's sockets (closing them also takes them
	// out of the epoll set).
	Close()
}

// Loop is one epoll instance and its handlers.
type Loop struct {
	epfd   int
	ep     *os.File        // epfd, registered in Go's own netpoller
	epRaw  syscall.RawConn // to park on it
	efd    int             // eventfd that wakes the loop for Post
	byFD   []*reg          // handlers by socket fd
	count  int
	timers timerHeap
	events []unix.EpollEvent
	pollFn func(uintptr) bool // l.poll, made once so parking allocates nothing
	ready  int                // results of the last poll
	errno  unix.Errno

	mu     sync.Mutex // guards posted and quit
	posted []func()
	quit   bool
	exited chan struct{}
}

type reg struct {
	h    Handler
	fds  [2]int    // -1 when unused
	when time.Time // the earliest timer entry in the heap for it
	done bool
}

// New makes a Loop. Run it with go l.Run().
func New() (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	fail := func(err error) (*Loop, error) {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}); err != nil {
		return fail(err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		return fail(err)
	}
	ep := os.NewFile(uintptr(epfd), "epoll")
	raw, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		unix.Close(efd)
		return nil, err
	}
	l := &Loop{epfd: epfd, ep: ep, epRaw: raw, efd: efd, events: make([]unix.EpollEvent, 256), exited: make(chan struct{})}
	l.pollFn = l.poll
	return l, nil
}

var eventfdOne = [8]byte{1}

// Post runs f on the loop's goroutine, soon. It may be called from any
// goroutine; f may call Add and Sweep.
func (l *Loop) Post(f func()) {
	l.mu.Lock()
	l.posted = append(l.posted, f)
	l.mu.Unlock()
	unix.Write(l.efd, eventfdOne[:])
}

// Stop makes Run return once no handler is left, and waits for it.
func (l *Loop) Stop() {
	l.mu.Lock()
	l.quit = true
	l.mu.Unlock()
	unix.Write(l.efd, eventfdOne[:])
	<-l.exited
}

// Add starts watching h's sockets (one or two fds; -1 to skip) and its
// deadline. Loop goroutine only. A handler already done is closed.
func (l *Loop) Add(h Handler, fd1, fd2 int) error {
	r := &reg{h: h, fds: [2]int{fd1, fd2}}
	if h.Done() {
		h.Close()
		return nil
	}
	for i, fd := range r.fds {
		if fd < 0 {
			continue
		}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			for _, added := range r.fds[:i] {
				if added >= 0 {
					unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, added, nil)
					l.byFD[added] = nil
				}
			}
			return err
		}
		if fd >= len(l.byFD) {
			l.byFD = append(l.byFD, make([]*reg, fd+1-len(l.byFD))...)
		}
		l.byFD[fd] = r
	}
	l.count++
	l.settle(r)
	return nil
}

// Sweep calls f for every handler, then drops those that are done. Loop
// goroutine only (from Post): it is how a server cuts all transfers.
func (l *Loop) Sweep(f func(Handler)) {
	for fd, r := range l.byFD {
		if r != nil && fd == r.first() {
			f(r.h)
			l.settle(r)
		}
	}
}

func (r *reg) first() int {
	if r.fds[0] >= 0 {
		return r.fds[0]
	}
	return r.fds[1]
}

// Run serves the loop until Stop was called and no handler is left. An
// error from epoll itself (a bug, not a network condition) is returned
// after closing every handler.
func (l *Loop) Run() error {
	defer close(l.exited)
	defer l.ep.Close()
	defer unix.Close(l.efd)
	for {
		n, err := l.wait()
		if err != nil {
			for _, r := range l.byFD {
				if r != nil && !r.done {
					l.drop(r)
				}
			}
			return err
		}
		now := time.Now()
		for _, ev := range l.events[:n] {
			fd := int(ev.Fd)
			if fd == l.efd {
				if l.wake() {
					return nil
				}
				continue
			}
			if fd < len(l.byFD) {
				if r := l.byFD[fd]; r != nil {
					r.h.Readable(fd, now)
					l.settle(r)
				}
			}
		}
		l.expire(now)
	}
}

// wake runs posted functions; true means Run should return.
func (l *Loop) wake() bool {
	var drain [8]byte
	unix.Read(l.efd, drain[:])
	l.mu.Lock()
	posted, quit := l.posted, l.quit
	l.posted = nil
	l.mu.Unlock()
	for _, f := range posted {
		f()
	}
	return quit && l.count == 0
}

// wait returns the number of ready events, parking in Go's netpoller until
// there are some or the earliest deadline passed (then 0).
func (l *Loop) wait() (int, error) {
	if l.poll(0) {
		return l.ready, errnoErr(l.errno)
	}
	var deadline time.Time
	if len(l.timers) > 0 {
		deadline = l.timers[0].when
	}
	l.ep.SetReadDeadline(deadline)
	err := l.epRaw.Read(l.pollFn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return l.ready, errnoErr(l.errno)
}

// poll is a non-blocking epoll_wait into l.events; it reports whether
// there is something to do (events or an error).
func (l *Loop) poll(uintptr) bool {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(unsafe.SliceData(l.events))), uintptr(len(l.events)), 0, 0, 0)
	l.ready, l.errno = max(int(n), 0), errno
	if errno != 0 {
		l.ready = 0
	}
	return l.ready > 0 || (errno != 0 && errno != unix.EINTR)
}

func errnoErr(e unix.Errno) error {
	if e == 0 || e == unix.EINTR {
		return nil
	}
	return e
}

// settle drops a finished handler or makes sure its deadline is in the
// timer heap. Most events move a deadline later, which needs no heap
// operation: the old entry fires, sees the later deadline and re-arms.
func (l *Loop) settle(r *reg) {
	if r.done {
		return
	}
	if r.h.Done() {
		l.drop(r)
		return
	}
	d := r.h.Deadline()
	if !d.IsZero() && (r.when.IsZero() || d.Before(r.when)) {
		r.when = d
		l.timers.push(timerEntry{when: d, r: r})
	}
}

func (l *Loop) expire(now time.Time) {
	for len(l.timers) > 0 && !l.timers[0].when.After(now) {
		e := l.timers.pop()
		r := e.r
		if r.done || !e.when.Equal(r.when) {
			continue // stale: an earlier entry replaced it
		}
		r.when = time.Time{}
		if r.h.Deadline().After(now) {
			l.settle(r)
			continue
		}
		r.h.Expire(now)
		l.settle(r)
	}
}

func (l *Loop) drop(r *reg) {
	r.done = true
	for _, fd := range r.fds {
		if fd >= 0 && fd < len(l.byFD) && l.byFD[fd] == r {
			l.byFD[fd] = nil
		}
	}
	l.count--
	r.h.Close()
	// The timer heap may hold r until its deadline passes (stale entries
	// are skipped, not removed): let the handler go now, so that a burst
	// of short transfers does not keep them all alive for their timeout.
	r.h = nil
}

// timerHeap is a min-heap of deadlines, written out instead of
// container/heap so that pushing allocates nothing.
type timerHeap []timerEntry

type timerEntry struct {
	when time.Time
	r    *reg
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
