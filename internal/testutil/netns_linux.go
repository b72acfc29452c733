package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
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
	return n
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
