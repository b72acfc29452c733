package discovery

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"phoneboot/internal/phone"
)

// readHexDump reads tcpdump -XX lines ("0x0000: 0100 0ccc … ascii"):
// the offset, then up to eight groups of hex digits.
func readHexDump(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "0x") {
			continue
		}
		_, rest, _ := strings.Cut(line, ":")
		for i, g := range strings.Fields(rest) {
			if i == 8 || len(g) > 4 || len(g)%2 != 0 {
				break // the ASCII column
			}
			b, err := hex.DecodeString(g)
			if err != nil {
				break
			}
			out = append(out, b...)
		}
	}
	return out
}

func mustMAC(t testing.TB, s string) phone.MAC {
	t.Helper()
	m, err := phone.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The frame on the seed page: a 7940 after a factory reset.
func TestSeed7940(t *testing.T) {
	frame := readHexDump(t, filepath.Join("testdata", "seed-7940-cdp.hex"))
	if len(frame) != 130 {
		t.Fatalf("fixture is %d bytes, tcpdump said 130", len(frame))
	}
	n, ok, err := Decode(frame)
	if err != nil || !ok {
		t.Fatalf("Decode = ok %v, %v", ok, err)
	}
	mac := mustMAC(t, "00:13:7f:38:b3:de")
	want := Neighbor{Protocol: CDP, SourceMAC: mac, DeviceID: "SEP00137F38B3DE", MAC: mac,
		Addresses: []netip.Addr{netip.MustParseAddr("192.168.200.5")}, Port: "Port 1", Capabilities: []string{"host"},
		Software: "P00308000100", Platform: "Cisco IP Phone 7940", Model: "7940", PowerMW: 6300, TTL: 180 * time.Second}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("Decode =\n%+v\nwant\n%+v", n, want)
	}
	if !n.IsPhone() || !n.OwnMAC() {
		t.Errorf("IsPhone %v OwnMAC %v, want both", n.IsPhone(), n.OwnMAC())
	}
	// The checksum the phone computed is the one EncodeCDP computes.
	pdu := frame[22 : 14+0x74]
	if got, want := CDPChecksum(pdu), uint16(0x2402); got != want {
		t.Errorf("CDPChecksum = %#04x, the phone sent %#04x", got, want)
	}
}

// EncodeCDP rebuilds the seed frame byte for byte (but the duplex TLV,
// which phoneboot does not write).
func TestEncodeCDPRoundTrip(t *testing.T) {
	frame := readHexDump(t, filepath.Join("testdata", "seed-7940-cdp.hex"))
	n, _, _ := Decode(frame)
	b, err := EncodeCDP(n, false)
	if err != nil {
		t.Fatal(err)
	}
	back, ok, err := Decode(b)
	if err != nil || !ok {
		t.Fatalf("Decode(EncodeCDP) = %v, %v", ok, err)
	}
	if !reflect.DeepEqual(back, n) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", back, n)
	}
	// Same TLVs up to the duplex one: header and the first seven.
	if i := bytes.Index(frame, []byte{0x00, 0x0b, 0x00, 0x05}); i < 0 || !bytes.Equal(b[26:i], frame[26:i]) {
		t.Errorf("TLVs differ from the phone's:\n%x\n%x", b[26:], frame[26:])
	}
}

func TestDecodeBuilt(t *testing.T) {
	phoneMAC := mustMAC(t, "00:1b:d4:00:79:60")
	swMAC := mustMAC(t, "00:0d:65:aa:bb:01")
	m7971 := mustMAC(t, "00:1e:7a:00:79:71")
	cases := []struct {
		name  string
		frame func() ([]byte, error)
		want  Neighbor
	}{
		{"7960 SIP with VoIP VLAN query", func() ([]byte, error) {
			return EncodeCDP(Neighbor{SourceMAC: phoneMAC, DeviceID: "SIP001BD4007960", Port: "Port 1",
				Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.60")}, Capabilities: []string{"host", "phone"},
				Software: "P0S3-08-12-00", Platform: "Cisco IP Phone 7960", PowerMW: 6300, VoiceVLANQuery: true, TTL: 180 * time.Second}, false)
		}, Neighbor{Protocol: CDP, SourceMAC: phoneMAC, DeviceID: "SIP001BD4007960", MAC: phoneMAC, Port: "Port 1",
			Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.60")}, Capabilities: []string{"host", "phone"},
			Software: "P0S3-08-12-00", Platform: "Cisco IP Phone 7960", Model: "7960", PowerMW: 6300, VoiceVLANQuery: true, TTL: 180 * time.Second}},
		{"switch's VoIP VLAN reply", func() ([]byte, error) {
			return EncodeCDP(Neighbor{SourceMAC: swMAC, DeviceID: "access-sw1", Port: "FastEthernet0/7",
				Capabilities: []string{"switch", "igmp"}, Software: "Cisco IOS Software, C2960", Platform: "cisco WS-C2960-24PC-L",
				NativeVLAN: 10, VoiceVLAN: 110, TTL: 180 * time.Second}, true)
		}, Neighbor{Protocol: CDP, SourceMAC: swMAC, DeviceID: "access-sw1", MAC: swMAC, Port: "FastEthernet0/7",
			Capabilities: []string{"switch", "igmp"}, Software: "Cisco IOS Software, C2960", Platform: "cisco WS-C2960-24PC-L",
			NativeVLAN: 10, VoiceVLAN: 110, TTL: 180 * time.Second}},
		{"7971 LLDP-MED with voice policy", func() ([]byte, error) {
			return EncodeLLDP(Neighbor{SourceMAC: m7971, DeviceID: "SEP001E7A007971.cisco.com", Port: "SW PORT",
				Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.71")}, Capabilities: []string{"bridge", "phone"},
				Software: "SCCP70.8-3-3SR2S", Platform: "CP-7971G-GE", PowerMW: 12900, VoiceVLAN: 110, TTL: 180 * time.Second}, true)
		}, Neighbor{Protocol: LLDP, SourceMAC: m7971, DeviceID: "SEP001E7A007971.cisco.com", MAC: m7971, Port: "SW PORT",
			Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.71")}, Capabilities: []string{"bridge", "phone"},
			Software: "SCCP70.8-3-3SR2S", Platform: "CP-7971G-GE", Model: "7971", PowerMW: 12900, VoiceVLAN: 110, TTL: 180 * time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.frame()
			if err != nil {
				t.Fatal(err)
			}
			n, ok, err := Decode(b)
			if err != nil || !ok {
				t.Fatalf("Decode = %v, %v", ok, err)
			}
			if !reflect.DeepEqual(n, c.want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", n, c.want)
			}
		})
	}
}

// A frame whose device ID names another MAC than its source is decoded
// as such: MAC says what it claims, OwnMAC that it is not its own.
func TestForeignDeviceID(t *testing.T) {
	src := mustMAC(t, "02:00:00:00:00:01")
	b, _ := EncodeCDP(Neighbor{SourceMAC: src, DeviceID: "SEP00137F38B3DE", Platform: "Cisco IP Phone 7940"}, false)
	n, ok, err := Decode(b)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n.MAC != mustMAC(t, "00137F38B3DE") || n.OwnMAC() {
		t.Errorf("MAC %s OwnMAC %v", n.MAC, n.OwnMAC())
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", 200)
	b, _ := EncodeCDP(Neighbor{SourceMAC: mustMAC(t, "02:00:00:00:00:02"), DeviceID: "x", Platform: long, Software: "\x1b[2J" + long}, false)
	n, _, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Platform) > MaxString || len(n.Software) > MaxString || !strings.HasPrefix(n.Software, "\x1b[2J") {
		t.Errorf("Platform %d bytes, Software %q", len(n.Platform), n.Software)
	}
	if !strings.HasSuffix(n.Platform, "é") {
		t.Errorf("cut inside a character: %q", n.Platform[len(n.Platform)-4:])
	}
}

func TestDecodeNotOurs(t *testing.T) {
	arp, _ := hex.DecodeString("ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002")
	for _, b := range [][]byte{nil, {1, 2, 3}, arp} {
		if _, ok, err := Decode(b); ok || err != nil {
			t.Errorf("Decode(%x) = %v, %v; want not ours", b, ok, err)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	seed := readHexDump(t, filepath.Join("testdata", "seed-7940-cdp.hex"))
	cut := func(n int) []byte { return append([]byte(nil), seed[:n]...) }
	set := func(i int, v ...byte) []byte { b := append([]byte(nil), seed...); copy(b[i:], v); return b }
	cases := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"CDP version 9", set(22, 9), "CDP frame from 00:13:7f:38:b3:de: CDP version 9 (want 1 or 2)"},
		{"TLV longer than the frame", set(26, 0x00, 0x01, 0x01, 0x00), "TLV 0x0001 (Device ID) at CDP byte 4 claims 256 bytes, 104 are left"},
		{"TLV length 2", set(26, 0x00, 0x01, 0x00, 0x02), "TLV 0x0001 (Device ID) at CDP byte 4 has length 2, less than its own header (4)"},
		{"address count too big", set(0x2f, 0x00, 0x11, 0x7f, 0xff, 0xff, 0xff), "Address"},
		{"CDP header cut", cut(24), "the CDP header is cut: 2 bytes, want 4"},
		{"TLV cut", cut(30), "TLV 0x0001 (Device ID) at CDP byte 4 claims 19 bytes, 4 are left"},
	}
	m := phone.MAC{0x00, 0x1e, 0x7a, 0, 0x79, 0x71}
	lldp, err := EncodeLLDP(Neighbor{SourceMAC: m, DeviceID: "SEP001E7A007971", Port: "SW PORT"}, true)
	if err != nil {
		t.Fatal(err)
	}
	lset := func(i int, v ...byte) []byte { b := append([]byte(nil), lldp...); copy(b[i:], v); return b }
	cases = append(cases, []struct {
		name  string
		frame []byte
		want  string
	}{
		{"LLDP TLV too long", lset(14, 0x03, 0xff), "LLDP frame from 00:1e:7a:00:79:71: TLV 1 (Chassis ID) at LLDP byte 0 claims 511 bytes"},
		{"LLDP Port ID first", lset(14, 0x04), "TLV 1 at LLDP byte 0 is Port ID, where Chassis ID must be"},
		{"LLDP without End", lldp[:len(lldp)-2], "no End TLV"},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, ok, err := Decode(c.frame)
			if !ok || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode = %v, %v; want an error with %q", ok, err, c.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(readHexDump(f, filepath.Join("testdata", "seed-7940-cdp.hex")))
	mac := phone.MAC{0x00, 0x1e, 0x7a, 0, 0x79, 0x71}
	if b, err := EncodeLLDP(Neighbor{SourceMAC: mac, DeviceID: "SEP001E7A007971", Port: "SW PORT", Capabilities: []string{"phone"},
		Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.71")}, Software: "SCCP70.8-3-3SR2S", Platform: "CP-7971G-GE", PowerMW: 12000, VoiceVLAN: 110}, true); err == nil {
		f.Add(b)
	}
	if b, err := EncodeCDP(Neighbor{SourceMAC: mac, DeviceID: "sw", NativeVLAN: 1, VoiceVLAN: 0, VoiceVLANQuery: true,
		Addresses: []netip.Addr{netip.MustParseAddr("fe80::1")}}, true); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok, err := Decode(b)
		if err != nil && !ok {
			t.Fatalf("an error for a frame that is not ours: %v", err)
		}
		if len(n.DeviceID) > MaxString || len(n.Platform) > MaxString || len(n.Software) > MaxString || len(n.Port) > MaxString ||
			len(n.Addresses) > MaxAddresses || len(n.Capabilities) > MaxCapabilities {
			t.Fatalf("unbounded: %+v", n)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	frame := readHexDump(b, filepath.Join("testdata", "seed-7940-cdp.hex"))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := Decode(frame); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// CDP version 1 decodes the same (the checksum is not checked).
func TestDecodeCDPv1(t *testing.T) {
	frame := readHexDump(t, filepath.Join("testdata", "seed-7940-cdp.hex"))
	frame[22] = 1
	n, ok, err := Decode(frame)
	if !ok || err != nil || n.DeviceID != "SEP00137F38B3DE" || n.Software != "P00308000100" {
		t.Errorf("Decode = %+v, %v, %v", n, ok, err)
	}
}

// A phone says a policy for voice and one for voice signalling: the
// voice VLAN is the voice one's, whichever comes last.
func TestDecodeLLDPTwoPolicies(t *testing.T) {
	m := phone.MAC{0x00, 0x1e, 0x7a, 0, 0x79, 0x71}
	l := &layers.LinkLayerDiscovery{ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeMACAddr, ID: m[:]},
		PortID: layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte("SW PORT")}, TTL: 180}
	policy := func(app byte, vlan int) layers.LinkLayerDiscoveryValue {
		b := uint32(1)<<22 | uint32(vlan)<<9 | 5<<6 | 46
		v := []byte{0x00, 0x12, 0xbb, 2, app, byte(b >> 16), byte(b >> 8), byte(b)}
		return layers.LinkLayerDiscoveryValue{Type: layers.LLDPTLVOrgSpecific, Length: uint16(len(v)), Value: v}
	}
	l.Values = []layers.LinkLayerDiscoveryValue{
		{Type: layers.LLDPTLVSysName, Length: 15, Value: []byte("SEP001E7A007971")},
		policy(1, 110), policy(2, 111)}
	b, err := serialize(&layers.Ethernet{SrcMAC: m[:], DstMAC: LLDPGroup[:], EthernetType: layers.EthernetTypeLinkLayerDiscovery}, l)
	if err != nil {
		t.Fatal(err)
	}
	n, ok, err := Decode(b)
	if !ok || err != nil || n.VoiceVLAN != 110 || n.MAC != m {
		t.Errorf("Decode = %+v, %v, %v", n, ok, err)
	}
}
