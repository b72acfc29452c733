package dhcp

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/phone"
)

// FuzzHandle feeds random datagrams to the handler over an in-memory lease
// table that already holds a lease, an offer, a declined address and a
// reservation, with one token of the new-lease bucket left (so the first
// new client is admitted and the second refused). Nothing panics; every reply parses and fits 576 bytes; no
// address is held for two clients or outside the pool; the store agrees
// with the table. Crashers land in testdata/fuzz/FuzzHandle.
// Run: go test -run '^$' -fuzz=FuzzHandle -fuzztime=60s ./internal/dhcp
func FuzzHandle(f *testing.F) {
	c := newClient(7)
	c.vc = vc7960
	f.Add(c.msg(dhcpv4.MessageTypeDiscover))
	f.Add(c.msg(dhcpv4.MessageTypeDiscover, requested("10.0.0.50"), bcastFlag))
	f.Add(c.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.51"), serverID("10.0.0.1")))
	f.Add(c.msg(dhcpv4.MessageTypeRequest, requested("0.68.101.80")))
	f.Add(c.msg(dhcpv4.MessageTypeRequest, requested("10.0.0.20")))
	f.Add(c.msg(dhcpv4.MessageTypeRequest, ciaddr("10.0.0.50")))
	f.Add(c.msg(dhcpv4.MessageTypeInform, ciaddr("10.0.0.9")))
	f.Add(c.msg(dhcpv4.MessageTypeRelease, ciaddr("10.0.0.50"), serverID("10.0.0.1")))
	f.Add(c.msg(dhcpv4.MessageTypeDecline, requested("10.0.0.50"), serverID("10.0.0.1")))
	f.Add(c.msg(dhcpv4.MessageTypeDiscover, giaddr("10.0.0.253"), func(m *dhcpv4.DHCPv4) { m.Options[82] = []byte{1, 1, 'x'} }))
	f.Add(newClient(1).msg(dhcpv4.MessageTypeRequest, requested("10.0.0.51"), serverID("10.0.0.1")))
	f.Add(newClient(0x99).msg(dhcpv4.MessageTypeDiscover))
	f.Add(newClient(0x42).msg(dhcpv4.MessageTypeRequest, requested("10.0.0.53")))                  // bare REQUEST: short lease
	f.Add(newClient(0x42).msg(dhcpv4.MessageTypeRequest, ciaddr("10.0.0.53"), bcastFlag))          // bare RENEWING
	f.Add(newClient(0x42).msg(dhcpv4.MessageTypeInform, ciaddr("192.168.5.5")))                    // INFORM from outside
	f.Add(newClient(0x42).msg(dhcpv4.MessageTypeInform, giaddr("10.0.0.253"), ciaddr("10.0.0.9"))) // relayed INFORM
	f.Add([]byte{})
	d := c.msg(dhcpv4.MessageTypeDiscover)
	f.Add(d[:100])                                      // truncated
	f.Add(append(d[:len(d)-60:len(d)-60], 150, 200, 1)) // a 150 list past the end
	f.Fuzz(func(t *testing.T, b []byte) {
		h := newHarness(t, nil, func(c *Config) {
			c.Range[1] = ip("10.0.0.53")
			c.Reservations = map[phone.MAC]netip.Addr{newClient(0x99).mac: ip("10.0.0.20")}
			c.Overrides = []Override{{Model: "7960", TFTP: []netip.Addr{ip("10.0.0.9"), ip("10.0.0.10")}}}
			c.NewLeasesPerMinute, c.NewLeaseBurst = 1, 4
		})
		h.lease(newClient(1))                              // .50 leased
		h.do(newClient(2).msg(dhcpv4.MessageTypeDiscover)) // .51 offered
		l3 := h.lease(newClient(3))
		h.do(newClient(3).msg(dhcpv4.MessageTypeDecline, requested(l3.String()))) // .52 declined

		other := slices.Clone(b)
		if len(other) > 33 {
			other[33] ^= 1 // another client, same message
		}
		for i, p := range [][]byte{b, other, b, b} {
			if i == 3 {
				h.advance(time.Minute) // offers expire
			}
			r := h.s.handle(context.Background(), p, netip.AddrPortFrom(ip("10.0.0.77"), 68))
			if r != nil {
				m, err := dhcpv4.FromBytes(r.b)
				if err != nil || len(r.b) > maxReply || m.OpCode != dhcpv4.OpcodeBootReply {
					t.Fatalf("bad reply (%d bytes): %v", len(r.b), err)
				}
				if !r.to.IsValid() {
					t.Fatal("reply without a destination")
				}
			}
		}
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		if err := checkInvariants(h.s, h.leases, h.now); err != nil {
			t.Fatal(err)
		}
	})
}
