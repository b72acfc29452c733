package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Netns creates a network namespace and a veth pair for t, both removed
// when t ends (see Net). It needs root and iproute2: without them the
// test is skipped, or fails when PHONEBOOT_REQUIRE_INTEROP=1.
func Netns(t testing.TB) *Net {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "network namespaces need root")
		return nil
	}
	n := &Net{ip: Tool(t, "ip")}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n.NS, n.Host, n.Peer = "pbtest-"+id, "pbs"+id, "pbc"+id
	n.IP(t, "netns", "add", n.NS)
	t.Cleanup(func() { quiet(n.ip, "netns", "del", n.NS) })
	n.IP(t, "link", "add", n.Host, "type", "veth", "peer", "name", n.Peer, "netns", n.NS)
	t.Cleanup(func() { quiet(n.ip, "link", "del", n.Host) })
	n.addPrefix(t)
	n.IP(t, "link", "set", n.Host, "up")
	n.Exec(t, "ip", "link", "set", "lo", "up")
	n.Exec(t, "ip", "link", "set", n.Peer, "up")
	n.waitUp(t)
	return n
}

// waitUp waits (at most 10s) until both ends of the pair are up and can
// send: "ip link set up" returns before the kernel's link watcher has
// turned the carrier into operstate UP and given the device its qdisc
// (until then "qdisc noop" drops every packet), which on a busy machine
// can take long enough to lose a client's first broadcast.
func (n *Net) waitUp(t testing.TB) {
	t.Helper()
	ready := func(args ...string) (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, n.ip, args...).Output()
		s := string(out)
		return err == nil && strings.Contains(s, " state UP ") && !strings.Contains(s, " qdisc noop "), s
	}
	deadline := time.Now().Add(cmdTimeout)
	for {
		host, hs := ready("-o", "link", "show", "dev", n.Host)
		peer, ps := ready("-n", n.NS, "-o", "link", "show", "dev", n.Peer)
		if host && peer {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("veth pair not up within %v:\n%s\n%s", cmdTimeout, hs, ps)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// addPrefix picks a 10.250.X.0/24 that no local interface is on and puts
// .1 on Host. Tests of several packages run at once, each in its own
// process: a lock file makes picking and adding one step among them.
func (n *Net) addPrefix(t testing.TB) {
	t.Helper()
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "phoneboot-testutil-netns.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		var b [1]byte
		rand.Read(b[:])
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 250, b[0], 0}), 24)
		if taken(p, addrs) {
			continue
		}
		n.Prefix, n.Self = p, p.Addr().Next()
		n.IP(t, "addr", "add", netip.PrefixFrom(n.Self, 24).String(), "dev", n.Host)
		return
	}
	t.Fatal("no free 10.250.X.0/24 in 100 tries")
}

func taken(p netip.Prefix, addrs []net.Addr) bool {
	for _, a := range addrs {
		if in, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(in.IP); ok && p.Contains(ip.Unmap()) {
				return true
			}
		}
	}
	return false
}
