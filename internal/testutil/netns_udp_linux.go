package testutil

import (
	"net"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"phoneboot/internal/udpnet"
)

// ListenUDP opens a UDP socket on 0.0.0.0:port inside NS that sees and
// sends on Peer only and may broadcast: a DHCP client's socket (port 68)
// for a test that speaks DHCP itself. It is closed when t ends.
func (n *Net) ListenUDP(t testing.TB, port int) *net.UDPConn {
	t.Helper()
	c, err := InNS(n, func() (*net.UDPConn, error) { return udpnet.ListenDevice(n.Peer, port, 1<<20) })
	if err != nil {
		t.Fatalf("UDP port %d in %s: %v", port, n.NS, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// InNS runs open inside n's namespace and returns what it opened: a
// socket opened there stays there, whichever goroutine uses it later.
func InNS[T any](n *Net, open func() (T, error)) (T, error) {
	type result struct {
		c   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// A thread of its own moves into the namespace just long enough
		// to open the socket.
		runtime.LockOSThread()
		c, err := inNS(n, open)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// inNS runs open in NS on the calling thread, which must be locked. The
// thread is unlocked only once it is back in its own namespace: otherwise
// it dies with its goroutine.
func inNS[T any](n *Net, open func() (T, error)) (T, error) {
	var zero T
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return zero, err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + n.NS)
	if err != nil {
		runtime.UnlockOSThread()
		return zero, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return zero, err
	}
	c, err := open()
	if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return c, err
}
