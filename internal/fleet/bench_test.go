package fleet

import (
	"context"
	"testing"
	"time"

	"phoneboot/internal/event"
)

// BenchmarkPhones10k: the fleet view of 10,000 phones, each with a
// timeline of 20–40 events, in a real SQLite store (issue 13: the phones
// page and /api/v1/phones answer in under 200 ms). Reproduce with
//
//	go test -run x -bench Phones10k -benchtime 5x ./internal/fleet
//
// Filling the store takes a while; it is not timed.
//
//   - Phones: no Cache, every timeline read (`phoneboot phones`, and a
//     front end's first call).
//   - PhonesCached: with a Cache, nothing changed since the last call.
//   - PhonesCachedBusy: with a Cache, 200 phones got an event since the
//     last call.
//   - PhonesCachedStorm: the same with 2,000 phones (a boot storm's
//     second).
//   - Phone: one phone and its newest 100 events (`phones show`).
//   - Loads: the rows without timelines (`firmware list`).
func BenchmarkPhones10k(b *testing.B) {
	const n = 10_000
	f := fillFleet(b, b.TempDir(), n)
	ctx := context.Background()
	list := func(b *testing.B, f Fleet) {
		rows, err := f.Phones(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != n {
			b.Fatalf("%d rows", len(rows))
		}
	}
	b.Run("Phones", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			list(b, f)
		}
	})
	b.Run("PhonesCached", func(b *testing.B) {
		f := f
		f.Cache = NewCache()
		list(b, f)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			list(b, f)
		}
	})
	// Between two calls, changed phones each got an event.
	busy := func(changed int) func(b *testing.B) {
		return func(b *testing.B) {
			f := f
			f.Cache = NewCache()
			list(b, f)
			b.ReportAllocs()
			b.ResetTimer()
			round := 0
			for b.Loop() {
				b.StopTimer()
				var evs []event.Event
				for k := range changed {
					evs = append(evs, event.Event{Time: fixtureNow.Add(time.Duration(round) * time.Second), MAC: fixtureMAC((round*changed + k*37) % n),
						Source: event.Syslog, Kind: event.SyslogLine, Detail: "<190>line 1 registered"})
				}
				if err := f.Store.Record(ctx, evs); err != nil {
					b.Fatal(err)
				}
				round++
				b.StartTimer()
				list(b, f)
			}
		}
	}
	b.Run("PhonesCachedBusy", busy(200))
	b.Run("PhonesCachedStorm", busy(2000))
	b.Run("Phone", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := f.Phone(ctx, fixtureMAC(i%n), 100); err != nil {
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
