package phonestate

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"phoneboot/internal/phone"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

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
	name := func(i int) phone.Name { return phone.ParseName(fmt.Sprintf("SEP00137F0000%02X.cnf.xml", i)) }
	for i := range 3 {
		b.Attribute(name(i), ip(i), now)
	}
	Update(b, mac(t, "00:13:7f:00:00:00"), func(p *Phone) int { p.Running = "P0S3-8-12-00"; return 0 }) // touched: kept
	b.Attribute(name(9), ip(9), now)
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
	if a := b.Attribute(phone.ParseName("OS79XX.TXT"), ip, now); a.Verdict != Unknown {
		t.Fatal("an unknown address was attributed")
	}
	b.Attribute(phone.ParseName("SIPDefault.cnf"), ip, now)
	if boot, proto := b.Early(ip); boot != phone.BootOS79XX || proto != "SIP" {
		t.Errorf("early = %v %q", boot, proto)
	}
	b.Unattributed(ip, Asked{Name: "OS79XX.TXT", Done: true})
	b.Unattributed(ip, Asked{Name: "SIPDefault.cnf", Done: true, OK: true})
	m := mac(t, "00:13:7F:38:B3:DE")
	if a := b.Attribute(phone.ParseName("SIP00137F38B3DE.cnf"), ip, now); a.Verdict != Own || a.MAC != m {
		t.Fatalf("SIP<MAC>.cnf: %+v", a)
	}
	p, _ := b.Get(m)
	if p.Boot != phone.BootOS79XX || p.Protocol != "SIP" || len(p.Asked) != 2 || p.Asked[1].Name != "SIPDefault.cnf" {
		t.Errorf("the phone did not get what its address showed: %+v", p)
	}
	if a := b.Attribute(phone.ParseName("P0S3-05-3-00.bin"), ip, now); a.Verdict != Own || a.MAC != m {
		t.Errorf("firmware from the address: %+v", a)
	}
	if boot, _ := b.Early(ip); boot != phone.BootUnseen {
		t.Error("the early record outlived the binding")
	}
	// Bounded: a flood of addresses and of transfers keeps at most so many.
	for i := range maxPending + 10 {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		b.Attribute(phone.ParseName("OS79XX.TXT"), a, now)
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

// TestIdentity: a request naming a phone from an address that is not the
// phone's changes nothing of it, whichever way the address became the
// phone's; the first-sight hold ends after the phone's last request.
func TestIdentity(t *testing.T) {
	b := New(0)
	a, evil := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.66")
	victim := mac(t, "00:13:7F:38:B3:DE")
	sep := phone.ParseName("SEP00137F38B3DE.cnf.xml")

	// First sight: the phone's own address claims it; another is foreign.
	if got := b.Attribute(sep, a, now); got.Verdict != Own {
		t.Fatalf("first sight: %+v", got)
	}
	got := b.Attribute(sep, evil, now.Add(time.Minute))
	if got.Verdict != Foreign || got.Bound != a || got.By != BindSight {
		t.Fatalf("foreign: %+v", got)
	}
	if p, _ := b.Get(victim); p.IP != a {
		t.Errorf("a foreign request moved the phone to %v", p.IP)
	}
	// MAC-less requests from the foreign address are not the phone's.
	if got := b.Attribute(phone.ParseName("P0S3-8-12-00.loads"), evil, now); got.Verdict != Unknown {
		t.Errorf(".loads from the foreign address: %+v", got)
	}
	// The hold runs from the phone's last request, firmware included.
	b.Attribute(phone.ParseName("P0S3-8-12-00.loads"), a, now.Add(50*time.Minute))
	if got := b.Attribute(sep, evil, now.Add(100*time.Minute)); got.Verdict != Foreign {
		t.Errorf("within the hold of the last request: %+v", got)
	}
	if got := b.Attribute(sep, evil, now.Add(50*time.Minute+DefaultHold)); got.Verdict != Own {
		t.Errorf("after the hold: %+v", got)
	}

	// An address that is one phone's may not claim another.
	other := phone.ParseName("SEP00137F38B3DF.cnf.xml")
	got = b.Attribute(other, evil, now.Add(50*time.Minute+DefaultHold))
	if got.Verdict != Foreign || got.Other != victim {
		t.Errorf("an address claiming a second phone: %+v", got)
	}

	// A lease beats first sight, a reservation beats a lease.
	b.Lease(victim, a)
	if got := b.Attribute(sep, evil, now.Add(10*DefaultHold)); got.Verdict != Foreign || got.By != BindLease {
		t.Errorf("leased: %+v", got)
	}
	res := netip.MustParseAddr("10.0.0.50")
	b.SetInventory(map[phone.MAC]netip.Addr{victim: res})
	b.Lease(victim, a) // a lease for a reserved phone changes nothing
	if got := b.Attribute(sep, a, now); got.Verdict != Foreign || got.Bound != res || got.By != BindReserved {
		t.Errorf("reserved: %+v", got)
	}
	if m, ok := b.At(res); !ok || m != victim {
		t.Errorf("At(reserved) = %v %v", m, ok)
	}
	// A full book never forgets an inventory phone, nor its reservation.
	small := New(1)
	small.SetInventory(map[phone.MAC]netip.Addr{victim: res})
	Update(small, victim, func(p *Phone) int { p.Running = "P0S3-8-12-00"; return 0 })
	for i := range 10 {
		small.Attribute(phone.ParseName(fmt.Sprintf("SEP0011223344%02X.cnf.xml", i)), netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}), now)
	}
	if p, ok := small.Get(victim); !ok || p.Running != "P0S3-8-12-00" {
		t.Errorf("a flood made the book forget an inventory phone: %+v %v", p, ok)
	}
	if got := small.Attribute(sep, evil, now); got.Verdict != Foreign || small.Len() != 2 {
		t.Errorf("inventory phone's reservation after a flood: %+v, %d phones", got, small.Len())
	}
	// Out of the inventory, it is one of the others again.
	small.SetInventory(nil)
	small.Attribute(phone.ParseName("SEP001122334499.cnf.xml"), netip.MustParseAddr("10.9.1.1"), now)
	if _, ok := small.Get(victim); ok {
		t.Error("a phone that left the inventory is still kept")
	}
	// A reservation dropped from the inventory frees the phone.
	b.SetInventory(nil)
	if _, by := b.owner(victim, now.Add(10*DefaultHold)); by == BindReserved {
		t.Error("reservation kept after it left the inventory")
	}

	// Hold 0: plain TFTP, any address may take a phone not reserved or
	// leased.
	z := New(0)
	z.SetHold(0)
	z.Attribute(sep, a, now)
	if got := z.Attribute(sep, evil, now); got.Verdict != Own {
		t.Errorf("hold 0: %+v", got)
	}
}
