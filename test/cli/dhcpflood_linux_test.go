package cli

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/testutil"
)

// TestDHCPBareRequestFlood replays issue 12 finding 9 against phoneboot
// serve with the default limits: a host in a network namespace sends 249
// DHCP REQUESTs without DISCOVER, each from a new MAC and for another
// address of a 249-address pool (this used to lease the whole /24 for
// 24 h). Now the default burst of 48 gets 2-minute leases and the rest a
// NAK, one warning says so, a lease renews to the full 24 h though no new
// client is admitted, an INFORM from outside the subnet gets no answer,
// and busybox udhcpc then gets a free address and a full lease.
func TestDHCPBareRequestFlood(t *testing.T) {
	n := testutil.Netns(t)
	bb := testutil.Tool(t, "busybox")
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[dhcp]\ninterface = %q\nrange = \"%v-%v\"\n", n.Host, n.Addr(2), n.Addr(250))
	if err := os.WriteFile(filepath.Join(data, "phoneboot.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, _ := serveData(t, data, "--syslog-addr", "")
	p.waitLog(t, "dhcp serving", 5*time.Second)
	p.waitUDPPort(t, 67, 15*time.Second)

	c := n.ListenUDP(t, dhcpv4.ClientPort)
	send := func(m *dhcpv4.DHCPv4) {
		t.Helper()
		if _, err := c.WriteTo(m.ToBytes(), &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}); err != nil {
			t.Fatal(err)
		}
	}
	// next returns the next reply, waiting at most 3 s.
	next := func() *dhcpv4.DHCPv4 {
		t.Helper()
		buf := make([]byte, 1500)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			k, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if r, err := dhcpv4.FromBytes(buf[:k]); err == nil && r.OpCode == dhcpv4.OpcodeBootReply {
				return r
			}
		}
	}
	// ask sends m and returns the reply for its xid.
	ask := func(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
		t.Helper()
		send(m)
		for range 300 {
			if r := next(); r.TransactionID == m.TransactionID {
				return r
			}
		}
		t.Fatalf("no answer to %v of %v", m.MessageType(), m.ClientHWAddr)
		return nil
	}
	mac := func(i int) net.HardwareAddr { return net.HardwareAddr{0x02, 0xee, 0, 0, byte(i >> 8), byte(i)} }
	request := func(i int, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		t.Helper()
		a := n.Addr(byte(2 + i))
		m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac(i)), dhcpv4.WithBroadcast(true),
			dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(a.AsSlice()))}, mods...)...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	start := time.Now()
	var acked []int
	for i := range 249 {
		switch r := ask(request(i)); r.MessageType() {
		case dhcpv4.MessageTypeAck:
			acked = append(acked, i)
			if got := r.IPAddressLeaseTime(0); got != 2*time.Minute {
				t.Fatalf("bare REQUEST %d leased for %v, want 2m", i, got)
			}
		case dhcpv4.MessageTypeNak:
			if got := r.Message(); got != "NAK: too many new clients, try again later" {
				t.Fatalf("NAK %d says %q", i, got)
			}
		default:
			t.Fatalf("REQUEST %d: %v", i, r.MessageType())
		}
	}
	t.Logf("249 bare REQUESTs from rotating MACs in %v: %d leased for 2 minutes, %d refused", time.Since(start), len(acked), 249-len(acked))
	if len(acked) < 48 || len(acked) > 50 {
		t.Errorf("%d of 249 leased, want the burst of 48", len(acked))
	}
	p.waitLog(t, "more new clients than the limit of 12 a minute (bursts of 48)", 5*time.Second)

	// A flood client that renews (INIT-REBOOT of the address it holds)
	// gets the full 24 h: the bucket is empty, renewals do not wait.
	first := acked[0]
	if r := ask(request(first)); r.MessageType() != dhcpv4.MessageTypeAck || r.IPAddressLeaseTime(0) != 24*time.Hour {
		t.Fatalf("renewal: %v for %v", r.MessageType(), r.IPAddressLeaseTime(0))
	}

	// INFORM from 192.168.77.7 (an address of the namespace: an answer
	// would arrive), then from the renewed address: the first answer is
	// the second's.
	inside := n.Addr(byte(2 + first))
	n.Exec(t, "ip", "addr", "add", netip.PrefixFrom(inside, 24).String(), "dev", n.Peer)
	n.Exec(t, "ip", "addr", "add", "192.168.77.7/24", "dev", n.Peer)
	inform := func(ciaddr string) *dhcpv4.DHCPv4 {
		m, err := dhcpv4.New(dhcpv4.WithHwAddr(mac(first)), dhcpv4.WithMessageType(dhcpv4.MessageTypeInform),
			dhcpv4.WithClientIP(net.ParseIP(ciaddr)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(inform("192.168.77.7"))
	in := inform(inside.String())
	send(in)
	if r := next(); r.TransactionID != in.TransactionID || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("INFORM: the first answer is %v to xid %v, want the ACK of the INFORM from inside (%v)", r.MessageType(), r.TransactionID, in.TransactionID)
	}
	c.Close() // port 68 is udhcpc's now

	// A new phone: it waits for a token (5 s at 12 a minute) as a phone
	// that retries does, then gets a free address for the full 24 h.
	n.Exec(t, "ip", "link", "set", n.Peer, "address", "00:13:7f:00:d4:02")
	start = time.Now()
	vars, lease := udhcpc(t, n, bb, "-t", "15", "-T", "1")
	t.Logf("then udhcpc got %s in %v", vars["ip"], time.Since(start))
	got, err := netip.ParseAddr(vars["ip"])
	if err != nil || got.Less(n.Addr(2)) || n.Addr(250).Less(got) || vars["lease"] != "86400" {
		t.Fatalf("udhcpc's lease:\n%s", lease)
	}
}
