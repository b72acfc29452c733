package phonestate

import (
	"fmt"
	"net/netip"
	"testing"

	"phoneboot/internal/phone"
)

func mac(t *testing.T, s string) phone.MAC {
	t.Helper()
	m, err := phone.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBookBounded: past its size the book forgets the phone touched
// longest ago, and that phone's address with it.
func TestBookBounded(t *testing.T) {
	b := New(3)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	for i := range 3 {
		b.Bind(mac(t, fmt.Sprintf("00:13:7f:00:00:%02x", i)), ip(i))
	}
	Update(b, mac(t, "00:13:7f:00:00:00"), func(p *Phone) int { p.Running = "P0S3-8-12-00"; return 0 }) // touched: kept
	b.Bind(mac(t, "00:13:7f:00:00:09"), ip(9))
	if b.Len() != 3 {
		t.Fatalf("%d phones, want 3", b.Len())
	}
	if _, ok := b.At(ip(1)); ok {
		t.Error("the phone touched longest ago kept its address")
	}
	if p, ok := b.Get(mac(t, "00:13:7f:00:00:00")); !ok || p.Running != "P0S3-8-12-00" {
		t.Errorf("the phone touched last was forgotten: %+v %v", p, ok)
	}
	if m, ok := b.At(ip(9)); !ok || m != mac(t, "00:13:7f:00:00:09") {
		t.Errorf("new phone's address: %v %v", m, ok)
	}
}

// TestAttribute: a name with a MAC binds its sender's address; a name
// without one is the phone at the address; what an address showed before
// it named its phone goes to that phone.
func TestAttribute(t *testing.T) {
	b := New(0)
	ip := netip.MustParseAddr("10.0.0.7")
	if _, ok := b.Attribute(phone.ParseName("OS79XX.TXT"), ip); ok {
		t.Fatal("an unknown address was attributed")
	}
	b.Attribute(phone.ParseName("SIPDefault.cnf"), ip)
	if boot, proto := b.Early(ip); boot != phone.BootOS79XX || proto != "SIP" {
		t.Errorf("early = %v %q", boot, proto)
	}
	b.Unattributed(ip, Asked{Name: "OS79XX.TXT", Done: true})
	b.Unattributed(ip, Asked{Name: "SIPDefault.cnf", Done: true, OK: true})
	m := mac(t, "00:13:7F:38:B3:DE")
	if got, ok := b.Attribute(phone.ParseName("SIP00137F38B3DE.cnf"), ip); !ok || got != m {
		t.Fatalf("SIP<MAC>.cnf: %v %v", got, ok)
	}
	p, _ := b.Get(m)
	if p.Boot != phone.BootOS79XX || p.Protocol != "SIP" || len(p.Asked) != 2 || p.Asked[1].Name != "SIPDefault.cnf" {
		t.Errorf("the phone did not get what its address showed: %+v", p)
	}
	if got, ok := b.Attribute(phone.ParseName("P0S3-05-3-00.bin"), ip); !ok || got != m {
		t.Errorf("firmware from the address: %v %v", got, ok)
	}
	if boot, _ := b.Early(ip); boot != phone.BootUnseen {
		t.Error("the early record outlived the binding")
	}
	// Bounded: a flood of addresses and of transfers keeps at most so many.
	for i := range maxPending + 10 {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		b.Attribute(phone.ParseName("OS79XX.TXT"), a)
		for range maxEarly + 5 {
			b.Unattributed(a, Asked{Name: "x", Done: true})
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) > maxPending {
		t.Errorf("%d early records", len(b.pending))
	}
	for _, e := range b.pending {
		if len(e.asked) > maxEarly {
			t.Fatalf("%d early transfers for one address", len(e.asked))
		}
	}
}
