package store

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/store/pgtest"
)

// benchEngines is engines for a benchmark.
func benchEngines(b *testing.B, f func(b *testing.B, s *Store)) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			where := filepath.Join(b.TempDir(), FileName)
			if name == "postgres" {
				where = pgtest.URL(b)
			}
			s, err := openWhere(b.Context(), where)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			f(b, s)
		})
	}
}

// BenchmarkRecord: one Writer-sized batch (512 events of 64 phones) per
// op; events/s is what an engine stores.
func BenchmarkRecord(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *Store) {
		batch := make([]event.Event, maxBatch)
		for i := range batch {
			batch[i] = event.Event{MAC: phone.MAC{0, 0x13, 0x7f, 0, 0, byte(i % 64)}, IP: netipFor(i),
				Source: event.TFTP, Kind: event.Request, File: "SEP00137F000000.cnf.xml", Outcome: event.OK, Bytes: 1234}
		}
		start := time.Now()
		for b.Loop() {
			if err := s.Record(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/time.Since(start).Seconds(), "events/s")
	})
}

// BenchmarkTimelines: every phone's newest 50 events, of 2,000 phones
// with 100 events each, as the fleet view reads them.
func BenchmarkTimelines(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *Store) {
		const phones, each = 2000, 100
		t0 := time.Now().Add(-time.Hour)
		batch := make([]event.Event, 0, maxBatch)
		for i := range phones * each {
			batch = append(batch, event.Event{Time: t0.Add(time.Duration(i) * time.Millisecond),
				MAC: phone.MAC{0, 0x13, 0x7f, 0, byte(i % phones >> 8), byte(i % phones)}, Source: event.TFTP, Kind: event.Request})
			if len(batch) == cap(batch) {
				if err := s.Record(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if err := s.Record(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			n := 0
			if err := s.Timelines(b.Context(), 50, func(phone.MAC, []event.Event) error { n++; return nil }); err != nil || n != phones {
				b.Fatalf("%d timelines, %v", n, err)
			}
		}
	})
}

func netipFor(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
