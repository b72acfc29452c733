package store

import (
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pressly/goose/v3"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// seen records one request of mac at t: the phone row and one event.
func seen(t *testing.T, s *Store, m phone.MAC, at time.Time) {
	t.Helper()
	if err := s.Record(t.Context(), []event.Event{{Time: at, MAC: m, Source: event.TFTP, Kind: event.Request, File: "x"}}); err != nil {
		t.Fatal(err)
	}
}

func phoneMACs(t *testing.T, s *Store) []string {
	t.Helper()
	all, err := s.Phones(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		out = append(out, p.MAC.Hex())
	}
	return out
}

// TestUnknownPhonesCapped: past the cap, the unknown phones seen longest
// ago go, with their events; past the age, every unknown phone not seen
// since; inventory phones stay, however long ago they were seen.
func TestUnknownPhonesCapped(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		inv, never := phone.MAC{0, 0x13, 0x7f, 0, 0, 1}, phone.MAC{0, 0x13, 0x7f, 0, 0, 2}
		if err := s.SyncInventory(ctx, []Phone{{MAC: inv, Model: "7960"}, {MAC: never, Model: "7961"}}); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().Add(-time.Hour)
		seen(t, s, inv, t0.Add(-24*time.Hour)) // the oldest of all
		for i := range 10 {                    // 5A…00 oldest, 5A…09 newest
			seen(t, s, phone.MAC{0x5a, 0, 0, 0, 0, byte(i)}, t0.Add(time.Duration(i)*time.Minute))
		}
		// Two seen in the same millisecond: the cap cuts between them by MAC.
		same := t0.Add(20 * time.Minute)
		seen(t, s, phone.MAC{0x5a, 0, 0, 0, 1, 1}, same)
		seen(t, s, phone.MAC{0x5a, 0, 0, 0, 1, 2}, same)

		got, err := s.CapUnknown(ctx, 12)
		if err != nil || got != (Pruned{}) {
			t.Fatalf("under the cap: %+v %v", got, err)
		}
		got, err = s.CapUnknown(ctx, 1)
		if err != nil || got != (Pruned{Events: 11, Phones: 11}) {
			t.Fatalf("cap 1: %+v %v, want 11 phones and their 11 events", got, err)
		}
		want := []string{"00137F000001", "00137F000002", "5A0000000102"}
		if macs := phoneMACs(t, s); !reflect.DeepEqual(macs, want) {
			t.Errorf("after the cap: %v, want %v", macs, want)
		}
		if evs, _ := s.Events(ctx, inv, 0); len(evs) != 1 {
			t.Errorf("the inventory phone's timeline: %d events, want 1", len(evs))
		}

		// By age, in Prune; the count of events after.
		seen(t, s, phone.MAC{0x5a, 0, 0, 0, 2, 0}, time.Now())
		got, err = s.Prune(ctx, Retention{UnknownMaxAge: 30 * time.Minute})
		if err != nil || got != (Pruned{Events: 1, Phones: 1}) {
			t.Fatalf("by age: %+v %v", got, err)
		}
		want = []string{"00137F000001", "00137F000002", "5A0000000200"}
		if macs := phoneMACs(t, s); !reflect.DeepEqual(macs, want) {
			t.Errorf("after the age: %v, want %v", macs, want)
		}
		if n, err := s.CountEvents(ctx); n != 2 || err != nil {
			t.Errorf("CountEvents = %d, %v; want 2", n, err)
		}
	})
}

// TestWriterRateLimit: a phone over its rate gets its burst stored and
// the rest counted on its row; another phone is not affected; an event
// that says what the phone runs is never dropped; long text is cut.
func TestWriterRateLimit(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		w := NewWriter(s, WriterOptions{Queue: 4096, FlushEvery: 5 * time.Millisecond, Rate: 1}) // bursts of 10
		loud, quiet := phone.MAC{0, 0, 0, 0, 0, 1}, phone.MAC{0, 0, 0, 0, 0, 2}
		start := time.Now()
		for i := range 100 {
			w.Add(event.Event{MAC: loud, Source: event.Syslog, Kind: event.SyslogLine, Detail: fmt.Sprint(i)})
		}
		w.Add(event.Event{MAC: loud, Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-12-00"}})
		long := strings.Repeat("é", 3000) // 6000 bytes
		for range 5 {
			w.Add(event.Event{MAC: quiet, Source: event.Syslog, Kind: event.SyslogLine, Detail: long, File: long})
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		// The burst, and one a second for as long as the test took.
		stored, _ := s.Events(ctx, loud, 0)
		if max := 10 + 1 + int(took.Seconds()+1); len(stored) < 11 || len(stored) > max {
			t.Errorf("%d of the loud phone's events stored, want 11 to %d", len(stored), max)
		}
		if last := stored[len(stored)-1]; last.Kind != event.Load {
			t.Errorf("the load event was dropped: last stored is %+v", last)
		}
		p, _, err := s.Phone(ctx, loud)
		if err != nil || p.Load != "P0S3-8-12-00" {
			t.Errorf("loud phone's load %q, %v", p.Load, err)
		}
		if int(p.Dropped.Count)+len(stored) != 101 || uint64(p.Dropped.Count) != w.Limited() {
			t.Errorf("dropped %+v (Limited %d), stored %d; want them to add up to 101", p.Dropped, w.Limited(), len(stored))
		}
		if p.Dropped.First.IsZero() || p.Dropped.Last.Before(p.Dropped.First) || p.Dropped.First.Before(start.Add(-time.Second)) {
			t.Errorf("dropped times %v … %v, start %v", p.Dropped.First, p.Dropped.Last, start)
		}
		q, _, _ := s.Phone(ctx, quiet)
		evs, _ := s.Events(ctx, quiet, 0)
		if len(evs) != 5 || q.Dropped != (Dropped{}) {
			t.Fatalf("quiet phone: %d events, dropped %+v", len(evs), q.Dropped)
		}
		for _, f := range []string{evs[0].Detail, evs[0].File} {
			if !utf8.ValidString(f) || !strings.HasSuffix(f, "…") || !strings.HasPrefix(long, strings.TrimSuffix(f, "…")) {
				t.Errorf("long text stored as %d bytes %q…", len(f), f[:20])
			}
		}
		if len(evs[0].Detail) > MaxDetail || len(evs[0].File) > MaxFile {
			t.Errorf("stored %d bytes of detail, %d of file; want at most %d, %d", len(evs[0].Detail), len(evs[0].File), MaxDetail, MaxFile)
		}
	})
}

// TestLimiterKeepsFlooder: a key that floods keeps its empty bucket while
// more keys than the table holds come and go.
func TestLimiterKeepsFlooder(t *testing.T) {
	l := newLimiter(1, 2, 3)
	now := time.Now()
	flooder := limitKey{mac: phone.MAC{1}}
	for range 2 {
		if !l.allow(flooder, now) {
			t.Fatal("burst refused")
		}
	}
	for i := range 100 {
		if l.allow(flooder, now) {
			t.Fatalf("round %d: the flooder got a token back", i)
		}
		if !l.allow(limitKey{ip: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})}, now) {
			t.Fatalf("round %d: a new key was refused", i)
		}
	}
	if len(l.keys) != 3 || l.order.Len() != 3 {
		t.Errorf("table holds %d keys (%d in order), want 3", len(l.keys), l.order.Len())
	}
	if !l.allow(flooder, now.Add(time.Second)) {
		t.Error("no token after a second at 1/s")
	}
}

// TestWriterPrunesAtLimit: past Keep.EventsMax the events are pruned at
// once, not at the next hourly prune.
func TestWriterPrunesAtLimit(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		s := open(t, where)
		w := NewWriter(s, WriterOptions{Queue: 4096, FlushEvery: 5 * time.Millisecond, Keep: Retention{EventsMax: 1000}})
		defer w.Close()
		for i := range 5000 {
			m := phone.MAC{0, 0, 0, 0, byte(i >> 8), byte(i)}
			for !w.Add(event.Event{MAC: m, Source: event.TFTP, Kind: event.Request}) {
				time.Sleep(time.Millisecond) // the queue is full: let it drain
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := count(t, s)
			if n <= 1000 && n > 900 && maxID(t, s) == 5000 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d events stored (newest %d), want 900 to 1000 of the 5000, the newest", n, maxID(t, s))
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func maxID(t *testing.T, s *Store) int {
	t.Helper()
	var id sql.NullInt64
	if err := s.r.QueryRow(`SELECT MAX(id) FROM events`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return int(id.Int64)
}

// TestVacuum: a database made before incremental auto-vacuum (migrations
// 1-3) is switched when opened; after a prune its file shrinks.
func TestVacuum(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db")
	e, err := openSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(e.dialect, e.writer, e.migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := e.writer.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("before: auto_vacuum = %d, %v", mode, err)
	}
	e.writer.Close()
	e.reader.Close()

	s := open(t, path)
	if err := s.w.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("after Open: auto_vacuum = %d, %v; want 2 (incremental)", mode, err)
	}
	m := phone.MAC{0, 0x13, 0x7f, 0, 0, 1}
	for range 20 {
		var evs []event.Event
		for range 500 {
			evs = append(evs, event.Event{Time: time.Now().Add(-48 * time.Hour), MAC: m, Source: event.Syslog, Kind: event.SyslogLine, Detail: strings.Repeat("x", 1000)})
		}
		if err := s.Record(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	full := fileSize(t, path)
	got, err := s.Prune(ctx, Retention{EventsMaxAge: 24 * time.Hour})
	if err != nil || got.Events != 10000 {
		t.Fatalf("prune: %+v %v", got, err)
	}
	if after := fileSize(t, path); after > full/10 {
		t.Errorf("database and WAL: %d bytes full, %d after pruning every event; want a tenth at most", full, after)
	} else {
		t.Logf("database and WAL: %d bytes full, %d after pruning every event", full, after)
	}
}

// fileSize is a database's size with its WAL.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	var n int64
	for _, f := range []string{path, path + "-wal"} {
		st, err := os.Stat(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err == nil {
			n += st.Size()
		}
	}
	return n
}

// TestTimelines: one query gives every phone what Events gives it.
func TestTimelines(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		t0 := time.UnixMilli(1_700_000_000_000)
		var evs []event.Event
		for i := range 30 {
			// Out of time order, with ties: the timeline is by time, then id.
			evs = append(evs, event.Event{Time: t0.Add(time.Duration((i*7)%10) * time.Second), MAC: phone.MAC{0, 0, 0, 0, 0, byte(1 + i%3)},
				Source: event.TFTP, Kind: event.Request, File: fmt.Sprint(i)})
		}
		evs = append(evs, event.Event{Time: t0, Source: event.TFTP, Kind: event.Request, File: "of no phone"})
		if err := s.Record(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := s.SyncInventory(ctx, []Phone{{MAC: phone.MAC{9}}}); err != nil { // no events
			t.Fatal(err)
		}
		var macs []phone.MAC
		err := s.Timelines(ctx, 4, func(m phone.MAC, got []event.Event) error {
			macs = append(macs, m)
			want, err := s.Events(ctx, m, 4)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Timelines gave %v, Events %v", m, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(macs) != 3 {
			t.Errorf("timelines of %v, want the 3 phones with events", macs)
		}
	})
}
