package store

import (
	"net/netip"
	"testing"
	"time"

	"phoneboot/internal/phone"
)

// BenchmarkPutLease: one lease stored per op, as the DHCP server does
// for every ACK, over 4,096 phones (new ones first, then renewals).
func BenchmarkPutLease(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *Store) {
		exp := time.Now().Add(time.Hour)
		i := 0
		for b.Loop() {
			n := i % 4096
			l := Lease{MAC: phone.MAC{0, 0x13, 0x7f, 0, byte(n >> 8), byte(n)},
				IP: netip.AddrFrom4([4]byte{10, 1, byte(n >> 8), byte(n)}), Expires: exp, Node: "a"}
			if err := s.PutLease(b.Context(), l); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leases/s")
	})
}
