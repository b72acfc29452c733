package dhcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/phone"
)

// TestInteropBareRequestFlood replays issue 12 finding 9 on a veth pair:
// a host in the namespace sends 249 REQUESTs without DISCOVER from
// rotating MACs, each for another address of a 249-address pool (it used
// to lease all of them for a day). With the default limit, a burst gets
// short leases and the rest a NAK; a lease it got renews at once to the
// full time; an INFORM from an address outside the subnet gets no answer
// while one from inside does; busybox udhcpc, a new client, then gets a
// free address (after waiting for a token, as a phone that retries does).
func TestInteropBareRequestFlood(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	s, _, _ := n.serve(NewMemLeases(), func(c *Config) { c.Range = [2]netip.Addr{n.addr(2), n.addr(250)} })
	g := n.goClient(phone.MAC{})
	addr := func(i int) netip.Addr { return fromU32(u32(n.addr(2)) + uint32(i)) }
	start := time.Now()
	var acked []int
	for i := range 249 {
		g.cl.mac = rotating(i).mac
		m, err := g.exchange(g.cl.msg(dhcpv4.MessageTypeRequest, bcastFlag, requested(addr(i).String())))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		switch m.MessageType() {
		case dhcpv4.MessageTypeAck:
			acked = append(acked, i)
			if got := m.IPAddressLeaseTime(0); got != 2*time.Minute {
				t.Fatalf("bare REQUEST leased for %v", got)
			}
		case dhcpv4.MessageTypeNak:
		default:
			t.Fatalf("request %d: %v", i, m.MessageType())
		}
	}
	took := time.Since(start)
	st := s.Stats()
	t.Logf("249 bare REQUESTs in %v: %d leased (2m each), %d NAKed; pool %d, %d leased", took, len(acked), st.Throttled, st.Pool, st.Leased)
	if len(acked) < DefaultNewLeaseBurst || len(acked) > DefaultNewLeaseBurst+1+int(took.Minutes()*DefaultNewLeasesPerMinute) {
		t.Errorf("%d of 249 bare REQUESTs leased, want the burst of %d", len(acked), DefaultNewLeaseBurst)
	}

	// The first of the flood's clients renews (RENEWING: unicast to its
	// address, which it now has): the full hour, the bucket empty or not.
	first := addr(acked[0])
	n.net.Exec(t, "ip", "addr", "add", netip.PrefixFrom(first, 24).String(), "dev", n.cli)
	g.cl.mac = rotating(acked[0]).mac
	m, err := g.exchange(g.cl.msg(dhcpv4.MessageTypeRequest, ciaddr(first.String())))
	if err != nil || m.MessageType() != dhcpv4.MessageTypeAck || m.IPAddressLeaseTime(0) != time.Hour {
		t.Fatalf("renewal: %v %v", m, err)
	}

	// INFORM from 192.168.77.7 (an address of the namespace, so an answer
	// would arrive), then from first: the first answer is the second's.
	n.net.Exec(t, "ip", "addr", "add", "192.168.77.7/24", "dev", n.cli)
	if err := g.send(g.cl.msg(dhcpv4.MessageTypeInform, ciaddr("192.168.77.7"))); err != nil {
		t.Fatal(err)
	}
	inside := g.cl.msg(dhcpv4.MessageTypeInform, ciaddr(first.String()))
	m, err = g.exchange(inside)
	if err != nil || m.MessageType() != dhcpv4.MessageTypeAck || m.TransactionID[1] != g.cl.xid {
		t.Fatalf("INFORM: got %v (%v), want the ACK of the INFORM from inside (xid %d)", m, err, g.cl.xid)
	}
	if st := s.Stats(); st.Informs != 2 || st.Ignored != 1 {
		t.Errorf("stats %+v", st)
	}
	g.c.close() // port 68 is udhcpc's now

	mac := phone.MAC{0x00, 0x1e, 0x7a, 0x0f, 0x10, 0x0d}
	n.setMAC(mac)
	vars, err := n.udhcpc("-t", "12", "-T", "1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := netip.ParseAddr(vars["ip"])
	if err != nil || got.Less(n.addr(2)) || n.addr(250).Less(got) {
		t.Fatalf("udhcpc got %q", vars["ip"])
	}
	if vars["lease"] != "3600" {
		t.Errorf("udhcpc's lease %s s, want the full 3600", vars["lease"])
	}
	if st := s.Stats(); st.Leased != len(acked)+1 || st.Pool-st.Leased < 249-DefaultNewLeaseBurst-2 {
		t.Errorf("stats %+v", st)
	}
}
