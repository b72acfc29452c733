package analyze

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/discovery"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/tftp"
)

var (
	phoneA = hostAt("00:13:7F:38:B3:DE", "10.1.1.50")
	server = hostAt("52:54:00:00:00:01", "10.1.1.2")
	other  = hostAt("52:54:00:00:00:02", "10.1.1.3")
)

func rules(v fleet.View) []string {
	var out []string
	for _, f := range v.Findings {
		out = append(out, f.Rule+"/"+f.Severity)
	}
	return out
}

func one(t *testing.T, res *Result, mac phone.MAC) fleet.View {
	t.Helper()
	for _, v := range res.Phones {
		if v.MAC == mac {
			return v
		}
	}
	var macs []string
	for _, v := range res.Phones {
		macs = append(macs, v.MAC.String())
	}
	t.Fatalf("phone %s not in the result (phones: %v)", mac, macs)
	return fleet.View{}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dhcp sends a DHCP message of the phone (or the server's reply to it).
func (c *capture) dhcp(from host, to host, typ dhcpv4.MessageType, ph host, yiaddr netip.Addr, mods ...dhcpv4.Modifier) {
	mods = append([]dhcpv4.Modifier{dhcpv4.WithMessageType(typ), dhcpv4.WithHwAddr(net.HardwareAddr(ph.mac[:]))}, mods...)
	if yiaddr.IsValid() {
		mods = append(mods, dhcpv4.WithYourIP(yiaddr.AsSlice()))
	}
	m, err := dhcpv4.New(mods...)
	if err != nil {
		c.t.Fatal(err)
	}
	sport, dport := uint16(68), uint16(67)
	if typ == dhcpv4.MessageTypeOffer || typ == dhcpv4.MessageTypeAck || typ == dhcpv4.MessageTypeNak {
		sport, dport = 67, 68
	}
	c.udp(from, sport, to, dport, m.ToBytes())
}

// TestDHCPThenCTLLoop: a phone leases an address (chaddr binds it), then
// loops on its CTL file at a TFTP server: the CTL loop and the lease are
// its, the server named, one rules engine judges it.
func TestDHCPThenCTLLoop(t *testing.T) {
	c := newCapture(t)
	zero := host{phoneA.mac, netip.IPv4Unspecified()}
	vc := dhcpv4.WithOption(dhcpv4.OptClassIdentifier("Cisco Systems, Inc. IP Phone CP-7960G"))
	c.dhcp(zero, broadcast, dhcpv4.MessageTypeDiscover, phoneA, netip.Addr{}, vc)
	opt150 := dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(150), server.ip.AsSlice())
	c.dhcp(server, broadcast, dhcpv4.MessageTypeOffer, phoneA, phoneA.ip, opt150, dhcpv4.WithServerIP(server.ip.AsSlice()))
	c.dhcp(zero, broadcast, dhcpv4.MessageTypeRequest, phoneA, netip.Addr{}, vc, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(phoneA.ip.AsSlice())))
	c.dhcp(server, broadcast, dhcpv4.MessageTypeAck, phoneA, phoneA.ip, opt150)
	// The phone's Ethernet address is a router's here: the lease, not
	// the frame, says whose the address is.
	router := host{phone.MAC{0x52, 0x54, 0, 0, 0, 0x99}, phoneA.ip}
	for i := range 6 {
		c.now = c.now.Add(3 * time.Second)
		c.notFound(router, uint16(50000+i), server, uint16(40000+i), "CTLSEP00137F38B3DE.tlv")
	}
	res := c.result(Options{})
	if len(res.Phones) != 1 {
		t.Fatalf("want 1 phone, got %d: %+v", len(res.Phones), res.Phones)
	}
	v := one(t, res, phoneA.mac)
	if !has(rules(v), "ctl-loop/error") || v.State != "stuck" || v.Model != "7960" || v.IP != "10.1.1.50" {
		t.Errorf("row: state %q model %q ip %q findings %v", v.State, v.Model, v.IP, rules(v))
	}
	var dhcp, reqs int
	for _, ev := range v.Events {
		switch {
		case ev.Source == event.DHCP:
			dhcp++
		case ev.IsRequest():
			reqs++
			if ev.Outcome != event.NotFound || ev.Facts.Server != server.ip {
				t.Errorf("request: %+v", ev)
			}
		}
	}
	if dhcp != 4 || reqs != 6 {
		t.Errorf("%d DHCP events, %d requests; want 4, 6", dhcp, reqs)
	}
	if len(res.Servers) != 1 || res.Servers[0].Addr != server.ip || res.Servers[0].Requests != 6 {
		t.Errorf("servers: %+v", res.Servers)
	}
}

// TestTransferRetransmitsAndServers: a firmware file fetched with a
// block sent twice, from a server other than the one of the config.
func TestTransferRetransmitsAndServers(t *testing.T) {
	c := newCapture(t)
	c.get(phoneA, 50001, server, 40001, "CTLSEP00137F38B3DE.tlv", 100)
	c.get(phoneA, 50002, other, 40002, "P0030801SR02.loads", 300)
	c.get(phoneA, 50003, other, 40003, "P0030801SR02.sb2", 512*5+7, 2, 3)
	res := c.result(Options{})
	v := one(t, res, phoneA.mac)
	var img event.Event
	for _, ev := range v.Events {
		if ev.File == "P0030801SR02.sb2" {
			img = ev
		}
	}
	if img.Outcome != event.OK || img.Bytes != 512*5+7 || img.Facts.Retransmits != 2 || img.Facts.Server != other.ip {
		t.Errorf("image transfer: %+v", img)
	}
	if len(res.Servers) != 2 {
		t.Errorf("want two servers, got %+v", res.Servers)
	}
}

// TestUnansweredARP: a phone ARPs again and again for a server that is
// not there: the stale TFTP server story.
func TestUnansweredARP(t *testing.T) {
	c := newCapture(t)
	stale := netip.MustParseAddr("192.168.200.1")
	for range 5 {
		c.now = c.now.Add(2 * time.Second)
		c.arp(phoneA, stale)
	}
	c.arp(phoneA, server.ip) // answered by traffic from it:
	c.udp(server, 9, phoneA, 9, []byte("x"))
	c.arp(phoneA, server.ip)
	c.arp(phoneA, server.ip)
	res := c.result(Options{})
	v := one(t, res, phoneA.mac)
	if !has(rules(v), "arp-unanswered/error") {
		t.Fatalf("findings %v", rules(v))
	}
	if !strings.Contains(v.Findings[0].Symptom, "192.168.200.1") || strings.Contains(v.Findings[0].Symptom, server.ip.String()) {
		t.Errorf("symptom: %s", v.Findings[0].Symptom)
	}
}

// TestHTTP: a phone fetches its config over HTTP on 6970, and a missing
// file: the request line and status are read from the TCP stream.
func TestHTTP(t *testing.T) {
	c := newCapture(t)
	seq, rseq := uint32(1000), uint32(5000)
	c.tcp(phoneA, 40000, server, 6970, seq, true, false, nil)
	c.tcp(server, 6970, phoneA, 40000, rseq, true, false, nil)
	seq, rseq = seq+1, rseq+1
	req := "GET /SEP00137F38B3DE.cnf.xml HTTP/1.1\r\nHost: x\r\n\r\n"
	c.tcp(phoneA, 40000, server, 6970, seq, false, false, []byte(req[:10])) // split across segments
	c.tcp(phoneA, 40000, server, 6970, seq+10, false, false, []byte(req[10:]))
	c.tcp(phoneA, 40000, server, 6970, seq, false, false, []byte(req[:10])) // a retransmission
	seq += uint32(len(req))
	body := strings.Repeat("x", 300)
	res1 := "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + body
	c.tcp(server, 6970, phoneA, 40000, rseq, false, false, []byte(res1))
	rseq += uint32(len(res1))
	req2 := "GET /P0030801SR02.loads HTTP/1.1\r\n\r\n"
	c.tcp(phoneA, 40000, server, 6970, seq, false, false, []byte(req2))
	res2 := "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope\n"
	c.tcp(server, 6970, phoneA, 40000, rseq, false, true, []byte(res2))
	res := c.result(Options{})
	v := one(t, res, phoneA.mac)
	var got []string
	for _, ev := range v.Events {
		if ev.Source == event.HTTP {
			got = append(got, ev.File+" "+string(ev.Outcome))
		}
	}
	want := []string{"SEP00137F38B3DE.cnf.xml ok", "P0030801SR02.loads not-found"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("HTTP events %q, want %q", got, want)
	}
	if !has(rules(v), "missing-file/error") {
		t.Errorf("findings %v", rules(v))
	}
}

// TestSyslog: a line the phone logs is in its timeline.
func TestSyslog(t *testing.T) {
	c := newCapture(t)
	c.get(phoneA, 50001, server, 40001, "SEP00137F38B3DE.cnf.xml", 100)
	c.udp(phoneA, 514, server, 514, []byte("<190>1: 10.1.1.50: Dec  3 10:00:00: %PHONE-6-LOAD: loaded P0030801SR02"))
	v := one(t, c.result(Options{}), phoneA.mac)
	found := false
	for _, ev := range v.Events {
		found = found || ev.Source == event.Syslog && strings.Contains(ev.Detail, "loaded P0030801SR02")
	}
	if !found {
		t.Errorf("no syslog event: %+v", v.Events)
	}
}

// TestCDPSeedFrame: the seed page's CDP frame names the phone, its
// model and its load.
func TestCDPSeedFrame(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "discovery", "testdata", "seed-7940-cdp.hex"))
	if err != nil {
		t.Fatal(err)
	}
	var hexText strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "0x") {
			continue
		}
		f := strings.Fields(line)
		for _, w := range f[1:] {
			if len(w) != 4 {
				break
			}
			hexText.WriteString(w)
		}
	}
	frame, err := hex.DecodeString(hexText.String())
	if err != nil {
		t.Fatal(err)
	}
	c := newCapture(t)
	c.frame(frame)
	c.frame(frame) // the same again: one event per change
	res := c.result(Options{})
	mac, _ := phone.ParseMAC("00:13:7F:38:B3:DE")
	v := one(t, res, mac)
	if v.Model != "7940" || v.Load != "P00308000100" || v.IP != "192.168.200.5" || len(v.Events) != 1 {
		t.Errorf("row %+v, %d events", v.Row, len(v.Events))
	}
}

// TestDamage: a capture cut in the middle of a packet is analysed up to
// it, and the damage says where.
func TestDamage(t *testing.T) {
	c := newCapture(t)
	for i := range 4 {
		c.notFound(phoneA, uint16(50000+i), server, uint16(40000+i), "CTLSEP00137F38B3DE.tlv")
	}
	full := c.bytes()
	cut := full[:len(full)-7]
	res, err := Read(bytes.NewReader(cut), Options{})
	if !errors.Is(err, ErrDamaged) || res == nil || res.Damage == nil {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if res.Damage.Packet != 8 || res.Packets != 7 || res.Damage.Offset <= 24 || int(res.Damage.Offset) >= len(cut) {
		t.Errorf("damage %+v after %d packets", res.Damage, res.Packets)
	}
	if !strings.Contains(res.Damage.String(), "cut short") {
		t.Errorf("damage says %q", res.Damage)
	}
	v := one(t, res, phoneA.mac)
	if len(v.Events) != 4 {
		t.Errorf("%d events before the damage, want 4", len(v.Events))
	}
	// A record whose length is absurd: damage, not a crash or a huge
	// allocation.
	bad := bytes.Clone(full)
	bad[24+8], bad[24+9], bad[24+10], bad[24+11] = 0xff, 0xff, 0xff, 0x7f
	if res, err := Read(bytes.NewReader(bad), Options{}); !errors.Is(err, ErrDamaged) || res.Damage.Packet != 1 {
		t.Errorf("absurd length: err %v", err)
	}
}

// TestNotACapture: the error says what the file is not.
func TestNotACapture(t *testing.T) {
	for _, in := range []string{"", "hello world, this is text", "\x0a\x0d\x0d\x0a"} {
		_, err := Read(strings.NewReader(in), Options{})
		if err == nil || errors.Is(err, ErrDamaged) {
			t.Errorf("%q: err %v", in, err)
		}
	}
}

// TestMalformedPackets: broken datagrams are counted and described,
// the rest analysed.
func TestMalformedPackets(t *testing.T) {
	c := newCapture(t)
	c.udp(phoneA, 50000, server, 69, []byte{0, 1, 'x'}) // RRQ without NULs
	c.udp(phoneA, 68, server, 67, []byte{1, 2, 3})      // not DHCP
	c.frame([]byte{1, 2, 3})                            // not even Ethernet
	c.get(phoneA, 50001, server, 40001, "SEP00137F38B3DE.cnf.xml", 10)
	res := c.result(Options{})
	if res.Malformed != 2 || len(res.Problems) != 2 || res.Skipped == 0 {
		t.Errorf("malformed %d %q, skipped %d", res.Malformed, res.Problems, res.Skipped)
	}
	if v := one(t, res, phoneA.mac); len(v.Events) != 1 {
		t.Errorf("events %+v", v.Events)
	}
}

// TestBounded: more transfers at once than the limit are counted, not
// followed; events past the per-phone limit are trimmed, oldest first.
func TestBounded(t *testing.T) {
	c := newCapture(t)
	for i := range 50 {
		c.udp(phoneA, uint16(20000+i), server, 69, tftp.AppendRequest(nil, tftp.OpRRQ, "SEP00137F38B3DE.cnf.xml", tftp.ModeOctet))
	}
	res := c.result(Options{MaxTransfers: 10, MaxEvents: 20})
	if res.Dropped.Transfers != 40 {
		t.Errorf("dropped %+v", res.Dropped)
	}
	if v := one(t, res, phoneA.mac); len(v.Events) > 20 {
		t.Errorf("%d events kept", len(v.Events))
	}
	// A limit on all events, whatever the number of phones.
	res = c.result(Options{MaxAll: 5})
	if n := len(one(t, res, phoneA.mac).Events); n != 5 || res.Dropped.Events != 45 {
		t.Errorf("%d events kept, dropped %+v", n, res.Dropped)
	}
}

// TestConfigLoopAndDHCPLoop: a 79x1 asking for a SEP file that is not
// there, again and again, and a phone that takes no DHCP offer: the
// same rules as the live server's.
func TestConfigLoopAndDHCPLoop(t *testing.T) {
	c := newCapture(t)
	for i := range 12 {
		c.now = c.now.Add(20 * time.Second)
		c.notFound(phoneA, uint16(50000+i), server, uint16(40000+i), "SEP00137F38B3DE.cnf.xml")
	}
	b := hostAt("00:13:7F:00:00:BB", "0.0.0.0")
	for range 5 {
		c.now = c.now.Add(4 * time.Second)
		c.dhcp(b, broadcast, dhcpv4.MessageTypeDiscover, b, netip.Addr{})
		c.dhcp(server, broadcast, dhcpv4.MessageTypeOffer, b, netip.MustParseAddr("10.1.1.77"))
	}
	res := c.result(Options{})
	if v := one(t, res, phoneA.mac); !has(rules(v), "config-loop/error") {
		t.Errorf("config loop: %v", rules(v))
	}
	if v := one(t, res, b.mac); !has(rules(v), "dhcp-discover-loop/error") {
		t.Errorf("DHCP loop: %v", rules(v))
	}
}

// TestLLDP: a 79x1's LLDP-MED frame names its model and load; a frame
// that claims another phone's device ID teaches nothing.
func TestLLDP(t *testing.T) {
	mac, _ := phone.ParseMAC("00:1B:D4:00:00:61")
	n := discovery.Neighbor{Protocol: discovery.LLDP, SourceMAC: mac, MAC: mac, DeviceID: "SEP001BD4000061",
		Platform: "Cisco IP Phone 7961", Software: "SIP41.9-4-2SR3-1S", Addresses: []netip.Addr{netip.MustParseAddr("10.1.1.61")}, Capabilities: []string{"phone"}}
	frame, err := discovery.EncodeLLDP(n, false)
	if err != nil {
		t.Fatal(err)
	}
	liar := n
	liar.SourceMAC = phone.MAC{0x52, 0x54, 0, 0, 0, 0x66}
	lie, err := discovery.EncodeLLDP(liar, false)
	if err != nil {
		t.Fatal(err)
	}
	c := newCapture(t)
	c.frame(frame)
	c.frame(lie)
	res := c.result(Options{})
	if len(res.Phones) != 1 {
		t.Fatalf("phones %+v", res.Phones)
	}
	v := one(t, res, mac)
	if v.Model != "7961" || v.Load != "SIP41.9-4-2SR3-1S" || v.Events[0].Source != event.LLDP {
		t.Errorf("row %+v events %+v", v.Row, v.Events)
	}
}
