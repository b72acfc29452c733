package testutil

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Net is a network namespace made for one test, joined to the test's own
// namespace by a veth pair: Host stays here with the address Self of
// Prefix (a 10.250.X.0/24 that no other local interface is on), Peer is
// inside the namespace, up, without an address. Nothing else is touched,
// so nothing the test sends leaves the pair.
type Net struct {
	NS     string       // the namespace's name, for "ip netns exec"
	Host   string       // the veth end in the test's namespace
	Peer   string       // the veth end inside NS
	Prefix netip.Prefix // the pair's network
	Self   netip.Addr   // Host's address, .1 of Prefix
	ip     string       // path of iproute2's ip
}

// cmdTimeout bounds every command the helper runs.
const cmdTimeout = 10 * time.Second

// Addr returns the address of Prefix that ends in last.
func (n *Net) Addr(last byte) netip.Addr {
	a := n.Prefix.Addr().As4()
	a[3] = last
	return netip.AddrFrom4(a)
}

// IP runs "ip args..." in the test's namespace (at most 10s) and fails the
// test if it fails.
func (n *Net) IP(t testing.TB, args ...string) {
	t.Helper()
	run(t, n.ip, args...)
}

// Exec runs a command inside NS (at most 10s) and fails the test if it
// fails.
func (n *Net) Exec(t testing.TB, args ...string) {
	t.Helper()
	run(t, n.ip, append([]string{"netns", "exec", n.NS}, args...)...)
}

// Command is a command to run inside NS; ctx bounds it.
func (n *Net) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, n.ip, append([]string{"netns", "exec", n.NS, name}, args...)...)
}

func run(t testing.TB, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
}

// quiet runs a clean-up command (at most 10s), whatever its outcome.
func quiet(bin string, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	exec.CommandContext(ctx, bin, args...).Run()
}
