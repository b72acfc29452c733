package store

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := openWhere(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mac(t *testing.T, s string) phone.MAC {
	t.Helper()
	m, err := phone.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func count(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// ms is a time the store can give back unchanged.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

func TestOpenMigratesAndReopens(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		path := where
		if !IsPostgres(where) {
			path = filepath.Join(filepath.Dir(where), "sub", "dir", FileName) // parents created
		}
		s, err := openWhere(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		a := mac(t, "00:13:7F:38:B3:DE")
		if err := s.SyncInventory(t.Context(), []Phone{{MAC: a, Model: "7960", Label: "desk"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, path)
		p, ok, err := s.Phone(t.Context(), a)
		if err != nil || !ok || p.Label != "desk" {
			t.Fatalf("after reopen: %+v %v %v", p, ok, err)
		}
		if s.Engine() != "sqlite" {
			return
		}
		var mode string
		if err := s.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v", mode, err)
		}
	})
}

func TestOpenGarbage(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"text":  []byte("this is not a database, it is someone's notes\n"),
		"short": []byte("SQL"),
		"big":   bytes.Repeat([]byte{0xAB}, 8192),
	} {
		path := filepath.Join(dir, name+".db")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(t.Context(), path)
		if err == nil {
			s.Close()
			t.Fatalf("%s: Open succeeded", name)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, content) {
			t.Errorf("%s: file modified", name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("files left next to the garbage: %v", entries)
	}
	// An empty file is a fresh database, as SQLite sees it.
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	open(t, empty)
}

func TestSyncInventory(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		a, b, c := mac(t, "00:00:00:00:00:0a"), mac(t, "00:00:00:00:00:0b"), mac(t, "00:00:00:00:00:0c")
		if err := s.SyncInventory(ctx, []Phone{
			{MAC: b, Model: "7940", Protocol: "sccp", Label: "b"},
			{MAC: a, Model: "7960", Protocol: "sip", Label: "a", Source: "ignored"},
			{MAC: c, Model: "7912", Label: "c"},
		}); err != nil {
			t.Fatal(err)
		}
		// a and c are seen on the network.
		seen := time.UnixMilli(1_700_000_000_000)
		ip := netip.MustParseAddr("10.0.0.5")
		if err := s.Record(ctx, []event.Event{
			{Time: seen, MAC: a, IP: ip, Source: "tftp", Kind: "request", File: "SEP00000000000A.cnf.xml"},
			{Time: seen, MAC: c, Source: "tftp", Kind: "request"},
		}); err != nil {
			t.Fatal(err)
		}

		// a changes, b (never seen) and c (seen) leave.
		if err := s.SyncInventory(ctx, []Phone{{MAC: a, Model: "7961", Protocol: "sip", Label: "a2"}}); err != nil {
			t.Fatal(err)
		}
		phones, err := s.Phones(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(phones) != 2 || phones[0].MAC != a || phones[1].MAC != c {
			t.Fatalf("phones = %+v", phones)
		}
		pa := phones[0]
		want := Phone{MAC: a, Model: "7961", Protocol: "sip", Label: "a2", Source: SourceInventory,
			IP: ip, FirstSeen: seen, LastSeen: seen, LastFile: "SEP00000000000A.cnf.xml"}
		if !pa.FirstSeen.Equal(seen) || !pa.LastSeen.Equal(seen) {
			t.Errorf("a seen %v..%v, want %v", pa.FirstSeen, pa.LastSeen, seen)
		}
		pa.FirstSeen, pa.LastSeen = want.FirstSeen, want.LastSeen
		if pa != want {
			t.Errorf("a = %+v\nwant %+v", pa, want)
		}
		if pc := phones[1]; pc.Source != SourceAuto || pc.Label != "c" {
			t.Errorf("c after leaving = %+v, want source auto, label kept", pc)
		}

		// An auto phone that joins the inventory becomes "inventory".
		if err := s.SyncInventory(ctx, []Phone{{MAC: c, Model: "7912", Label: "c2"}}); err != nil {
			t.Fatal(err)
		}
		pc, _, _ := s.Phone(ctx, c)
		if pc.Source != SourceInventory || pc.Label != "c2" || pc.LastSeen.IsZero() {
			t.Errorf("c rejoined = %+v", pc)
		}
		if _, ok, _ := s.Phone(ctx, b); ok {
			t.Error("b, never seen, still there")
		}
		if err := s.SyncInventory(ctx, []Phone{{Label: "no MAC"}}); err == nil {
			t.Error("a phone without MAC accepted")
		}
	})
}

func TestRecordAndEvents(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		a := mac(t, "00:13:7f:38:b3:de")
		t0 := ms(time.Now().Add(-time.Hour))
		ip1, ip2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::2")
		evs := []event.Event{
			// Out of order on purpose: batches from several sources are.
			{Time: t0.Add(2 * time.Second), MAC: a, IP: ip2, Source: "tftp", Kind: "request", File: "P0030801SR02.bin",
				Outcome: "ok", Bytes: 1 << 20, Duration: 1500 * time.Microsecond, Detail: "blksize 1428"},
			{Time: t0, MAC: a, IP: ip1, Source: "tftp", Kind: "request", File: "SEP00137F38B3DE.cnf.xml"},
			{Time: t0.Add(time.Second), MAC: a, Source: "provision", Kind: "load", Detail: "runs it now",
				Facts: event.Facts{Running: "P0030801SR02", Model: "7940"}},
			{Time: t0.Add(3 * time.Second), MAC: a, Source: "provision", Kind: "loop-breaker", File: "CTLSEP.tlv",
				Facts: event.Facts{Remedy: event.RemedyEmpty, Count: 4, Path: []string{"A", "B"}}},
			{Time: t0, IP: ip1, Source: "tftp", Kind: "request", File: "unattributed"},
		}
		if err := s.Record(ctx, evs); err != nil {
			t.Fatal(err)
		}
		p, ok, err := s.Phone(ctx, a)
		if err != nil || !ok {
			t.Fatalf("unknown MAC not inserted: %v %v", ok, err)
		}
		// LastFile only from requests, Load and SeenModel from the facts; IP
		// and LastSeen from the newest event carrying them; the provision event
		// is newest but has no IP.
		want := Phone{MAC: a, Source: SourceAuto, IP: ip2, LastFile: "P0030801SR02.bin", Load: "P0030801SR02", SeenModel: "7940"}
		if !p.FirstSeen.Equal(t0) || !p.LastSeen.Equal(t0.Add(3*time.Second)) {
			t.Errorf("seen %v..%v, want %v..+3s", p.FirstSeen, p.LastSeen, t0)
		}
		p.FirstSeen, p.LastSeen = time.Time{}, time.Time{}
		if p != want {
			t.Errorf("phone = %+v\nwant %+v", p, want)
		}

		// An older event arriving late moves FirstSeen back, changes nothing else.
		if err := s.Record(ctx, []event.Event{{Time: t0.Add(-time.Minute), MAC: a, IP: ip1, Source: "tftp", Kind: "request", File: "old"}}); err != nil {
			t.Fatal(err)
		}
		p, _, _ = s.Phone(ctx, a)
		if !p.FirstSeen.Equal(t0.Add(-time.Minute)) || p.IP != ip2 || p.LastFile != "P0030801SR02.bin" {
			t.Errorf("after late event: %+v", p)
		}

		got, err := s.Events(ctx, a, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("got %d events", len(got))
		}
		for i, want := range []event.Event{evs[2], evs[0], evs[3]} { // newest three, oldest first
			want.ID = got[i].ID
			if !reflect.DeepEqual(got[i], want) {
				t.Errorf("event %d = %+v\nwant %+v", i, got[i], want)
			}
		}
		all, _ := s.Events(ctx, a, 0)
		if len(all) != 5 || all[0].File != "old" {
			t.Errorf("all events: %+v", all)
		}
		un, _ := s.Events(ctx, phone.MAC{}, 10)
		if len(un) != 1 || un[0].File != "unattributed" || un[0].IP != ip1 {
			t.Errorf("unattributed: %+v", un)
		}
		if phones, _ := s.Phones(ctx); len(phones) != 1 {
			t.Errorf("phones: %+v", phones)
		}
		if _, ok, err := s.Phone(ctx, mac(t, "00:00:00:00:00:01")); ok || err != nil {
			t.Errorf("unknown phone: %v %v", ok, err)
		}
	})
}

func TestPrune(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		a := mac(t, "00:00:00:00:00:0a")
		now := time.Now()
		var evs []event.Event
		for i := range 10 { // 10 old ones, one a day back
			evs = append(evs, event.Event{Time: now.Add(-time.Duration(i+1) * 24 * time.Hour), MAC: a, Source: "tftp", Kind: "old"})
		}
		for i := range 20 { // 20 recent ones, all in the same millisecond
			evs = append(evs, event.Event{Time: now, MAC: a, Source: "tftp", Kind: "new", Bytes: int64(i)})
		}
		if err := s.Record(ctx, evs); err != nil {
			t.Fatal(err)
		}
		n, err := s.Prune(ctx, Retention{EventsMaxAge: 72*time.Hour + time.Minute})
		if err != nil || n != (Pruned{Events: 7}) {
			t.Fatalf("by age: deleted %+v, %v; want 7 events", n, err)
		}
		n, err = s.Prune(ctx, Retention{EventsMax: 15})
		if err != nil || n != (Pruned{Events: 8}) {
			t.Fatalf("by count: deleted %+v, %v; want 8 events", n, err)
		}
		left, _ := s.Events(ctx, a, 0)
		if len(left) != 15 || left[0].Bytes != 5 || left[14].Bytes != 19 {
			t.Errorf("left %d, first %+v", len(left), left[0])
		}
		if n, err := s.Prune(ctx, Retention{}); n != (Pruned{}) || err != nil {
			t.Errorf("no limits: %+v %v", n, err)
		}
		if n, err := s.Prune(ctx, Retention{EventsMax: 100, UnknownMax: 1}); n != (Pruned{}) || err != nil {
			t.Errorf("under the limit: %+v %v", n, err)
		}
	})
}

func TestWriterStoresAll(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		s := open(t, where)
		w := NewWriter(s, WriterOptions{Queue: 16384, FlushEvery: 20 * time.Millisecond})
		const goroutines, each = 8, 1250
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				m := phone.MAC{0, 0, 0, 0, 0, byte(g + 1)}
				for i := range each {
					if !w.Add(event.Event{MAC: m, Source: "tftp", Kind: "request", File: fmt.Sprint(i)}) {
						t.Error("dropped")
						return
					}
				}
			})
		}
		wg.Wait()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != goroutines*each || w.Dropped() != 0 {
			t.Errorf("stored %d, dropped %d; want %d, 0", n, w.Dropped(), goroutines*each)
		}
		if w.Add(event.Event{Source: "tftp", Kind: "late"}) || w.Dropped() != 1 {
			t.Error("Add after Close accepted")
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestWriterNeverBlocks: while another connection holds the database's
// write lock (the flush waits in busy_timeout), 10,000 Adds all return,
// the ones that find the queue full dropped and counted, before the lock
// is released. Only a real hang trips the deadline.
func TestWriterNeverBlocks(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		path := where
		s := open(t, path)
		// Another process holds the write lock: the flush waits in busy_timeout.
		other := open(t, path)
		conn, err := other.w.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		lock := []string{`BEGIN IMMEDIATE`}
		if s.Engine() == "postgres" {
			// Reads go on; every write waits (up to lock_timeout).
			lock = []string{`BEGIN`, `LOCK TABLE phones, events IN EXCLUSIVE MODE`}
		}
		for _, q := range lock {
			if _, err := conn.ExecContext(t.Context(), q); err != nil {
				t.Fatal(err)
			}
		}

		w := NewWriter(s, WriterOptions{Queue: 4, FlushEvery: time.Millisecond})
		const total = 10_000
		var queued int
		added := make(chan struct{})
		go func() {
			defer close(added)
			for i := range total {
				if w.Add(event.Event{MAC: phone.MAC{1}, Source: "tftp", Kind: "request", Bytes: int64(i)}) {
					queued++
				}
			}
		}()
		select {
		case <-added:
		case <-time.After(time.Minute):
			t.Fatal("Add blocked while the store was locked: 10,000 Adds did not return within a minute")
		}
		// Still locked here: every Add has returned.
		if w.Dropped() == 0 || queued+int(w.Dropped()) != total {
			t.Errorf("queued %d + dropped %d, want %d with some dropped (the store was locked)", queued, w.Dropped(), total)
		}
		if _, err := conn.ExecContext(t.Context(), `ROLLBACK`); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != queued {
			t.Errorf("stored %d, queued %d (dropped %d of %d)", n, queued, w.Dropped(), total)
		}
	})
}

func TestConcurrentReaderProcess(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		path := where
		s := open(t, path)
		w := NewWriter(s, WriterOptions{Queue: 16384, FlushEvery: 5 * time.Millisecond})
		a := phone.MAC{0, 0x13, 0x7f, 0, 0, 1}

		// A second Open of the file stands for the CLI process. It also
		// writes now and then (an inventory sync), to contend for the lock.
		cli := open(t, path)
		ctx, cancel := context.WithCancel(t.Context())
		var reads int
		readerDone := make(chan error)
		go func() {
			for i := 0; ctx.Err() == nil; i++ {
				if _, err := cli.Phones(ctx); err != nil && ctx.Err() == nil {
					readerDone <- err
					return
				}
				if _, err := cli.Events(ctx, a, 50); err != nil && ctx.Err() == nil {
					readerDone <- err
					return
				}
				if i%20 == 0 {
					inv := []Phone{{MAC: phone.MAC{0, 0, 0, 0, 0, 0xff}, Label: fmt.Sprint(i)}}
					if err := cli.SyncInventory(ctx, inv); err != nil && ctx.Err() == nil {
						readerDone <- err
						return
					}
				}
				reads++
			}
			readerDone <- nil
		}()

		const total = 10000
		for i := range total {
			if !w.Add(event.Event{MAC: a, Source: "tftp", Kind: "request", File: fmt.Sprint(i)}) {
				t.Fatal("dropped")
			}
			if i%1000 == 0 {
				time.Sleep(5 * time.Millisecond) // let batches interleave with reads
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("writer: %v", err)
		}
		cancel()
		if err := <-readerDone; err != nil {
			t.Fatalf("reader: %v", err)
		}
		if n := count(t, cli); n != total {
			t.Errorf("CLI sees %d events, want %d", n, total)
		}
		t.Logf("%d read rounds during the writes", reads)
	})
}

// TestRecordKeepsBatchOrder: a batch's events get ids in the batch's
// order on both engines (PostgreSQL sends them as one INSERT of arrays),
// and the phone row holds the last of equal-time observations.
func TestRecordKeepsBatchOrder(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		s, err := openWhere(t.Context(), where)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		mac := phone.MAC{0, 0x13, 0x7f, 1, 2, 3}
		at := time.UnixMilli(1_700_000_000_000)
		var batch []event.Event
		for i := range 300 {
			ev := event.Event{Time: at, MAC: mac, IP: netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}),
				Source: event.TFTP, Kind: event.Request, File: fmt.Sprintf("f%d", i), Detail: fmt.Sprint(i)}
			if i%7 == 0 {
				ev.MAC, ev.IP = phone.MAC{}, netip.Addr{} // not attributed: mac and ip NULL
			}
			batch = append(batch, ev)
		}
		if err := s.Record(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		got, err := s.Events(t.Context(), mac, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, ev := range batch {
			if ev.MAC == mac {
				want = append(want, ev.Detail)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d events, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Detail != want[i] || (i > 0 && got[i].ID <= got[i-1].ID) {
				t.Fatalf("event %d: detail %q id %d, want detail %q after id %d", i, got[i].Detail, got[i].ID, want[i], got[max(i-1, 0)].ID)
			}
		}
		p, ok, err := s.Phone(t.Context(), mac)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if p.LastFile != "f299" || p.IP != netip.AddrFrom4([4]byte{127, 0, 1, 43}) {
			t.Errorf("phone row: last file %q ip %v, want the batch's last: f299 127.0.1.43", p.LastFile, p.IP)
		}
		none, err := s.Events(t.Context(), phone.MAC{}, 0)
		if err != nil || len(none) != 43 || none[0].IP.IsValid() {
			t.Errorf("unattributed: %d events (want 43), %v", len(none), err)
		}
	})
}
