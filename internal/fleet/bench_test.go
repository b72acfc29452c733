package fleet

import (
	"context"
	"testing"
)

// BenchmarkPhones10k: the fleet view of 10,000 phones, each with a
// timeline of 20–40 events, in a real SQLite store (issue 13: the phones
// page and /api/v1/phones answer in under 200 ms). Reproduce with
//
//	go test -run x -bench Phones10k -benchtime 5x ./internal/fleet
//
// Filling the store takes a while; it is not timed.
func BenchmarkPhones10k(b *testing.B) {
	f := fillFleet(b, b.TempDir(), 10_000)
	ctx := context.Background()
	b.Run("Phones", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows, err := f.Phones(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(rows) != 10_000 {
				b.Fatalf("%d rows", len(rows))
			}
		}
	})
	b.Run("Phone", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := f.Phone(ctx, fixtureMAC(i%10_000), 100); err != nil {
				b.Fatal(err)
			}
			i += 997
		}
	})
	b.Run("Loads", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Loads(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
