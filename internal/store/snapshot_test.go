package store

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// TestEventIDsNeverReused: the newest events deleted (their phone
// evicted), the next event still gets a larger id; a database made
// before migration 6 keeps its events and their ids.
func TestEventIDsNeverReused(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		path := where
		e, err := openEngine(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(e.dialect, e.writer, e.migrations, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 5); err != nil {
			t.Fatal(err)
		}
		kept, gone := phone.MAC{0, 0x13, 0x7f, 0, 0, 1}, phone.MAC{0, 0x13, 0x7f, 0, 0, 2}
		t0 := time.UnixMilli(1_700_000_000_000)
		rec := func(s *Store, m phone.MAC, at time.Time, n int) {
			t.Helper()
			var evs []event.Event
			for range n {
				evs = append(evs, event.Event{Time: at, MAC: m, Source: event.TFTP, Kind: event.Request, File: "x", Outcome: event.OK})
			}
			if err := s.Record(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		// Written as a store of schema 5 wrote them.
		if _, err := e.writer.ExecContext(ctx, `INSERT INTO phones (mac, source, first_seen_ms, last_seen_ms) VALUES ($1, 'auto', $2, $2)`,
			kept.String(), t0.Add(time.Hour).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := e.writer.ExecContext(ctx, `INSERT INTO events (time_ms, mac, source, kind, file, outcome)
				VALUES ($1, $2, 'tftp', 'request', 'x', 'ok')`, t0.Add(time.Hour).UnixMilli(), kept.String()); err != nil {
				t.Fatal(err)
			}
		}
		e.writer.Close()
		e.reader.Close()

		s := open(t, path)
		if after, _ := s.Events(ctx, kept, 0); len(after) != 3 || after[0].ID != 1 || after[2].ID != 3 {
			t.Fatalf("migrations 6 and 7 changed the events: %v", after)
		}
		rec(s, gone, t0, 2) // ids 4 and 5, seen before kept: evicted first
		if got, err := s.CapUnknown(ctx, 1); err != nil || got.Phones != 1 || got.Events != 2 {
			t.Fatalf("cap: %+v %v", got, err)
		}
		rec(s, kept, t0.Add(2*time.Hour), 1)
		evs, _ := s.Events(ctx, kept, 1)
		if len(evs) != 1 || evs[0].ID != 6 {
			t.Errorf("after ids 4-5 were deleted, the next event has id %d, want 6", evs[0].ID)
		}
	})
}

// TestSnapshot: a Snapshot does not see what is written after it began;
// its Mark says which phones got events since, and whose timelines lost
// events to a prune.
func TestSnapshot(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		a, b, c := phone.MAC{0, 0, 0, 0, 0, 0xa}, phone.MAC{0, 0, 0, 0, 0, 0xb}, phone.MAC{0, 0, 0, 0, 0, 0xc}
		now := time.Now()
		rec := func(m phone.MAC, at time.Time) {
			t.Helper()
			if err := s.Record(ctx, []event.Event{{Time: at, MAC: m, Source: event.Syslog, Kind: event.SyslogLine, Detail: "x"}}); err != nil {
				t.Fatal(err)
			}
		}
		snap := func() (*Snapshot, Mark) {
			t.Helper()
			sn, err := s.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sn.Close() })
			m, err := sn.Mark(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return sn, m
		}
		// (A Snapshot left open holds up the checkpoint after a prune.)
		if sn, m := snap(); !m.Empty || m.Newest != 0 {
			t.Errorf("mark of no event: %+v", m)
		} else {
			sn.Close()
		}
		rec(a, now.Add(-48*time.Hour))
		rec(a, now.Add(-time.Hour))
		rec(b, now.Add(-time.Hour))
		sn, m1 := snap()
		first := map[phone.MAC]EventKey{}
		if err := sn.Timelines(ctx, 10, nil, func(m phone.MAC, evs []event.Event) error {
			first[m] = Key(evs[0])
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		rec(c, now) // after the snapshot began
		if ps, _ := sn.Phones(ctx); len(ps) != 2 {
			t.Errorf("the snapshot sees %d phones, want the 2 it began with", len(ps))
		}
		if got, _ := sn.Since(ctx, m1.Newest); len(got) != 0 {
			t.Errorf("the snapshot sees new events of %v", got)
		}
		if err := sn.Close(); err != nil {
			t.Fatal(err)
		}

		rec(b, now)
		if _, err := s.Prune(ctx, Retention{EventsMaxAge: 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		sn2, m2 := snap()
		if got, _ := sn2.Since(ctx, m1.Newest); !slices.Equal(got, []phone.MAC{b, c}) {
			t.Errorf("new events since the first mark: %v, want %v", got, []phone.MAC{b, c})
		}
		if !m2.Lost(first[a]) || m2.Lost(first[b]) {
			t.Errorf("after pruning a's oldest event: lost a %v (want true), b %v (want false)", m2.Lost(first[a]), m2.Lost(first[b]))
		}
		var got []phone.MAC
		if err := sn2.Timelines(ctx, 10, []phone.MAC{a, c, {9}}, func(m phone.MAC, evs []event.Event) error {
			got = append(got, m)
			want, _ := s.Events(ctx, m, 10)
			if !reflect.DeepEqual(evs, want) {
				t.Errorf("%s: %v, want %v", m, evs, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []phone.MAC{a, c}) {
			t.Errorf("timelines of %v, want a and c", got)
		}
	})
}
