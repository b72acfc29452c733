package stale

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"phoneboot/internal/phone"
)

func TestARPRoundTrip(t *testing.T) {
	hw := phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}
	req := RequestFor(hw, netip.MustParseAddr("10.99.0.50"), netip.MustParseAddr("10.99.0.1"))
	b := req.Frame(Broadcast)
	if len(b) != 60 || !bytes.Equal(b[:6], Broadcast[:]) {
		t.Fatalf("frame % x", b)
	}
	got, err := ParseARP(b)
	if err != nil || got != req || !got.Request() || got.Probe() {
		t.Fatalf("ParseARP = %+v, %v; want %+v", got, err, req)
	}
	p := ProbeFor(hw, netip.MustParseAddr("10.99.0.1"))
	if got, err := ParseARP(p.Frame(Broadcast)); err != nil || !got.Probe() || got.SenderIP != netip.IPv4Unspecified() {
		t.Fatalf("probe = %+v, %v", got, err)
	}
}

// A reply as a host holding 10.99.0.7 sends it to the phone (RFC 826
// layout, no Ethernet padding).
const linuxReply = "00137f38b3de" + "3a5c1e2d7f01" + "0806" + "0001" + "0800" + "06" + "04" + "0002" +
	"3a5c1e2d7f01" + "0a630007" + "00137f38b3de" + "0a630032"

func TestParseARP(t *testing.T) {
	b, _ := hex.DecodeString(linuxReply)
	a, err := ParseARP(b)
	if err != nil || a.Op != opReply || a.SenderIP != netip.MustParseAddr("10.99.0.7") || a.TargetIP != netip.MustParseAddr("10.99.0.50") {
		t.Fatalf("reply = %+v, %v", a, err)
	}
	for _, c := range []struct {
		name  string
		frame func([]byte) []byte
		want  string
	}{
		{"short", func(b []byte) []byte { return b[:41] }, "41 bytes"},
		{"ipv4", func(b []byte) []byte { b[12], b[13] = 0x08, 0x00; return b }, "ethertype 0x0800 is not ARP"},
		{"hardware", func(b []byte) []byte { b[15] = 6; return b }, "hardware type 6"},
		{"op", func(b []byte) []byte { b[21] = 9; return b }, "operation 9"},
	} {
		b, _ := hex.DecodeString(linuxReply)
		if _, err := ParseARP(c.frame(b)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

func FuzzParseARP(f *testing.F) {
	b, _ := hex.DecodeString(linuxReply)
	f.Add(b)
	f.Add(ProbeFor(phone.MAC{1}, netip.MustParseAddr("10.0.0.1")).Frame(Broadcast))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseARP(b)
		if err != nil {
			return
		}
		// What parses, rebuilt, parses the same.
		again, err := ParseARP(a.Frame(phone.MAC(b[:6])))
		if err != nil || again != a {
			t.Fatalf("rebuilt %+v, %v; want %+v", again, err, a)
		}
	})
}
