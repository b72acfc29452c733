package dhcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/phone"
)

// A storm of 10,000 phones at 1,000 DISCOVERs a second, each sending its
// DISCOVER twice (a retry): the per-MAC limit refuses none of them (the
// limit of before, 4,096 MACs then one shared bucket, refused thousands;
// docs/benchmarks.md, "DHCP storms, perfdhcp"). One MAC flooding at 1,000
// a second is still held to its burst and rate.
func TestStormNotRateLimited(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		wide(c)
		c.NewLeasesPerMinute, c.NewLeaseBurst = 1_000_000, 1_000_000
	})
	for i := range 10_000 {
		c := newClient(0)
		c.mac = phone.MAC{0x00, 0x13, 0x7f, byte(i >> 16), byte(i >> 8), byte(i)}
		h.do(c.msg(dhcpv4.MessageTypeDiscover))
		h.do(c.msg(dhcpv4.MessageTypeDiscover))
		h.advance(time.Millisecond)
	}
	if st := h.s.Stats(); st.RateLimited != 0 || st.Discovers != 20_000 {
		t.Fatalf("storm: %d of %d DISCOVERs rate-limited", st.RateLimited, st.Discovers+st.RateLimited)
	}
	flooder := newClient(0xee)
	for range 2000 {
		h.do(flooder.msg(dhcpv4.MessageTypeDiscover))
		h.advance(time.Millisecond)
	}
	st := h.s.Stats()
	if passed := 2000 - st.RateLimited; passed > 20+10*2+1 || passed < 20+10*2-2 {
		t.Errorf("the flooding MAC got %d of 2,000 DISCOVERs through in 2 s, want its burst 20 + 10/s", passed)
	}
}

// The shared buckets of a flood: one per relay, else one per OUI.
func TestLimitGroup(t *testing.T) {
	mac := phone.MAC{0x00, 0x13, 0x7f, 1, 2, 3}
	other := phone.MAC{0x00, 0x13, 0x7f, 9, 9, 9}
	relay := netip.MustParseAddr("10.0.0.1")
	switch {
	case limitGroup(limitKey{mac: mac}) != limitGroup(limitKey{mac: other}):
		t.Error("two MACs of one OUI are in different groups")
	case limitGroup(limitKey{mac: mac}) == limitGroup(limitKey{mac: phone.MAC{0x02, 0, 0, 1, 2, 3}}):
		t.Error("two OUIs share a group")
	case limitGroup(limitKey{mac: mac, relay: relay}) != limitGroup(limitKey{mac: phone.MAC{0x02}, relay: relay}):
		t.Error("two MACs behind one relay are in different groups")
	case limitGroup(limitKey{mac: mac, relay: relay}) == limitGroup(limitKey{mac: mac, relay: netip.MustParseAddr("10.0.1.1")}):
		t.Error("two relays' networks share a group")
	}
}
