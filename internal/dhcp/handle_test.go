package dhcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"phoneboot/internal/phone"
)

var (
	testSelf  = netip.MustParseAddr("10.0.0.1")
	testIface = ifaceInfo{name: "test0", addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}
	vc7960    = "Cisco Systems, Inc. IP Phone CP-7960G\x00"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// harness is a server over MemLeases with a clock the test moves.
type harness struct {
	t      testing.TB
	s      *Server
	leases *MemLeases
	now    time.Time
	mu     sync.Mutex
	events []Event
}

func newHarness(t testing.TB, leases *MemLeases, mod func(*Config)) *harness {
	t.Helper()
	if leases == nil {
		leases = NewMemLeases()
	}
	h := newHarnessOn(t, testIface, leases, mod)
	h.leases = leases
	return h
}

// newHarnessOn is a harness on iface over any Leases (h.leases is nil
// unless they are a MemLeases).
func newHarnessOn(t testing.TB, iface ifaceInfo, leases Leases, mod func(*Config)) *harness {
	t.Helper()
	cfg := Config{
		Range:  [2]netip.Addr{ip("10.0.0.50"), ip("10.0.0.59")},
		Router: ip("10.0.0.254"), DNS: []netip.Addr{ip("10.0.0.2")}, Domain: "lab.example",
		NTP: []netip.Addr{ip("10.0.0.3")}, LeaseTime: time.Hour, Probe: -1,
	}
	if mod != nil {
		mod(&cfg)
	}
	h := &harness{t: t, now: time.UnixMilli(1_800_000_000_000)}
	s, err := newServer(cfg, iface, leases, nil, func(ev Event) {
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.now
	}
	if err := s.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.s = s
	return h
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func (h *harness) lastEvents(n int) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events[max(0, len(h.events)-n):])
}

// mustEvents returns the last n events, failing the test if there are
// fewer.
func (h *harness) mustEvents(n int) []Event {
	h.t.Helper()
	evs := h.lastEvents(n)
	if len(evs) < n {
		h.t.Fatalf("%d events, want at least %d: %+v", len(evs), n, evs)
	}
	return evs
}

// lastEvent returns the latest event, failing the test if there is none.
func (h *harness) lastEvent() Event {
	h.t.Helper()
	return h.mustEvents(1)[0]
}

// expect handles b and fails the test unless the reply is a want.
func (h *harness) expect(b []byte, want dhcpv4.MessageType) (*dhcpv4.DHCPv4, *reply) {
	h.t.Helper()
	m, r := h.do(b)
	if m == nil || m.MessageType() != want {
		h.t.Fatalf("got %s, want %v; last events %+v", kind(m), want, h.lastEvents(2))
	}
	return m, r
}

// kind names a reply's message type, or says there was none.
func kind(m *dhcpv4.DHCPv4) string {
	if m == nil {
		return "no reply"
	}
	return m.MessageType().String()
}

// client builds client messages.
type client struct {
	mac    phone.MAC
	vc     string
	params []uint8
	xid    byte
}

func newClient(last byte) *client {
	return &client{mac: phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, last}, params: []uint8{1, 3, 6}}
}

func (c *client) msg(t dhcpv4.MessageType, mods ...func(*dhcpv4.DHCPv4)) []byte {
	c.xid++
	m := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, ClientHWAddr: c.mac[:],
		TransactionID: dhcpv4.TransactionID{c.mac[5], c.xid}, Options: dhcpv4.Options{},
	}
	m.UpdateOption(dhcpv4.OptMessageType(t))
	if c.params != nil {
		m.Options[dhcpv4.OptionParameterRequestList.Code()] = c.params
	}
	if c.vc != "" {
		m.Options[dhcpv4.OptionClassIdentifier.Code()] = []byte(c.vc)
		m.Options[dhcpv4.OptionHostName.Code()] = []byte(c.mac.DeviceName())
	}
	for _, f := range mods {
		f(m)
	}
	return m.ToBytes()
}

func requested(a string) func(*dhcpv4.DHCPv4) {
	return func(m *dhcpv4.DHCPv4) { m.UpdateOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(a))) }
}

func serverID(a string) func(*dhcpv4.DHCPv4) {
	return func(m *dhcpv4.DHCPv4) { m.UpdateOption(dhcpv4.OptServerIdentifier(net.ParseIP(a))) }
}

func ciaddr(a string) func(*dhcpv4.DHCPv4) {
	return func(m *dhcpv4.DHCPv4) { m.ClientIPAddr = net.ParseIP(a).To4() }
}

func giaddr(a string) func(*dhcpv4.DHCPv4) {
	return func(m *dhcpv4.DHCPv4) { m.GatewayIPAddr = net.ParseIP(a).To4() }
}

func bcastFlag(m *dhcpv4.DHCPv4) { m.SetBroadcast() }

// do handles b and decodes the reply (nil: none).
func (h *harness) do(b []byte) (*dhcpv4.DHCPv4, *reply) {
	h.t.Helper()
	r := h.s.handle(context.Background(), b, netip.AddrPortFrom(netip.IPv4Unspecified(), 68))
	if r == nil {
		return nil, nil
	}
	// Errorf, not Fatalf: concurrent tests call do from their goroutines.
	m, err := dhcpv4.FromBytes(r.b)
	if err != nil {
		h.t.Errorf("reply does not parse: %v", err)
		return nil, nil
	}
	if len(r.b) > maxReply {
		h.t.Errorf("reply of %d bytes", len(r.b))
	}
	return m, r
}

// lease runs DISCOVER/OFFER/REQUEST/ACK and returns the address.
func (h *harness) lease(c *client) netip.Addr {
	h.t.Helper()
	off, _ := h.do(c.msg(dhcpv4.MessageTypeDiscover))
	if off == nil || off.MessageType() != dhcpv4.MessageTypeOffer {
		h.t.Fatalf("no offer for %v: %+v", c.mac, h.lastEvents(2))
	}
	ack, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, requested(off.YourIPAddr.String()), serverID(testSelf.String())))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		h.t.Fatalf("no ack for %v: %v", c.mac, h.lastEvents(2))
	}
	a, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	return a
}

func optCodes(m *dhcpv4.DHCPv4) []int {
	var out []int
	for c := range m.Options {
		out = append(out, int(c))
	}
	slices.Sort(out)
	return out
}

func TestOptionSelection(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		c.Overrides = []Override{{Model: "7940", TFTP: []netip.Addr{ip("10.0.0.9"), ip("10.0.0.10")}, LeaseTime: 2 * time.Hour}}
	})
	for _, tc := range []struct {
		name   string
		vc     string
		params []uint8
		want   []int
	}{
		{"plain asks 1,3", "", []uint8{1, 3}, []int{1, 3, 51, 53, 54}},
		{"plain asks everything", "", []uint8{1, 3, 6, 15, 42, 58, 59, 66, 150, 12, 28}, []int{1, 3, 6, 15, 42, 51, 53, 54, 58, 59, 66, 150}},
		{"no list gets defaults", "", nil, []int{1, 3, 6, 15, 51, 53, 54}},
		{"Cisco gets 150 unasked", vc7960, []uint8{1, 3, 6}, []int{1, 3, 6, 51, 53, 54, 150}},
		{"Cisco without NUL, asks 66", strings.TrimSuffix(vc7960, "\x00"), []uint8{1, 66}, []int{1, 51, 53, 54, 66, 150}},
		{"unknown vendor class", "MSFT 5.0", []uint8{1}, []int{1, 51, 53, 54}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(byte(len(tc.name)))
			c.vc, c.params = tc.vc, tc.params
			off, _ := h.do(c.msg(dhcpv4.MessageTypeDiscover))
			if off == nil {
				t.Fatal("no offer")
			}
			if got := optCodes(off); !slices.Equal(got, tc.want) {
				t.Errorf("options %v, want %v", got, tc.want)
			}
			if got := off.ServerIPAddr.String(); got != testSelf.String() {
				t.Errorf("siaddr %s", got)
			}
			if v := off.Options.Get(dhcpv4.OptionTFTPServerAddress); v != nil && !bytes.Equal(v, testSelf.AsSlice()) {
				t.Errorf("option 150 = %v", v)
			}
			if v := off.Options.Get(dhcpv4.OptionTFTPServerName); v != nil && string(v) != "10.0.0.1" {
				t.Errorf("option 66 = %q", v)
			}
		})
	}
	// The 7940 override: two TFTP servers, 66 the first, 2h lease.
	c := newClient(0x40)
	c.vc, c.params = "Cisco Systems, Inc. IP Phone CP-7940G\x00", []uint8{66, 150, 58}
	off, _ := h.expect(c.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	ips := dhcpv4.GetIPs(dhcpv4.OptionTFTPServerAddress, off.Options)
	if len(ips) != 2 || !ips[0].Equal(net.ParseIP("10.0.0.9")) || !ips[1].Equal(net.ParseIP("10.0.0.10")) {
		t.Errorf("override 150 = %v", ips)
	}
	if got := off.TFTPServerName(); got != "10.0.0.9" {
		t.Errorf("override 66 = %q", got)
	}
	if got := off.IPAddressLeaseTime(0); got != 2*time.Hour {
		t.Errorf("override lease time %v", got)
	}
	if got := off.IPAddressRenewalTime(0); got != time.Hour {
		t.Errorf("T1 %v", got)
	}
	ev := h.mustEvents(2)
	if ev[0].Type != "discover" || ev[1].Type != "offer" || ev[1].Model != "7940" || ev[1].Hostname != "SEP00137F38B340" ||
		ev[1].VendorClass != "Cisco Systems, Inc. IP Phone CP-7940G" {
		t.Errorf("events %+v", ev)
	}
	if want := "offered 10.0.0.5"; !strings.HasPrefix(ev[1].Detail, want) || !strings.HasSuffix(ev[1].Detail, "for 2h, options 58,66,150") {
		t.Errorf("detail %q", ev[1].Detail)
	}
}

func TestExchangeAndEvents(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	c.vc = vc7960
	a := h.lease(c)
	if a != ip("10.0.0.50") {
		t.Fatalf("leased %v", a)
	}
	ev := h.lastEvents(4)
	var types []string
	for _, e := range ev {
		types = append(types, string(e.Type))
	}
	if !slices.Equal(types, []string{"discover", "offer", "request", "ack"}) {
		t.Fatalf("events %v", types)
	}
	if ev[3].IP != a || ev[3].Model != "7960" || ev[3].Detail != "leased 10.0.0.50 for 1h, options 1,3,6,150" {
		t.Errorf("ack event %+v", ev[3])
	}
	ls, _ := h.leases.Leases(context.Background())
	if len(ls) != 1 || ls[0].MAC != c.mac || ls[0].IP != a || !ls[0].Expires.Equal(h.now.Add(time.Hour)) ||
		ls[0].VendorClass != "Cisco Systems, Inc. IP Phone CP-7960G" || ls[0].Hostname != "SEP00137F38B301" {
		t.Errorf("stored %+v", ls)
	}
	// Renewing (unicast, ciaddr) extends it; a new DISCOVER offers the same address.
	h.advance(30 * time.Minute)
	ack, r := h.expect(c.msg(dhcpv4.MessageTypeRequest, ciaddr("10.0.0.50")), dhcpv4.MessageTypeAck)
	if r.to != netip.MustParseAddrPort("10.0.0.50:68") || r.arp {
		t.Fatalf("renew: ACK to %v (arp %v)", r.to, r.arp)
	}
	if !bytes.Equal(ack.ClientIPAddr.To4(), []byte{10, 0, 0, 50}) {
		t.Errorf("renew ciaddr %v", ack.ClientIPAddr)
	}
	off, _ := h.expect(c.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	if !off.YourIPAddr.Equal(net.ParseIP("10.0.0.50")) {
		t.Errorf("rediscover offered %v", off.YourIPAddr)
	}
	if st := h.s.Stats(); st.Leased != 1 || st.Acks != 2 || st.Offers != 2 || st.Pool != 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestNAK(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		c.Reservations = map[phone.MAC]netip.Addr{{0x00, 0x13, 0x7f, 0x38, 0xb3, 0x99}: ip("10.0.0.20")}
	})
	a, b := newClient(1), newClient(2)
	reserved := newClient(0x99)

	// The seed's phone: an INIT-REBOOT for an address of no network here.
	nak, r := h.do(a.msg(dhcpv4.MessageTypeRequest, requested("0.68.101.80")))
	if nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("got %v", nak)
	}
	if r.to != netip.MustParseAddrPort("255.255.255.255:68") || nak.YourIPAddr.To4() != nil && !nak.YourIPAddr.IsUnspecified() {
		t.Errorf("NAK to %v, yiaddr %v", r.to, nak.YourIPAddr)
	}
	ev := h.lastEvent()
	if ev.Type != "nak" || ev.Detail != "NAK: 0.68.101.80 is not in 10.0.0.0/24" || ev.Requested != ip("0.68.101.80") || ev.IP.IsValid() {
		t.Errorf("event %+v", ev)
	}
	if got := string(nak.Options.Get(dhcpv4.OptionMessage)); got != ev.Detail {
		t.Errorf("option 56 %q", got)
	}
	// ...then a normal lease.
	la := h.lease(a)
	lb := h.lease(b)

	for _, tc := range []struct {
		name string
		c    *client
		b    []byte
		want string
	}{
		{"INIT-REBOOT of another's lease", b, b.msg(dhcpv4.MessageTypeRequest, requested(la.String())), "NAK: 10.0.0.50 is leased to 00:13:7f:38:b3:01"},
		{"RENEWING another's lease", b, b.msg(dhcpv4.MessageTypeRequest, ciaddr(la.String())), "NAK: 10.0.0.50 is leased to 00:13:7f:38:b3:01"},
		{"SELECTING another's lease", b, b.msg(dhcpv4.MessageTypeRequest, requested(la.String()), serverID("10.0.0.1")), "NAK: 10.0.0.50 is leased"},
		{"outside the pool", a, a.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.7")), "NAK: 10.0.0.7 is outside the pool 10.0.0.50-10.0.0.59"},
		{"the router", a, a.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.254")), "NAK: 10.0.0.254 is the network, broadcast, router or server address"},
		{"another's reservation", a, a.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.20")), "NAK: 10.0.0.20 is reserved for 00:13:7f:38:b3:99"},
		{"reserved client asks elsewhere", reserved, reserved.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.55")), "NAK: 00:13:7f:38:b3:99 has the reserved address 10.0.0.20"},
	} {
		m, _ := h.do(tc.b)
		ev := h.lastEvent()
		if m == nil || m.MessageType() != dhcpv4.MessageTypeNak || !strings.HasPrefix(ev.Detail, tc.want) {
			t.Errorf("%s: got %v, %q", tc.name, m, ev.Detail)
		}
	}
	// Nothing leaked: a and b keep their leases, nothing else is held.
	if st := h.s.Stats(); st.Leased != 2 || st.Offered != 0 || st.Naks != 8 {
		t.Errorf("stats %+v", st)
	}
	if la != ip("10.0.0.50") || lb != ip("10.0.0.51") {
		t.Errorf("leases %v %v", la, lb)
	}
	// The reserved client gets its address, wherever it asks first.
	off, _ := h.expect(reserved.msg(dhcpv4.MessageTypeDiscover, requested("10.0.0.55")), dhcpv4.MessageTypeOffer)
	if !off.YourIPAddr.Equal(net.ParseIP("10.0.0.20")) {
		t.Errorf("reservation: offered %v", off.YourIPAddr)
	}
	// An INIT-REBOOT for a free pool address is acknowledged (authoritative).
	c := newClient(3)
	if m, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.58"))); m == nil || m.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("INIT-REBOOT of a free address: %s", kind(m))
	}
}

func TestOtherServerChosen(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.Range[1] = ip("10.0.0.50") })
	a, b := newClient(1), newClient(2)
	off, _ := h.do(a.msg(dhcpv4.MessageTypeDiscover))
	if off == nil {
		t.Fatal("no offer")
	}
	// a takes another server's offer: no answer, our offer is freed, warning.
	if m, _ := h.do(a.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.77"), serverID("10.0.0.253"))); m != nil {
		t.Fatalf("answered %v", m.MessageType())
	}
	if w := h.s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "another DHCP server (10.0.0.253) answered on test0") {
		t.Errorf("warnings %q", w)
	}
	if h.lease(b) != ip("10.0.0.50") {
		t.Error("the freed offer was not reused")
	}
}

func TestInform(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	c.params = []uint8{1, 6, 150, 58}
	m, r := h.do(c.msg(dhcpv4.MessageTypeInform, ciaddr("10.0.0.7")))
	if m == nil || m.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("got %v", m)
	}
	if r.to != netip.MustParseAddrPort("10.0.0.7:68") || r.arp {
		t.Errorf("sent to %v", r.to)
	}
	if !m.YourIPAddr.IsUnspecified() || !m.ClientIPAddr.Equal(net.ParseIP("10.0.0.7")) {
		t.Errorf("yiaddr %v ciaddr %v", m.YourIPAddr, m.ClientIPAddr)
	}
	if got := optCodes(m); !slices.Equal(got, []int{1, 6, 53, 54, 150}) {
		t.Errorf("options %v (no lease times in an INFORM ACK)", got)
	}
	if st := h.s.Stats(); st.Leased != 0 || st.Informs != 1 {
		t.Errorf("stats %+v", st)
	}
	if ev := h.lastEvent(); ev.Type != "ack" || ev.IP != ip("10.0.0.7") || ev.Detail != "answered INFORM, options 1,6,150" {
		t.Errorf("event %+v", ev)
	}
}

func TestRelease(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.Range[1] = ip("10.0.0.51") })
	a, b, c := newClient(1), newClient(2), newClient(3)
	la := h.lease(a)
	// A release for someone else's address, or another server, is ignored.
	h.do(b.msg(dhcpv4.MessageTypeRelease, ciaddr(la.String()), serverID("10.0.0.1")))
	h.do(a.msg(dhcpv4.MessageTypeRelease, ciaddr(la.String()), serverID("10.0.0.9")))
	if st := h.s.Stats(); st.Leased != 1 || st.Ignored != 2 {
		t.Fatalf("stats %+v", st)
	}
	if m, _ := h.do(a.msg(dhcpv4.MessageTypeRelease, ciaddr(la.String()), serverID("10.0.0.1"))); m != nil {
		t.Fatal("RELEASE answered")
	}
	if st := h.s.Stats(); st.Leased != 0 {
		t.Fatalf("stats %+v", st)
	}
	ls, _ := h.leases.Leases(context.Background())
	if len(ls) != 1 || !ls[0].Expires.Equal(h.now) {
		t.Errorf("stored %+v", ls)
	}
	// b gets a never-used address first; a gets its old one back.
	if got := h.lease(b); got != ip("10.0.0.51") {
		t.Errorf("b got %v", got)
	}
	if got := h.lease(a); got != la {
		t.Errorf("a got %v back", got)
	}
	// c: the pool is full.
	if m, _ := h.do(c.msg(dhcpv4.MessageTypeDiscover)); m != nil {
		t.Error("offer from a full pool")
	}
}

func TestDeclineHold(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		c.Range[1] = ip("10.0.0.51")
		c.DeclineHold = 5 * time.Minute
	})
	a, b := newClient(1), newClient(2)
	la := h.lease(a)
	// A decline of an address that is not the client's is ignored.
	h.do(b.msg(dhcpv4.MessageTypeDecline, requested(la.String()), serverID("10.0.0.1")))
	if st := h.s.Stats(); st.Declined != 0 {
		t.Fatalf("stats %+v", st)
	}
	h.do(a.msg(dhcpv4.MessageTypeDecline, requested(la.String()), serverID("10.0.0.1")))
	ev := h.lastEvent()
	if ev.Type != "decline" || !strings.HasPrefix(ev.Detail, "10.0.0.50 is in use by another host") {
		t.Errorf("event %+v", ev)
	}
	ls, _ := h.leases.Leases(context.Background())
	if len(ls) != 1 || !ls[0].Declined || ls[0].IP != la || !ls[0].Expires.Equal(h.now.Add(5*time.Minute)) {
		t.Errorf("stored %+v", ls)
	}
	// Neither a nor b get it during the hold.
	if got := h.lease(a); got != ip("10.0.0.51") {
		t.Errorf("a got %v", got)
	}
	if m, _ := h.do(b.msg(dhcpv4.MessageTypeDiscover)); m != nil {
		t.Errorf("b offered %v during the hold", m.YourIPAddr)
	}
	if m, _ := h.do(b.msg(dhcpv4.MessageTypeRequest, requested(la.String()))); m == nil || m.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("b's request of the declined address: %s", kind(m))
	}
	// The hold survives a restart.
	h2 := newHarness(t, h.leases, func(c *Config) { c.Range[1] = ip("10.0.0.51") })
	h2.now = h.now
	if st := h2.s.Stats(); st.Declined != 1 || st.Leased != 1 {
		t.Errorf("after restart: %+v", st)
	}
	h.advance(5 * time.Minute)
	if got := h.lease(b); got != la {
		t.Errorf("after the hold b got %v", got)
	}
}

func TestRelay(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	c.vc = vc7960
	agent := func(m *dhcpv4.DHCPv4) { m.Options[82] = []byte{1, 3, 'p', '1', '2'} }
	off, r := h.do(c.msg(dhcpv4.MessageTypeDiscover, giaddr("10.0.0.253"), agent))
	if off == nil || r.to != netip.MustParseAddrPort("10.0.0.253:67") || r.arp {
		t.Fatalf("offer %v to %v", off, r)
	}
	if !off.GatewayIPAddr.Equal(net.ParseIP("10.0.0.253")) || !bytes.Equal(off.Options.Get(dhcpv4.OptionRelayAgentInformation), []byte{1, 3, 'p', '1', '2'}) {
		t.Errorf("giaddr %v, option 82 %v", off.GatewayIPAddr, off.Options.Get(dhcpv4.OptionRelayAgentInformation))
	}
	nak, r := h.expect(c.msg(dhcpv4.MessageTypeRequest, requested("0.68.101.80"), giaddr("10.0.0.253")), dhcpv4.MessageTypeNak)
	if r.to != netip.MustParseAddrPort("10.0.0.253:67") || !nak.IsBroadcast() {
		t.Errorf("NAK via relay: to %v broadcast %v", r.to, nak.IsBroadcast())
	}
	// A relay on a network without a pool is ignored.
	if m, _ := h.do(c.msg(dhcpv4.MessageTypeDiscover, giaddr("192.168.7.1"))); m != nil {
		t.Error("answered a relay of another network")
	}
	if ev := h.lastEvent(); !strings.Contains(ev.Detail, "192.168.7.1, which is not in 10.0.0.0/24") {
		t.Errorf("event %+v", ev)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	_, r := h.expect(c.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	if r.to != netip.MustParseAddrPort("10.0.0.50:68") || !r.arp || r.mac != c.mac {
		t.Errorf("no flag: %+v", r)
	}
	_, r = h.expect(c.msg(dhcpv4.MessageTypeDiscover, bcastFlag), dhcpv4.MessageTypeOffer)
	if r.to != netip.MustParseAddrPort("255.255.255.255:68") || r.arp {
		t.Errorf("broadcast flag: %+v", r)
	}
	// ciaddr outside the subnet: broadcast, not a unicast nowhere.
	_, r = h.expect(c.msg(dhcpv4.MessageTypeDiscover, ciaddr("192.168.1.5")), dhcpv4.MessageTypeOffer)
	if r.to != netip.MustParseAddrPort("255.255.255.255:68") {
		t.Errorf("foreign ciaddr: %+v", r)
	}
}

func TestExhaustion(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.Range[1] = ip("10.0.0.51") })
	h.lease(newClient(1))
	h.do(newClient(2).msg(dhcpv4.MessageTypeDiscover)) // an offer holds .51
	if m, _ := h.do(newClient(3).msg(dhcpv4.MessageTypeDiscover)); m != nil {
		t.Fatalf("offered %v", m.YourIPAddr)
	}
	ev := h.lastEvent()
	if ev.Type != "discover" || ev.Detail != "no free address in 10.0.0.50-10.0.0.51 (1 leased, 1 offered, 0 declined): not offered" {
		t.Errorf("event %+v", ev)
	}
	if st := h.s.Stats(); st.Exhausted != 1 {
		t.Errorf("stats %+v", st)
	}
	// The offer runs out; then the third client gets it.
	h.advance(offerHold)
	if m, _ := h.do(newClient(3).msg(dhcpv4.MessageTypeDiscover)); m == nil || !m.YourIPAddr.Equal(net.ParseIP("10.0.0.51")) {
		t.Errorf("after the offer expired: %v", m)
	}
}

func TestStoreFailureNoAck(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	off, _ := h.expect(c.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	h.leases.mu.Lock()
	h.leases.Fail = errors.New("disk full")
	h.leases.mu.Unlock()
	if m, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, requested(off.YourIPAddr.String()), serverID("10.0.0.1"))); m != nil {
		t.Fatalf("answered %v", m.MessageType())
	}
	if st := h.s.Stats(); st.StoreErrors != 1 || st.Leased != 0 || st.Acks != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRestartKeepsLeases(t *testing.T) {
	h := newHarness(t, nil, nil)
	a, b := newClient(1), newClient(2)
	la := h.lease(a)
	h2 := newHarness(t, h.leases, nil)
	h2.now = h.now
	if got := h2.lease(b); got == la {
		t.Fatalf("b got a's address %v after a restart", got)
	}
	if got := h2.lease(a); got != la {
		t.Errorf("a got %v, had %v", got, la)
	}
	// A stored lease the configuration no longer allows is dropped.
	h3 := newHarness(t, h.leases, func(c *Config) {
		c.Reservations = map[phone.MAC]netip.Addr{newClient(9).mac: la}
	})
	if st := h3.s.Stats(); st.Leased != 1 {
		t.Errorf("after a reservation took a's address: %+v", st)
	}
	if ls, _ := h.leases.Leases(context.Background()); len(ls) != 1 {
		t.Errorf("stored %+v", ls)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	for range 2 * macBurst {
		h.do(c.msg(dhcpv4.MessageTypeDiscover))
	}
	if st := h.s.Stats(); st.RateLimited != macBurst || st.Offers != macBurst {
		t.Errorf("stats %+v", st)
	}
}

// TestUniqueUnderConcurrency: 32 clients race for 20 addresses, some asking
// for the same one; none is given twice.
func TestUniqueUnderConcurrency(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.Range[1] = ip("10.0.0.69") })
	var wg sync.WaitGroup
	got := make([]netip.Addr, 32)
	for i := range 32 {
		wg.Go(func() {
			c := newClient(byte(i))
			for try := range 3 {
				var off *dhcpv4.DHCPv4
				if i%4 == 0 && try == 0 {
					off, _ = h.do(c.msg(dhcpv4.MessageTypeDiscover, requested("10.0.0.55")))
				} else {
					off, _ = h.do(c.msg(dhcpv4.MessageTypeDiscover))
				}
				want := "10.0.0.60"
				if off != nil {
					want = off.YourIPAddr.String()
				}
				// Some go straight for an address (INIT-REBOOT), racing the offers.
				mod := []func(*dhcpv4.DHCPv4){requested(want), serverID("10.0.0.1")}
				if i%3 == 0 {
					mod = mod[:1]
				}
				ack, _ := h.do(c.msg(dhcpv4.MessageTypeRequest, mod...))
				if ack != nil && ack.MessageType() == dhcpv4.MessageTypeAck {
					got[i], _ = netip.AddrFromSlice(ack.YourIPAddr.To4())
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	n := 0
	for i, a := range got {
		if !a.IsValid() {
			continue
		}
		n++
		if j, dup := seen[a]; dup {
			t.Errorf("%v acknowledged to clients %d and %d", a, j, i)
		}
		seen[a] = i
	}
	if n != 20 {
		t.Errorf("%d clients got an address, want 20", n)
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if err := checkInvariants(h.s, h.leases, h.now); err != nil {
		t.Error(err)
	}
}

// checkInvariants: the table is consistent, no address is held for two
// clients, held addresses are allowed, and the store agrees. s.mu held.
func checkInvariants(s *Server, leases *MemLeases, now time.Time) error {
	if err := s.t.verify(now); err != nil {
		return err
	}
	for ip, e := range s.t.byIP {
		if !e.held(now) || e.declined {
			continue
		}
		if why := s.usable(ip, e.mac); why != "" {
			return fmt.Errorf("%v held for %v: %s", ip, e.mac, why)
		}
	}
	ls, _ := leases.Leases(context.Background())
	byMAC := map[phone.MAC]netip.Addr{}
	for _, l := range ls {
		if l.Declined || !now.Before(l.Expires) {
			continue
		}
		if o, dup := byMAC[l.MAC]; dup {
			return fmt.Errorf("stored: %v has %v and %v", l.MAC, o, l.IP)
		}
		byMAC[l.MAC] = l.IP
		e := s.t.byIP[l.IP]
		if e == nil || e.mac != l.MAC || !e.held(now) {
			return fmt.Errorf("stored lease %v for %v, table has %+v", l.IP, l.MAC, e)
		}
	}
	return nil
}

func TestMalformed(t *testing.T) {
	h := newHarness(t, nil, nil)
	c := newClient(1)
	good := c.msg(dhcpv4.MessageTypeDiscover)
	end := bytes.LastIndexByte(bytes.TrimRight(good, "\x00"), 255) // the End option
	with := func(opts ...byte) []byte {
		b := slices.Clone(good[:end])
		return append(b, opts...)
	}
	set := func(i int, v byte) []byte {
		b := slices.Clone(good)
		b[i] = v
		return b
	}
	for name, b := range map[string][]byte{
		"empty":                 nil,
		"truncated header":      good[:100],
		"truncated options":     good[:end-2],
		"no end option":         good[:end],
		"length past the end":   with(60, 200, 'x', 255),
		"150 list past the end": with(150, 8, 10, 0, 0, 1, 255),
		"zero-length 53":        bytes.Replace(good, []byte{53, 1, 1}, []byte{53, 0, 0}, 1),
		"zero-length 55":        bytes.Replace(good, []byte{55, 3, 1, 3, 6}, []byte{55, 0, 0, 0, 0}, 1),
		"zero-length 60":        with(60, 0, 255),
		"short option 50":       with(50, 3, 10, 0, 0, 255),
		"long option 54":        with(54, 5, 10, 0, 0, 1, 1, 255),
		"message type 9":        bytes.Replace(good, []byte{53, 1, 1}, []byte{53, 1, 9}, 1),
		"BOOTREPLY":             set(0, 2),
		"htype 6":               set(1, 6),
		"hlen 16":               set(2, 16),
		"hlen 0":                set(2, 0),
		"bad cookie":            set(236, 0),
		"multicast MAC":         set(28, 1),
		"BOOTP (no type)":       bytes.Replace(good, []byte{53, 1, 1}, []byte{0, 0, 0}, 1),
	} {
		if r := h.s.handle(context.Background(), b, netip.AddrPort{}); r != nil {
			t.Errorf("%s: answered", name)
		}
	}
	st := h.s.Stats()
	if st.Malformed != 19 || st.Offered != 0 || st.Leased != 0 {
		t.Errorf("stats %+v", st)
	}
	if m, _ := h.do(good); m == nil {
		t.Error("the good packet is not answered")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Range = [2]netip.Addr{ip("10.0.1.5"), ip("10.0.1.9")} }, "dhcp subnet: no address of test0 (10.0.0.1/24)"},
		{func(c *Config) { c.Subnet = netip.MustParsePrefix("10.0.0.0/24"); c.Range[1] = ip("10.0.1.9") }, "dhcp range: 10.0.1.9 is outside subnet 10.0.0.0/24"},
		{func(c *Config) { c.Range = [2]netip.Addr{ip("10.0.0.59"), ip("10.0.0.50")} }, "ends before it starts"},
		{func(c *Config) { c.Range[0] = netip.Addr{} }, "want two IPv4 addresses"},
		{func(c *Config) {
			c.Subnet = netip.MustParsePrefix("10.9.0.0/24")
			c.Range = [2]netip.Addr{ip("10.9.0.5"), ip("10.9.0.9")}
		}, "dhcp iface: test0 has no IPv4 address in subnet 10.9.0.0/24"},
		{func(c *Config) { c.Router = ip("10.5.0.1") }, "dhcp router: 10.5.0.1 is not in subnet"},
		{func(c *Config) { c.DNS = []netip.Addr{ip("::1")} }, "dhcp dns: ::1 is not an IPv4 address"},
		{func(c *Config) { c.LeaseTime = time.Second }, "dhcp lease time 1s"},
		{func(c *Config) {
			c.Reservations = map[phone.MAC]netip.Addr{{0, 1, 2, 3, 4, 5}: ip("10.0.0.9"), {0, 1, 2, 3, 4, 6}: ip("10.0.0.9")}
		}, "10.0.0.9 is already reserved for 00:01:02:03:04:05"},
		{func(c *Config) { c.Reservations = map[phone.MAC]netip.Addr{{0, 1, 2, 3, 4, 5}: ip("10.0.0.1")} }, "server's address"},
		{func(c *Config) { c.Overrides = []Override{{Model: "7999"}} }, `dhcp override 1: unknown phone model "7999"`},
		{func(c *Config) { c.Overrides = []Override{{}} }, "dhcp override 1: give a model or a vendor class"},
		{func(c *Config) { c.Overrides = []Override{{VendorClass: "x", TFTP: []netip.Addr{ip("::2")}}} }, `dhcp override 1 ("x") tftp: ::2`},
		{func(c *Config) {
			for i := range 80 {
				c.DNS = append(c.DNS, netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}))
			}
		}, "dhcp options: a reply with all of them is"},
	} {
		cfg := Config{Range: [2]netip.Addr{ip("10.0.0.50"), ip("10.0.0.59")}}
		tc.mod(&cfg)
		_, err := newServer(cfg, testIface, NewMemLeases(), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if _, err := New(Config{Iface: "pbnosuch0"}, NewMemLeases(), nil, nil); err == nil || !strings.Contains(err.Error(), `dhcp iface "pbnosuch0"`) {
		t.Errorf("missing interface: %v", err)
	}
	// Defaults: subnet from the interface, TFTP its address. A reservation
	// on another network is a warning.
	s, err := newServer(Config{Range: [2]netip.Addr{ip("10.0.0.50"), ip("10.0.0.59")},
		Reservations: map[phone.MAC]netip.Addr{{0, 1, 2, 3, 4, 5}: ip("10.7.0.5")}}, testIface, NewMemLeases(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) != 1 || w[0] != "reservation of 00:01:02:03:04:05 ignored: 10.7.0.5 is not in subnet 10.0.0.0/24" {
		t.Errorf("warnings %q", w)
	}
	if s.st.subnet != netip.MustParsePrefix("10.0.0.0/24") || len(s.st.base.tftp) != 1 || s.st.base.tftp[0] != testSelf || s.st.base.tftpName != "10.0.0.1" ||
		s.st.base.leaseTime != 24*time.Hour || s.st.declineHold != 10*time.Minute {
		t.Errorf("defaults %+v", s.st)
	}
}

// While the lease store cannot be reached, a client renewing the lease it
// holds is acknowledged for the rest of that stored lease (never more); a
// new client is not acknowledged; and after a failure the store is not
// asked again for storePause, so that a store that does not answer does
// not stall every client in turn. Once it answers, leases are stored again.
func TestStoreDownKnownLeasesFromMemory(t *testing.T) {
	h := newHarness(t, nil, nil)
	a, b := newClient(1), newClient(2)
	la := h.lease(a)
	h.advance(20 * time.Minute)
	h.leases.mu.Lock()
	h.leases.Fail = errors.New("nothing answers there")
	h.leases.mu.Unlock()
	ack, _ := h.expect(a.msg(dhcpv4.MessageTypeRequest, ciaddr(la.String())), dhcpv4.MessageTypeAck)
	if got := ack.IPAddressLeaseTime(0); got != 40*time.Minute {
		t.Errorf("renewal during the outage leased for %v, want the 40m left", got)
	}
	off, _ := h.expect(b.msg(dhcpv4.MessageTypeDiscover), dhcpv4.MessageTypeOffer)
	if m, _ := h.do(b.msg(dhcpv4.MessageTypeRequest, requested(off.YourIPAddr.String()), serverID("10.0.0.1"))); m != nil {
		t.Fatalf("a new client was answered %v during the outage", m.MessageType())
	}
	if ev := h.lastEvents(1); len(ev) != 1 || !strings.Contains(ev[0].Detail, "no new lease until the store answers") {
		t.Errorf("events %+v", ev)
	}
	if st := h.s.Stats(); st.StoreErrors != 1 {
		t.Errorf("%d store errors, want 1: the renewal was acknowledged", st.StoreErrors)
	}
	// The store is back, but within storePause it is not asked.
	h.leases.mu.Lock()
	h.leases.Fail = nil
	h.leases.mu.Unlock()
	if m, _ := h.do(b.msg(dhcpv4.MessageTypeRequest, requested(off.YourIPAddr.String()), serverID("10.0.0.1"))); m != nil {
		t.Fatalf("answered %v within the pause", m.MessageType())
	}
	h.advance(storePause)
	ack, _ = h.expect(a.msg(dhcpv4.MessageTypeRequest, ciaddr(la.String())), dhcpv4.MessageTypeAck)
	if got := ack.IPAddressLeaseTime(0); got != time.Hour {
		t.Errorf("renewal after the outage leased for %v, want 1h", got)
	}
	if ls, _ := h.leases.Leases(t.Context()); len(ls) != 1 || !ls[0].Expires.Equal(h.now.Add(time.Hour)) {
		t.Errorf("stored %+v", ls)
	}
}
