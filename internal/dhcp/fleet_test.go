package dhcp

import (
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/store/pgtest"
)

// TestMain stops the PostgreSQL cluster pgtest may have started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// engines runs f on each engine with a function that opens another
// handle on one database: a SQLite file, a PostgreSQL database (skipped
// without PostgreSQL, failed under PHONEBOOT_REQUIRE_INTEROP=1).
func engines(t *testing.T, f func(t *testing.T, open func() *store.Store)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			data, url := t.TempDir(), "" // SQLite: the file in data
			if engine == "postgres" {
				url = pgtest.URL(t)
			}
			f(t, func() *store.Store {
				t.Helper()
				s, err := store.OpenURL(t.Context(), data, url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// fleetIface is a node's interface on the phones' wire: 10.0.0.last/24.
func fleetIface(last byte) ifaceInfo {
	return ifaceInfo{name: "fleet0", addrs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, last}), 24)}}
}

// nodeServer is the DHCP server of node over db, answering as 10.0.0.last,
// with pool lo-hi.
func nodeServer(t *testing.T, node string, last byte, db Leases, lo, hi string, mod func(*Config)) *harness {
	return newHarnessOn(t, fleetIface(last), db, func(c *Config) {
		c.Node, c.Range = node, [2]netip.Addr{ip(lo), ip(hi)}
		c.NewLeaseBurst = 1000
		if mod != nil {
			mod(c)
		}
	})
}

// leaseFrom runs DISCOVER, REQUEST against h as 10.0.0.self, again a
// second later after a NAK (as a client backs off), 16 times at most; it
// returns the address acknowledged (zero if none) and the NAKs' texts.
// Each NAK for another node's lease takes that address out of h's pool,
// so a client gets through after as many NAKs as the other node has
// leases, at most.
func leaseFrom(h *harness, c *client, self string, want ...func(*dhcpv4.DHCPv4)) (netip.Addr, []string) {
	var naks []string
	for range 16 {
		off, _ := h.do(c.msg(dhcpv4.MessageTypeDiscover, want...))
		if off == nil || off.MessageType() != dhcpv4.MessageTypeOffer {
			return netip.Addr{}, naks
		}
		ack, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, requested(off.YourIPAddr.String()), serverID(self)))
		switch {
		case ack == nil:
			return netip.Addr{}, naks
		case ack.MessageType() == dhcpv4.MessageTypeAck:
			a, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
			return a, naks
		}
		naks = append(naks, ack.Message())
		h.advance(time.Second)
	}
	return netip.Addr{}, naks
}

// TestTwoNodesNeverLeaseOneAddress: two nodes' servers on one database,
// with the same pool (as for a moment while a range moves from one node
// to the other, or when a claim was forced): clients of both at once
// never hold one address, because the database refuses the second lease
// and the server NAKs and moves on.
func TestTwoNodesNeverLeaseOneAddress(t *testing.T) {
	engines(t, func(t *testing.T, open func() *store.Store) {
		a := nodeServer(t, "a", 1, open(), "10.0.0.50", "10.0.0.79", nil)
		b := nodeServer(t, "b", 2, open(), "10.0.0.50", "10.0.0.79", nil)
		const perNode = 12
		var (
			mu    sync.Mutex
			got   = map[netip.Addr]phone.MAC{}
			naks  int
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for i := range 2 * perNode {
			h, self := a, "10.0.0.1"
			if i%2 == 1 {
				h, self = b, "10.0.0.2"
			}
			c := newClient(byte(i))
			wg.Go(func() {
				<-start
				addr, n := leaseFrom(h, c, self)
				mu.Lock()
				defer mu.Unlock()
				naks += len(n)
				if !addr.IsValid() {
					t.Errorf("%v got no lease (NAKs %q)", c.mac, n)
					return
				}
				if other, dup := got[addr]; dup {
					t.Errorf("%v leased to %v and %v", addr, other, c.mac)
				}
				got[addr] = c.mac
			})
		}
		close(start)
		wg.Wait()
		t.Logf("%d leases, %d NAKs for addresses the other node had leased", len(got), naks)
		rows, err := open().Leases(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2*perNode {
			t.Errorf("%d lease rows, want %d", len(rows), 2*perNode)
		}
		for _, l := range rows {
			if got[l.IP] != l.MAC {
				t.Errorf("stored %+v, the client that holds %v is %v", l, l.IP, got[l.IP])
			}
		}
		// A restarted node loads its own leases only.
		a2 := nodeServer(t, "a", 1, open(), "10.0.0.50", "10.0.0.79", nil)
		if st := a2.s.Stats(); st.Leased != perNode {
			t.Errorf("a restarted knows %d leases, want its %d", st.Leased, perNode)
		}
	})
}

// TestPoolMovedToAnotherNode: b leased an address, then its range went
// to a, which does not know that lease: a's offer of it is refused by the
// database, the client is NAKed with whose it is, and a skips to the next
// address.
func TestPoolMovedToAnotherNode(t *testing.T) {
	engines(t, func(t *testing.T, open func() *store.Store) {
		b := nodeServer(t, "b", 2, open(), "10.0.0.60", "10.0.0.69", nil)
		x := newClient(1)
		if got, _ := leaseFrom(b, x, "10.0.0.2"); got != ip("10.0.0.60") {
			t.Fatalf("b leased %v", got)
		}
		a := nodeServer(t, "a", 1, open(), "10.0.0.60", "10.0.0.69", nil)
		y := newClient(2)
		got, naks := leaseFrom(a, y, "10.0.0.1")
		if got != ip("10.0.0.61") {
			t.Errorf("a leased %v, want the next free address 10.0.0.61", got)
		}
		if len(naks) != 1 || !strings.HasPrefix(naks[0], "NAK: 10.0.0.60 is leased by node b until ") {
			t.Errorf("NAKs %q, want one saying 10.0.0.60 is b's", naks)
		}
		if st := a.s.Stats(); st.Elsewhere != 1 || st.Leased != 1 || st.StoreErrors != 0 {
			t.Errorf("a's stats %+v", st)
		}
		// The address stays b's client's.
		rows, _ := open().Leases(t.Context())
		for _, l := range rows {
			if l.IP == ip("10.0.0.60") && (l.MAC != x.mac || l.Node != "b") {
				t.Errorf("10.0.0.60 is now %+v", l)
			}
		}
		// A declined address is held by every node that has it in its pool.
		b.do(x.msg(dhcpv4.MessageTypeDecline, requested("10.0.0.60"), serverID("10.0.0.2")))
		a3 := nodeServer(t, "a", 1, open(), "10.0.0.60", "10.0.0.69", nil)
		if st := a3.s.Stats(); st.Declined != 1 {
			t.Errorf("a restarted: stats %+v, want b's decline held", st)
		}
		outside := nodeServer(t, "a", 1, open(), "10.0.0.70", "10.0.0.79", nil)
		if st := outside.s.Stats(); st.Declined != 0 {
			t.Errorf("a with another pool holds b's decline: %+v", st)
		}
	})
}

// TestPhoneMovesBetweenNodes: a MAC holds one lease in the fleet; where
// it asks last is where it is.
func TestPhoneMovesBetweenNodes(t *testing.T) {
	engines(t, func(t *testing.T, open func() *store.Store) {
		db := open()
		a := nodeServer(t, "a", 1, db, "10.0.0.50", "10.0.0.59", nil)
		bIface := ifaceInfo{name: "fleet1", addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.1/24")}}
		b := newHarnessOn(t, bIface, open(), func(c *Config) {
			c.Node, c.Range, c.Router = "b", [2]netip.Addr{ip("10.0.1.50"), ip("10.0.1.59")}, netip.Addr{}
		})
		p := newClient(7)
		if got, _ := leaseFrom(a, p, "10.0.0.1"); got != ip("10.0.0.50") {
			t.Fatalf("a leased %v", got)
		}
		if got, _ := leaseFrom(b, p, "10.0.1.1"); got != ip("10.0.1.50") {
			t.Fatalf("b leased %v", got)
		}
		check := func(want store.Lease) {
			t.Helper()
			rows, err := db.Leases(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].IP != want.IP || rows[0].Node != want.Node || rows[0].MAC != p.mac {
				t.Errorf("rows %+v, want one: %v at %v by %s", rows, p.mac, want.IP, want.Node)
			}
		}
		check(store.Lease{IP: ip("10.0.1.50"), Node: "b"})
		if got, _ := leaseFrom(a, p, "10.0.0.1"); got != ip("10.0.0.50") {
			t.Fatalf("back at a: leased %v", got)
		}
		check(store.Lease{IP: ip("10.0.0.50"), Node: "a"})
	})
}

// TestReservationsAreGlobal: every node sees every reservation of the
// fleet's inventory; a node hands out only those of its subnet, and is
// silent about the others'.
func TestReservationsAreGlobal(t *testing.T) {
	r := newClient(9)
	res := map[phone.MAC]netip.Addr{r.mac: ip("10.0.0.20")}
	a := nodeServer(t, "a", 1, NewMemLeases(), "10.0.0.50", "10.0.0.59", func(c *Config) { c.Reservations = res })
	bIface := ifaceInfo{name: "fleet1", addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.1/24")}}
	b := newHarnessOn(t, bIface, NewMemLeases(), func(c *Config) {
		c.Node, c.Range, c.Router, c.Reservations = "b", [2]netip.Addr{ip("10.0.1.50"), ip("10.0.1.59")}, netip.Addr{}, res
	})
	if w := b.s.Warnings(); len(w) != 0 {
		t.Errorf("b warns of another node's reservation: %q", w)
	}
	if got, _ := leaseFrom(a, r, "10.0.0.1"); got != ip("10.0.0.20") {
		t.Errorf("a gave the reserved phone %v", got)
	}
	if got, _ := leaseFrom(b, r, "10.0.1.1"); got != ip("10.0.1.50") {
		t.Errorf("b gave the phone %v, want a pool address", got)
	}
	// A phoneboot alone still warns: there the reservation is a mistake.
	alone := newHarnessOn(t, bIface, NewMemLeases(), func(c *Config) {
		c.Range, c.Router, c.Reservations = [2]netip.Addr{ip("10.0.1.50"), ip("10.0.1.59")}, netip.Addr{}, res
	})
	if w := alone.s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "not in subnet 10.0.1.0/24") {
		t.Errorf("warnings %q", w)
	}
}

// TestConflictIsNoOutage: a refused lease is the store answering; the
// next client is not turned away as during an outage.
func TestConflictIsNoOutage(t *testing.T) {
	later := time.Now().Add(time.Hour)
	db := NewMemLeases(Lease{MAC: phone.MAC{0, 0x13, 0x7f, 0, 0, 1}, IP: ip("10.0.0.50"), Expires: later, Node: "b"})
	a := nodeServer(t, "a", 1, db, "10.0.0.50", "10.0.0.59", nil)
	c := newClient(3)
	got, naks := leaseFrom(a, c, "10.0.0.1")
	if got != ip("10.0.0.51") || len(naks) != 1 {
		t.Fatalf("leased %v after NAKs %q", got, naks)
	}
	if got, _ := leaseFrom(a, newClient(4), "10.0.0.1"); got != ip("10.0.0.52") {
		t.Errorf("next client: %v", got)
	}
	if err := checkInvariants(a.s, db, a.now); err != nil {
		t.Error(err)
	}
}
