package dhcp

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/phone"
)

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logTo sends the server's Info lines and above to a buffer.
func (h *harness) logTo() *logBuffer {
	l := &logBuffer{}
	h.s.log = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return l
}

// wide is a /24 pool of 249 addresses (10.0.0.2-10.0.0.250), the defaults
// for the new-lease limit, a lease of 1h.
func wide(c *Config) { c.Range = [2]netip.Addr{ip("10.0.0.2"), ip("10.0.0.250")} }

// rotating is the i-th MAC of a host that makes up a new one per packet.
func rotating(i int) *client {
	c := newClient(0)
	c.mac = phone.MAC{0x02, 0xee, byte(i >> 16), byte(i >> 8), byte(i), 0x01}
	return c
}

func poolAddr(i int) netip.Addr { return fromU32(u32(ip("10.0.0.2")) + uint32(i%249)) }

// TestBareRequestFlood replays issue 12 finding 9: 249 REQUESTs without
// DISCOVER, each from a new MAC and for another free address, used to
// lease the whole /24 for the full lease time at once. Now a burst of them
// gets short leases, the rest are NAKed quietly, renewals of leases are
// not limited, and a real client still gets an address.
func TestBareRequestFlood(t *testing.T) {
	h := newHarness(t, nil, wide)
	logs := h.logTo()
	var acks, naks int
	for i := range 249 {
		c := rotating(i)
		m, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, requested(poolAddr(i).String())))
		switch kind(m) {
		case "ACK":
			acks++
			if got := m.IPAddressLeaseTime(0); got != 2*time.Minute {
				t.Fatalf("bare REQUEST leased for %v, want the unconfirmed 2m", got)
			}
			if got := m.IPAddressRenewalTime(0); got != 0 && got != time.Minute {
				t.Fatalf("T1 %v", got)
			}
		case "NAK":
			naks++
			if got := string(m.Options.Get(dhcpv4.OptionMessage)); got != "NAK: too many new clients, try again later" {
				t.Fatalf("NAK says %q", got)
			}
		default:
			t.Fatalf("request %d: %s", i, kind(m))
		}
		h.advance(time.Millisecond)
	}
	if acks != DefaultNewLeaseBurst || naks != 249-DefaultNewLeaseBurst {
		t.Errorf("%d ACKs and %d NAKs, want %d and %d", acks, naks, DefaultNewLeaseBurst, 249-DefaultNewLeaseBurst)
	}
	st := h.s.Stats()
	if st.Leased != DefaultNewLeaseBurst || st.Throttled != uint64(naks) {
		t.Errorf("stats %+v", st)
	}
	// Only the admitted clients are in the timeline (request and ack each).
	h.mu.Lock()
	n := len(h.events)
	h.mu.Unlock()
	if n != 2*acks {
		t.Errorf("%d events for %d leases: the refused clients left events", n, acks)
	}
	if ev := h.lastEvent(); !strings.HasSuffix(ev.Detail, "(asked for without DISCOVER: 1h on its first renewal)") {
		t.Errorf("ack event %q", ev.Detail)
	}
	if got := strings.Count(logs.String(), "more new clients than the limit of 12 a minute (bursts of 48): 1 client refused since"); got != 1 {
		t.Errorf("%d throttle lines, want 1:\n%s", got, logs)
	}

	// The bucket is empty: renewals still go through, with the full lease.
	renewed := rotating(0)
	m, _ := h.expect(renewed.msg(dhcpv4.MessageTypeRequest, ciaddr(poolAddr(0).String())), dhcpv4.MessageTypeAck)
	if got := m.IPAddressLeaseTime(0); got != time.Hour {
		t.Errorf("renewal leased for %v, want 1h", got)
	}
	rebooted := rotating(1) // INIT-REBOOT of its own lease: a renewal too
	m, _ = h.expect(rebooted.msg(dhcpv4.MessageTypeRequest, requested(poolAddr(1).String())), dhcpv4.MessageTypeAck)
	if got := m.IPAddressLeaseTime(0); got != time.Hour {
		t.Errorf("INIT-REBOOT of its lease: %v, want 1h", got)
	}

	// A new phone waits for the next token (5 s at 12 a minute), then gets
	// a full lease of a free address.
	phone := newClient(0x60)
	phone.vc = vc7960
	if m, _ := h.do(phone.msg(dhcpv4.MessageTypeDiscover)); m != nil {
		t.Fatalf("offered %v with the bucket empty", m.YourIPAddr)
	}
	h.advance(5 * time.Second)
	a := h.lease(phone)
	if !poolAddr(DefaultNewLeaseBurst).Less(a) && a != poolAddr(DefaultNewLeaseBurst) {
		t.Errorf("phone leased %v, one of the flood's", a)
	}
	if ev := h.lastEvent(); !strings.HasPrefix(ev.Detail, "leased "+a.String()+" for 1h,") {
		t.Errorf("phone's ack %q", ev.Detail)
	}

	// Two minutes on, the flood's unrenewed leases are over.
	h.advance(2 * time.Minute)
	if st := h.s.Stats(); st.Leased != 3 {
		t.Errorf("after 2 minutes %d leases, want the 2 renewed and the phone's: %+v", st.Leased, st)
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if err := checkInvariants(h.s, h.leases, h.now); err != nil {
		t.Error(err)
	}
}

// TestNewLeaseLimit: a DISCOVER over the limit is not answered and leaves
// no event; reserved clients and clients with an offer are not limited; a
// token comes back every 60/rate seconds.
func TestNewLeaseLimit(t *testing.T) {
	reserved, listed := newClient(0x99), newClient(0x98)
	h := newHarness(t, nil, func(c *Config) {
		wide(c)
		c.NewLeasesPerMinute, c.NewLeaseBurst = 6, 2
		c.Reservations = map[phone.MAC]netip.Addr{reserved.mac: ip("10.0.0.251")}
		c.Listed = map[phone.MAC]bool{listed.mac: true}
	})
	a, b, c := newClient(1), newClient(2), newClient(3)
	h.expect(a.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	h.expect(b.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	before := len(h.lastEvents(1000))
	if m, _ := h.do(c.msg(dhcpv4.MessageTypeDiscover)); m != nil {
		t.Fatal("a third new client was offered an address")
	}
	if after := len(h.lastEvents(1000)); after != before {
		t.Errorf("the refused DISCOVER left %d events", after-before)
	}
	// a and b hold offers: their DISCOVER again and REQUEST are answered.
	h.expect(a.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	h.lease(b)
	// So is the reserved client, and its lease is full though it never
	// sent a DISCOVER.
	m, _ := h.expect(reserved.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.251")), dhcpv4.MessageTypeAck)
	if got := m.IPAddressLeaseTime(0); got != time.Hour {
		t.Errorf("reserved client leased for %v", got)
	}
	// And an inventory phone without a reservation: the admin listed it.
	h.expect(listed.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	// A bare SELECTING or RENEWING REQUEST of a new client is dropped
	// without a NAK (a renewing client keeps its address until its lease
	// ends); only INIT-REBOOT is NAKed.
	if m, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, ciaddr("10.0.0.77"))); m != nil {
		t.Errorf("RENEWING over the limit: %s", kind(m))
	}
	if m, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.77"), serverID("10.0.0.1"))); m != nil {
		t.Errorf("SELECTING over the limit: %s", kind(m))
	}
	h.advance(10 * time.Second)
	h.expect(c.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	if st := h.s.Stats(); st.Throttled != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestPoolFullSaidOnce: clients that find no free address are in their
// timeline, and the pool being full is a warning at most once a minute,
// with the count of DISCOVERs not answered.
func TestPoolFullSaidOnce(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.Range[1] = ip("10.0.0.50") })
	logs := h.logTo()
	h.lease(newClient(1))
	for i := range 3 {
		if m, _ := h.do(newClient(byte(10 + i)).msg(dhcpv4.MessageTypeDiscover)); m != nil {
			t.Fatal("offer from a full pool")
		}
	}
	first := "pool full: no free address in 10.0.0.50-10.0.0.50 (1 leased, 0 offered, 0 declined): not offered; 1 DISCOVER not answered since"
	if got := strings.Count(logs.String(), "pool full"); got != 1 || !strings.Contains(logs.String(), first) {
		t.Errorf("log:\n%s", logs)
	}
	h.advance(time.Minute)
	h.do(newClient(20).msg(dhcpv4.MessageTypeDiscover))
	if !strings.Contains(logs.String(), "not offered; 3 DISCOVERs not answered since") {
		t.Errorf("log:\n%s", logs)
	}
	if ev := h.lastEvent(); ev.Type != "discover" || !strings.HasPrefix(ev.Detail, "no free address") {
		t.Errorf("event %+v", ev)
	}
	if st := h.s.Stats(); st.Exhausted != 4 {
		t.Errorf("stats %+v", st)
	}
}

// TestInformOutsideSubnet: INFORM is answered for clients of the subnet
// only, and never allocates anything.
func TestInformOutsideSubnet(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	from := func(a string) netip.AddrPort { return netip.AddrPortFrom(ip(a), 68) }
	for _, tc := range []struct {
		name string
		b    []byte
		from netip.AddrPort
	}{
		{"ciaddr outside", c.msg(dhcpv4.MessageTypeInform, ciaddr("192.168.5.5")), from("0.0.0.0")},
		{"no ciaddr, sent from outside", c.msg(dhcpv4.MessageTypeInform), from("192.168.5.5")},
		{"ciaddr inside, sent from outside", c.msg(dhcpv4.MessageTypeInform, ciaddr("10.0.0.7")), from("192.168.5.5")},
		{"no address at all", c.msg(dhcpv4.MessageTypeInform), from("0.0.0.0")},
		{"relayed, ciaddr outside", c.msg(dhcpv4.MessageTypeInform, ciaddr("192.168.5.5"), giaddr("10.0.0.253")), from("10.0.0.253")},
	} {
		if r := h.s.handle(context.Background(), tc.b, tc.from); r != nil {
			t.Errorf("%s: answered to %v", tc.name, r.to)
		}
	}
	if st := h.s.Stats(); st.Ignored != 5 || st.Acks != 0 || len(h.lastEvents(10)) != 0 {
		t.Errorf("stats %+v, events %+v", st, h.lastEvents(10))
	}
	for _, tc := range []struct {
		name string
		b    []byte
		from netip.AddrPort
		to   string
	}{
		{"no ciaddr, sent from inside", c.msg(dhcpv4.MessageTypeInform), from("10.0.0.8"), "10.0.0.8:68"},
		{"relayed", c.msg(dhcpv4.MessageTypeInform, ciaddr("10.0.0.9"), giaddr("10.0.0.253")), from("10.0.0.253"), "10.0.0.253:67"},
	} {
		r := h.s.handle(context.Background(), tc.b, tc.from)
		if r == nil || r.to.String() != tc.to {
			t.Errorf("%s: reply %+v, want to %s", tc.name, r, tc.to)
		}
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if len(h.s.t.byIP) != 0 || len(h.s.t.byMAC) != 0 {
		t.Errorf("INFORM allocated: %+v", h.s.t.byIP)
	}
}

// TestFloodMeasured measures, on the harness' clock, how long a /24 pool
// of 249 addresses lasts with the default limit against a host that sends
// 5 packets a second from new MACs (any rate above 12 a minute is the
// same), three ways: bare REQUESTs it never
// renews, bare REQUESTs it renews at once, and full DISCOVER/REQUEST
// exchanges. Run with -v to see the numbers (docs/security.md quotes them).
func TestFloodMeasured(t *testing.T) {
	const pps, span = 5, 30 * time.Minute
	for _, way := range []string{"bare", "bare+renew", "full"} {
		t.Run(way, func(t *testing.T) {
			h := newHarness(t, nil, wide)
			start := h.now
			var full time.Duration // when a new client first found no address
			maxHeld := 0
			for i := range int(span.Seconds()) * pps {
				c := rotating(i)
				switch way {
				case "bare", "bare+renew":
					a := poolAddr(i)
					m, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, requested(a.String())))
					if way == "bare+renew" && kind(m) == "ACK" {
						h.expect(c.msg(dhcpv4.MessageTypeRequest, ciaddr(a.String())), dhcpv4.MessageTypeAck)
					}
				case "full":
					if off, _ := h.do(c.msg(dhcpv4.MessageTypeDiscover)); off != nil {
						h.expect(c.msg(dhcpv4.MessageTypeRequest, requested(off.YourIPAddr.String()), serverID("10.0.0.1")), dhcpv4.MessageTypeAck)
					}
				}
				if i%pps == 0 {
					st := h.s.Stats()
					maxHeld = max(maxHeld, st.Leased+st.Offered)
					if full == 0 && (st.Exhausted > 0 || st.Leased+st.Offered == st.Pool) {
						full = h.now.Sub(start)
					}
				}
				h.advance(time.Second / pps)
			}
			st := h.s.Stats()
			when := "never"
			if full != 0 {
				when = "after " + full.String()
			}
			t.Logf("%s: %d new MACs a second for %v: pool of %d full %s, at most %d addresses held, %d clients refused",
				way, pps, span, st.Pool, when, maxHeld, st.Throttled)
			// At most 48 at once, then 12 a minute.
			least := time.Duration(float64(st.Pool-DefaultNewLeaseBurst)/DefaultNewLeasesPerMinute*60) * time.Second
			switch {
			case way == "bare" && (full != 0 || maxHeld > DefaultNewLeaseBurst+2*DefaultNewLeasesPerMinute+1):
				t.Errorf("unrenewed bare leases: full after %v, %d held", full, maxHeld)
			case way != "bare" && full < least-time.Minute:
				t.Errorf("pool full after %v, want at least %v", full, least)
			}
		})
	}
}
