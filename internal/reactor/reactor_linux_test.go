package reactor

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pipeHandler is a handler on one end of a socket pair: it counts what it
// reads, expires once, and is done when told.
type pipeHandler struct {
	fd       int
	deadline time.Time
	reads    int
	expired  chan time.Time
	done     bool
	closed   chan struct{}
}

func (h *pipeHandler) Readable(fd int, _ time.Time) {
	var b [16]byte
	if n, _ := unix.Read(fd, b[:]); n > 0 {
		h.reads++
		h.done = b[0] == 'q'
	}
}
func (h *pipeHandler) Expire(now time.Time) { h.deadline = time.Time{}; h.expired <- now }
func (h *pipeHandler) Deadline() time.Time  { return h.deadline }
func (h *pipeHandler) Done() bool           { return h.done }
func (h *pipeHandler) Close()               { unix.Close(h.fd); close(h.closed) }

func TestLoop(t *testing.T) {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	start := time.Now()
	h := &pipeHandler{fd: fds[0], deadline: start.Add(30 * time.Millisecond), expired: make(chan time.Time, 1), closed: make(chan struct{})}
	l.Post(func() {
		if err := l.Add(h, h.fd, -1); err != nil {
			t.Error(err)
		}
	})
	select {
	case at := <-h.expired:
		if at.Sub(start) < 30*time.Millisecond {
			t.Fatalf("expired after %v, before its deadline", at.Sub(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("deadline never fired")
	}
	unix.Write(fds[1], []byte("x"))
	unix.Write(fds[1], []byte("q"))
	select {
	case <-h.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("handler not closed after it was done")
	}
	stopped := make(chan struct{})
	go func() { l.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return with no handler left")
	}
	if h.reads != 2 {
		t.Fatalf("%d reads, want 2", h.reads)
	}
}

func TestTimerHeap(t *testing.T) {
	var h timerHeap
	base := time.Now()
	var want []time.Time
	for range 500 {
		at := base.Add(time.Duration(rand.IntN(1e6)))
		want = append(want, at)
		h.push(timerEntry{when: at})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Before(want[j]) })
	for i := range want {
		if got := h.pop().when; !got.Equal(want[i]) {
			t.Fatalf("pop %d = %v, want %v", i, got, want[i])
		}
	}
}
