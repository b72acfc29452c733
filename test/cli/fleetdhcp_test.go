package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/store/pgtest"
	"phoneboot/internal/testutil"
)

// nodeData is a data directory for node name: its phoneboot.toml
// ([node], and extra), and the fleet's file beside it.
func nodeData(t *testing.T, name, networks, extra, fleet string) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[node]\nname = %q\n", name)
	if networks != "" {
		cfg += fmt.Sprintf("networks = [%q]\n", networks)
	}
	for file, text := range map[string]string{"phoneboot.toml": cfg + extra, "fleet.toml": fleet} {
		if err := os.WriteFile(filepath.Join(data, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return data
}

// serveFails runs phoneboot serve with args, which must fail before any
// service listens; it returns what it said.
func serveFails(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"serve", "--tftp-addr", "127.0.0.1:0", "--http-addr=", "--admin-addr=", "--syslog-addr="}, args...)
	code, _, stderr := runQuick(t, args...)
	if code == 0 {
		t.Fatalf("serve %v succeeded:\n%s", args, stderr)
	}
	if strings.Contains(stderr, "dhcp serving") || strings.Contains(stderr, "tftp listening") {
		t.Errorf("serve listened before it failed:\n%s", stderr)
	}
	return stderr
}

// TestServeRefusesOverlappingPool: a node whose DHCP range overlaps
// another node's in the database does not start, and says which range,
// whose, and what to change; nor does one whose range is outside its
// networks. (SQLite, the other node's claim made through the store: no
// root, no PostgreSQL needed; lo is only looked at, never served.)
func TestServeRefusesOverlappingPool(t *testing.T) {
	data := nodeData(t, "building-a", "", "", "")
	db, err := store.Open(t.Context(), filepath.Join(data, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	theirs := store.Pool{First: netip.MustParseAddr("127.0.0.100"), Last: netip.MustParseAddr("127.0.0.199")}
	if err := db.ClaimPools(t.Context(), "building-b", []store.Pool{theirs}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	stderr := serveFails(t, "--data", data, "--dhcp-iface", "lo", "--dhcp-range", "127.0.0.150-127.0.0.250")
	want := "phoneboot: serve: DHCP range 127.0.0.150-127.0.0.250 is not free:\n" +
		"  node building-b serves 127.0.0.100-127.0.0.199.\n" +
		"  The nodes of a fleet share one database: no address may be in two\n" +
		"  nodes' pools. Change [dhcp] range (or --dhcp-range) in\n" +
		"  " + filepath.Join(data, "phoneboot.toml") + "\n" +
		"  to addresses that node does not serve; or, if it no longer serves\n" +
		"  them, change or remove its [dhcp] range and restart it first (a node\n" +
		"  gives up its old range when it starts)\n"
	if !strings.Contains(stderr, want) {
		t.Errorf("serve said:\n%s\nwant:\n%s", stderr, want)
	}
	for _, line := range strings.Split(stderr, "\n") {
		if len(line) > 80 && !strings.HasPrefix(line, "time=") && !strings.Contains(line, data) {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
	// The refused claim left building-b's range alone, and took nothing.
	if db, err = store.Open(t.Context(), filepath.Join(data, store.FileName)); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if pools, err := db.Pools(t.Context()); err != nil || len(pools) != 1 || pools[0].Node != "building-b" {
		t.Errorf("pools %v %v", pools, err)
	}

	// Beside it, a range that is free starts (and is then the node's).
	p := start(t, "serve", "--data", data, "--tftp-addr", "127.0.0.1:0", "--http-addr=", "--admin-addr=", "--syslog-addr=",
		"--dhcp-iface", "lo", "--dhcp-range", "127.0.0.200-127.0.0.250")
	// Claimed before it says it serves (and before port 67, which may
	// need root: what happens then is no matter here).
	p.waitLog(t, "dhcp serving", 15*time.Second)
	if pools, _ := db.Pools(t.Context()); len(pools) != 2 || pools[1].Node != "building-a" {
		t.Errorf("after building-a started: pools %v", pools)
	}
	if p.running() {
		p.signal(t, syscall.SIGINT)
	}
	p.exit(t, 15*time.Second)

	// A range outside the node's networks: a config error, at its line.
	data = nodeData(t, "building-c", "10.9.0.0/16", "\n[dhcp]\ninterface = \"lo\"\nrange = \"127.0.0.10-127.0.0.20\"\n", "")
	stderr = serveFails(t, "--data", data)
	if want := "phoneboot.toml:7: dhcp.range 127.0.0.10-127.0.0.20 is outside node building-c's networks (10.9.0.0/16)"; !strings.Contains(stderr, want) {
		t.Errorf("serve said:\n%s\nwant %q", stderr, want)
	}
	// The flag's range is checked too.
	stderr = serveFails(t, "--data", nodeData(t, "building-d", "10.9.0.0/16", "", ""),
		"--dhcp-iface", "lo", "--dhcp-range", "127.0.0.10-127.0.0.20")
	if want := "DHCP range 127.0.0.10-127.0.0.20 is outside node building-d's networks (10.9.0.0/16):"; !strings.Contains(stderr, want) {
		t.Errorf("serve said:\n%s\nwant %q", stderr, want)
	}
}

// TestDHCPTwoNodesOneDatabase: two phoneboot nodes on one PostgreSQL
// database, each the DHCP server of its own network (a veth into a
// namespace of its own), busybox udhcpc as the phones. A phone reserved
// in the fleet's inventory gets its address on its node's network and a
// pool address on the other's; it holds one lease in the fleet, the one
// of where it asked last; a third node claiming a range that overlaps
// one of theirs is refused.
func TestDHCPTwoNodesOneDatabase(t *testing.T) {
	url := pgtest.URL(t)
	bb := testutil.Tool(t, "busybox")
	n1, n2 := testutil.Netns(t), testutil.Netns(t)
	reserved, other := "00:13:7f:00:fd:01", "00:13:7f:00:fd:02"
	fleet := fmt.Sprintf("[[phone]]\nmac = %q\nmodel = \"7960\"\nip = %q\n", reserved, n1.Addr(20))
	nodes := []struct {
		name string
		net  *testutil.Net
	}{{"building-a", n1}, {"building-b", n2}}
	for _, nd := range nodes {
		data := nodeData(t, nd.name, nd.net.Prefix.String(), "", fleet)
		p := start(t, "serve", "--data", data, "--db", url, "--tftp-addr", "127.0.0.1:0",
			"--http-addr=", "--admin-addr=", "--syslog-addr=",
			"--dhcp-iface", nd.net.Host, "--dhcp-range", nd.net.Addr(100).String()+"-"+nd.net.Addr(150).String())
		p.waitLog(t, "dhcp serving", 20*time.Second)
		p.waitUDPPort(t, 67, 20*time.Second)
	}
	boot := func(n *testutil.Net, mac string) string {
		t.Helper()
		n.Exec(t, "ip", "link", "set", n.Peer, "address", mac)
		vars, lease := udhcpc(t, n, bb, "-V", "Cisco Systems, Inc. IP Phone CP-7960G")
		if vars["ip"] == "" {
			t.Fatalf("no address for %s:\n%s", mac, lease)
		}
		return vars["ip"]
	}
	db, err := store.OpenPostgres(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	leases := func() map[string]store.Lease {
		t.Helper()
		ls, err := db.Leases(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.Lease{}
		for _, l := range ls {
			out[l.MAC.String()] = l
		}
		return out
	}
	mac := func(s string) string { m, _ := phone.ParseMAC(s); return m.String() }

	if got := boot(n1, reserved); got != n1.Addr(20).String() {
		t.Errorf("on building-a the reserved phone got %s, want %v", got, n1.Addr(20))
	}
	if got := boot(n1, other); got != n1.Addr(100).String() {
		t.Errorf("on building-a another phone got %s", got)
	}
	// The reserved phone moves to building-b: a pool address there; the
	// reservation is building-a's network's.
	if got := boot(n2, reserved); got != n2.Addr(100).String() {
		t.Errorf("on building-b the reserved phone got %s, want %v", got, n2.Addr(100))
	}
	ls := leases()
	if l := ls[mac(reserved)]; l.Node != "building-b" || l.IP != n2.Addr(100) {
		t.Errorf("the moved phone's lease: %+v", l)
	}
	if l := ls[mac(other)]; l.Node != "building-a" || l.IP != n1.Addr(100) {
		t.Errorf("the other phone's lease: %+v", l)
	}
	if len(ls) != 2 {
		t.Errorf("leases %+v, want one per MAC", ls)
	}
	// And back: its reserved address again, building-a's lease.
	if got := boot(n1, reserved); got != n1.Addr(20).String() {
		t.Errorf("back on building-a the reserved phone got %s", got)
	}
	if l := leases()[mac(reserved)]; l.Node != "building-a" || l.IP != n1.Addr(20) {
		t.Errorf("back: %+v", l)
	}
	pools, err := db.Pools(t.Context())
	if err != nil || len(pools) != 2 {
		t.Fatalf("pools %v %v", pools, err)
	}

	// A third node on building-a's network, with a range overlapping
	// building-a's, is refused (the interface is looked at, not served).
	stderr := serveFails(t, "--data", nodeData(t, "building-c", "", "", fleet), "--db", url,
		"--dhcp-iface", n1.Host, "--dhcp-range", n1.Addr(140).String()+"-"+n1.Addr(160).String())
	want := fmt.Sprintf("DHCP range %v-%v is not free:\n  node building-a serves %v-%v.",
		n1.Addr(140), n1.Addr(160), n1.Addr(100), n1.Addr(150))
	if !strings.Contains(stderr, want) {
		t.Errorf("serve said:\n%s\nwant %q", stderr, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if pools, _ := db.Pools(ctx); len(pools) != 2 {
		t.Errorf("pools after the refusal: %v", pools)
	}
}
