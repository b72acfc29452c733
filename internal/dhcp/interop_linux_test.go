package dhcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/ipv4"

	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/testutil"
)

// The interop tests build a veth pair per test (testutil.Netns): the
// server's end in the root namespace with an address of a free
// 10.250.X.0/24 (no other interface is touched), the client's end in a
// network namespace of its own, where dhclient, busybox udhcpc/udhcpd and
// a Go client run. They need root, iproute2, isc-dhcp-client and busybox.

type testNet struct {
	t        *testing.T
	net      *testutil.Net
	ns       string
	srv, cli string // interface names
	prefix   netip.Prefix
	self     netip.Addr // the server's address, .1
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	tn := testutil.Netns(t)
	return &testNet{t: t, net: tn, ns: tn.NS, srv: tn.Host, cli: tn.Peer, prefix: tn.Prefix, self: tn.Self}
}

func (n *testNet) addr(last byte) netip.Addr { return n.net.Addr(last) }

func (n *testNet) setMAC(mac phone.MAC) {
	n.net.Exec(n.t, "ip", "link", "set", n.cli, "address", mac.String())
}

// recorder collects a server's events.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) add(ev Event) { r.mu.Lock(); r.evs = append(r.evs, ev); r.mu.Unlock() }

func (r *recorder) find(typ string, mac phone.MAC) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.evs {
		if string(ev.Type) == typ && ev.MAC == mac {
			return ev, true
		}
	}
	return Event{}, false
}

// serve runs a server on the test net until the returned stop is called
// (or the test ends).
func (n *testNet) serve(leases Leases, mod func(*Config)) (*Server, *recorder, func()) {
	n.t.Helper()
	cfg := Config{Iface: n.srv, Range: [2]netip.Addr{n.addr(100), n.addr(120)}, Router: n.self,
		LeaseTime: time.Hour, Probe: -1}
	if mod != nil {
		mod(&cfg)
	}
	rec := &recorder{}
	s, err := New(cfg, leases, nil, rec.add)
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		n.t.Fatalf("Run: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				n.t.Errorf("Run: %v", err)
			}
		})
	}
	n.t.Cleanup(stop)
	return s, rec, stop
}

// udhcpc runs busybox udhcpc in the client namespace and returns the
// environment its script saw when bound.
func (n *testNet) udhcpc(args ...string) (map[string]string, error) {
	n.t.Helper()
	bb := testutil.Tool(n.t, "busybox")
	dir := n.t.TempDir()
	script, env := filepath.Join(dir, "script"), filepath.Join(dir, "bound.env")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && env > "+env+"\nexit 0\n"), 0o755); err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := n.net.Command(ctx, bb, append([]string{"udhcpc", "-f", "-q", "-n",
		"-t", "4", "-T", "1", "-i", n.cli, "-s", script}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("udhcpc: %v\n%s", err, out)
	}
	b, err := os.ReadFile(env)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

func TestInteropUdhcpc(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	s, rec, _ := n.serve(NewMemLeases(), nil)
	mac := phone.MAC{0x00, 0x1e, 0x7a, 0x11, 0x22, 0x33}
	n.setMAC(mac)
	vars, err := n.udhcpc("-O", "150", "-V", "Cisco Systems, Inc. IP Phone CP-7960G")
	if err != nil {
		t.Fatal(err)
	}
	if vars["ip"] != n.addr(100).String() || vars["subnet"] != "255.255.255.0" || vars["router"] != n.self.String() {
		t.Errorf("udhcpc got ip=%s subnet=%s router=%s", vars["ip"], vars["subnet"], vars["router"])
	}
	// busybox names no option 150: it shows it as hex.
	if got, want := vars["opt150"], hex.EncodeToString(n.self.AsSlice()); got != want {
		t.Errorf("opt150=%q, want %q (env %v)", got, want, vars)
	}
	ev, ok := rec.find("ack", mac)
	if !ok || ev.Model != "7960" || ev.IP != n.addr(100) {
		t.Errorf("ack event %+v", ev)
	}
	// udhcpc sets no broadcast flag: the replies went unicast, through
	// the ARP entry the server added.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ip", "neigh", "show", n.addr(100).String(), "dev", n.srv).Output()
	if !strings.Contains(string(out), mac.String()) {
		t.Errorf("no ARP entry for %v at %v: %q", n.addr(100), mac, out)
	}
	if st := s.Stats(); st.SendErrors != 0 || st.Offers != 1 || st.Acks != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestInteropDhclient(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	dhclient := testutil.Tool(t, "dhclient")
	s, _, _ := n.serve(NewMemLeases(), func(c *Config) { c.TFTP = []netip.Addr{n.self, n.addr(2)} })
	dir := t.TempDir()
	conf, lease := filepath.Join(dir, "dhclient.conf"), filepath.Join(dir, "dhclient.leases")
	if err := os.WriteFile(conf, []byte("option tftp150 code 150 = array of ip-address;\n"+
		"request subnet-mask, routers, tftp150;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := n.net.Command(ctx, dhclient, "-d", "-1", "-v",
		"-cf", conf, "-lf", lease, "-pf", filepath.Join(dir, "pid"), "-sf", "/bin/true", n.cli)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	want := fmt.Sprintf("option tftp150 %v,%v;", n.self, n.addr(2))
	for {
		b, _ := os.ReadFile(lease)
		if strings.Contains(string(b), want) {
			if !strings.Contains(string(b), "fixed-address "+n.addr(100).String()+";") {
				t.Errorf("lease file:\n%s", b)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no lease with %q; lease file:\n%s\ndhclient:\n%s", want, b, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.Stats(); st.Leased != 1 || st.Malformed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestInteropReservation(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	mac := phone.MAC{0x00, 0x1e, 0x7a, 0x44, 0x55, 0x66}
	n.serve(NewMemLeases(), func(c *Config) { c.Reservations = map[phone.MAC]netip.Addr{mac: n.addr(7)} })
	n.setMAC(mac)
	vars, err := n.udhcpc("-r", n.addr(110).String()) // asks for another: gets its own
	if err != nil {
		t.Fatal(err)
	}
	if vars["ip"] != n.addr(7).String() {
		t.Errorf("reserved client got %s, want %v", vars["ip"], n.addr(7))
	}
}

// goClient is a DHCP client socket in the test namespace: 0.0.0.0:68 on
// the client interface.
type goClient struct {
	c   *conn
	cl  *client
	srv netip.Addr
}

func (n *testNet) goClient(mac phone.MAC) *goClient {
	n.t.Helper()
	uc := n.net.ListenUDP(n.t, dhcpv4.ClientPort)
	cl := &client{mac: mac, params: []uint8{1, 3, 150}}
	return &goClient{c: &conn{c: uc, p: ipv4.NewPacketConn(uc), iface: n.cli}, cl: cl, srv: n.self}
}

// send sends b broadcast to the server port.
func (g *goClient) send(b []byte) error {
	_, err := g.c.c.WriteTo(b, &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort})
	return err
}

// exchange sends b broadcast and returns the first reply to this client.
func (g *goClient) exchange(b []byte) (*dhcpv4.DHCPv4, error) {
	if err := g.send(b); err != nil {
		return nil, err
	}
	buf := make([]byte, maxPacket)
	g.c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, _, err := g.c.read(buf)
		if err != nil {
			return nil, err
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err == nil && m.OpCode == dhcpv4.OpcodeBootReply && string(m.ClientHWAddr) == string(g.cl.mac[:]) {
			return m, nil
		}
	}
}

func (g *goClient) lease() (netip.Addr, error) {
	off, err := g.exchange(g.cl.msg(dhcpv4.MessageTypeDiscover, bcastFlag))
	if err != nil {
		return netip.Addr{}, err
	}
	if off.MessageType() != dhcpv4.MessageTypeOffer {
		return netip.Addr{}, fmt.Errorf("got %v, want an offer", off.MessageType())
	}
	ack, err := g.exchange(g.cl.msg(dhcpv4.MessageTypeRequest, bcastFlag,
		requested(off.YourIPAddr.String()), serverID(g.srv.String())))
	if err != nil {
		return netip.Addr{}, err
	}
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		return netip.Addr{}, fmt.Errorf("got %v, want an ack", ack.MessageType())
	}
	a, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	return a, nil
}

func TestInteropBogusRequestNAK(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	_, rec, _ := n.serve(NewMemLeases(), nil)
	mac := phone.MAC{0x00, 0x1e, 0x7a, 0x00, 0x00, 0x01}
	g := n.goClient(mac)
	// The seed's phone asked for 0.68.101.80 after a reboot.
	nak, err := g.exchange(g.cl.msg(dhcpv4.MessageTypeRequest, requested("0.68.101.80")))
	if err != nil {
		t.Fatal(err)
	}
	if nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("got %v, want a NAK", nak.MessageType())
	}
	want := fmt.Sprintf("NAK: 0.68.101.80 is not in %v", n.prefix)
	if ev, _ := rec.find("nak", mac); ev.Detail != want {
		t.Errorf("NAK event %q, want %q", ev.Detail, want)
	}
	a, err := g.lease()
	if err != nil {
		t.Fatal(err)
	}
	if a != n.addr(100) {
		t.Errorf("then leased %v", a)
	}
}

func TestInteropRestartSQLite(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	path := filepath.Join(t.TempDir(), "phoneboot.db")
	db, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, stop := n.serve(db, nil)
	a := phone.MAC{0x00, 0x1e, 0x7a, 0x00, 0x00, 0x0a}
	n.setMAC(a)
	vars, err := n.udhcpc()
	if err != nil {
		t.Fatal(err)
	}
	first := vars["ip"]
	stop()
	db.Close()

	db, err = store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n.serve(db, nil)
	// Another client first: it must not get a's address...
	g := n.goClient(phone.MAC{0x00, 0x1e, 0x7a, 0x00, 0x00, 0x0b})
	other, err := g.lease()
	if err != nil {
		t.Fatal(err)
	}
	if other.String() == first {
		t.Fatalf("after a restart %v went to another client", first)
	}
	// ...and a gets it back.
	vars, err = n.udhcpc()
	if err != nil {
		t.Fatal(err)
	}
	if vars["ip"] != first {
		t.Errorf("after a restart a got %s, had %s", vars["ip"], first)
	}
}

func TestInteropProbeSeesOtherServer(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	bb := testutil.Tool(t, "busybox")
	rival := n.addr(2)
	n.net.Exec(t, "ip", "addr", "add", netip.PrefixFrom(rival, 24).String(), "dev", n.cli)
	dir := t.TempDir()
	conf := filepath.Join(dir, "udhcpd.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "start %v\nend %v\ninterface %s\nlease_file %s\npidfile %s\noption subnet 255.255.255.0\n",
		n.addr(200), n.addr(210), n.cli, filepath.Join(dir, "leases"), filepath.Join(dir, "pid")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := n.net.Command(ctx, bb, "udhcpd", "-f", "-a", "100", conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// Wait until udhcpd listens on port 67 in its namespace.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := n.net.Command(ctx, "cat", "/proc/net/udp").Output()
		if strings.Contains(string(b), ":0043 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("udhcpd did not start:\n%s", out.String())
		}
	}
	s, _, _ := n.serve(NewMemLeases(), func(c *Config) { c.Probe = 800 * time.Millisecond })
	w := s.Warnings()
	want := fmt.Sprintf("another DHCP server (%v) answered on %s", rival, n.srv)
	if len(w) != 1 || !strings.HasPrefix(w[0], want) {
		t.Errorf("warnings %q, want %q", w, want)
	}
}

// TestInteropOtherInterfaceIgnored: a client on another interface of the
// same host gets nothing, though the server listens on 0.0.0.0:67.
func TestInteropOtherInterfaceIgnored(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	s, _, _ := n.serve(NewMemLeases(), nil)
	var b [3]byte
	rand.Read(b[:])
	srv2, cli2 := "pbs"+hex.EncodeToString(b[:]), "pbc"+hex.EncodeToString(b[:])
	n.net.IP(t, "link", "add", srv2, "type", "veth", "peer", "name", cli2, "netns", n.ns)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		exec.CommandContext(ctx, "ip", "link", "del", srv2).Run()
	})
	n.net.IP(t, "link", "set", srv2, "up")
	n.net.Exec(t, "ip", "link", "set", cli2, "up")
	n2 := *n
	n2.cli = cli2
	if vars, err := n2.udhcpc("-t", "2"); err == nil {
		t.Fatalf("a client on %s got %s", srv2, vars["ip"])
	}
	if st := s.Stats(); st.Received != 0 {
		t.Errorf("the server heard %d datagrams from another interface", st.Received)
	}
}
