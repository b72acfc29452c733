package store

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/store/pgtest"
)

// TestOpenURLErrors: a URL that is not one, or where nothing answers,
// is a sentence naming the URL, never its password.
func TestOpenURLErrors(t *testing.T) {
	for url, want := range map[string]string{
		"mysql://u:secret@127.0.0.1/db":                   "not a postgres:// URL",
		"postgres://u:secret@127.0.0.1:notaport/db":       "not a valid PostgreSQL URL",
		"postgres://u:secret@127.0.0.1:1/db":              "nothing answers there",
		"postgres://u:secret@127.0.0.1:1/db?sslmode=nope": "not a valid PostgreSQL URL",
	} {
		s, err := OpenURL(t.Context(), t.TempDir(), url)
		if err == nil {
			s.Close()
			t.Fatalf("%s: opened", url)
		}
		if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "secret") {
			t.Errorf("%s: %q, want %q and no password", url, msg, want)
		}
	}
}

// TestPostgresMigratesOnce: several nodes opening one new database at
// once all get the schema; goose's advisory lock makes one migrate.
func TestPostgresMigratesOnce(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := OpenURL(t.Context(), "", url)
			if err == nil {
				_, err = s.Phones(t.Context())
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s := open(t, url)
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n); err != nil || n != 7 {
		t.Errorf("%d migrations recorded, %v; want 7, each once", n, err)
	}
}

// TestTextFromTheNetwork: bytes a sender chose (NUL, invalid UTF-8) are
// stored on both engines as valid text, not refused with the batch.
func TestTextFromTheNetwork(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		s := open(t, where)
		m := phone.MAC{0, 0x13, 0x7f, 0, 0, 1}
		bad := "a\x00b\xffc"
		if err := s.Record(ctx, []event.Event{{Time: time.Now(), MAC: m, Source: event.TFTP, Kind: event.Request,
			File: bad, Detail: bad, Facts: event.Facts{Running: bad, Model: bad}}}); err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, m, 0)
		if err != nil || len(evs) != 1 {
			t.Fatalf("%v %v", evs, err)
		}
		const want = "a\uFFFDb\uFFFDc"
		p, _, _ := s.Phone(ctx, m)
		for _, got := range []string{evs[0].File, evs[0].Detail, p.LastFile, p.Load, p.SeenModel} {
			if got != want {
				t.Errorf("stored %q, want %q", got, want)
			}
		}
		if err := s.PutLease(ctx, Lease{MAC: m, IP: netip.MustParseAddr("10.0.0.9"), Expires: time.Now(),
			Hostname: bad, VendorClass: bad}); err != nil {
			t.Fatal(err)
		}
		if ls, _ := s.Leases(ctx); len(ls) != 1 || ls[0].Hostname != want || ls[0].VendorClass != want {
			t.Errorf("leases %+v", ls)
		}
	})
}

// TestListenNotify: a node's Notify reaches another node's Listen on the
// same database, and only on that channel.
func TestListenNotify(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	got := b.Listen(t.Context(), ChannelInventory)
	other := b.Listen(t.Context(), ChannelFirmware)
	// LISTEN takes effect once its connection is up: notify until heard.
	deadline := time.After(10 * time.Second)
	for heard := false; !heard; {
		if err := a.Notify(t.Context(), ChannelInventory); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			heard = true
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notice in 10 s")
		}
	}
	select {
	case <-other:
		t.Error("a notice on another channel")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestEventIDsCommitInOrderAcrossNodes: two nodes writing events into
// one database at once; a reader never sees an event id before every
// smaller id is there (what the fleet view's cache relies on: "the events
// above the newest I read" must be all it has not read).
func TestEventIDsCommitInOrderAcrossNodes(t *testing.T) {
	url := pgtest.URL(t)
	a, b, r := open(t, url), open(t, url), open(t, url)
	type seen struct{ max, count int64 }
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		obs  []seen
	)
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			mac := phone.MAC{0, 0x13, 0x7f, 0, 9, byte(i)}
			for range 100 {
				evs := make([]event.Event, 10)
				for j := range evs {
					evs[j] = event.Event{MAC: mac, Source: event.TFTP, Kind: event.Request, File: "x"}
				}
				if err := s.Record(t.Context(), evs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		var o seen
		if err := r.r.QueryRow(`SELECT COALESCE(MAX(id), 0), COUNT(*) FROM events`).Scan(&o.max, &o.count); err != nil {
			t.Fatal(err)
		}
		obs = append(obs, o)
	}
	for _, o := range obs {
		var now int64
		if err := r.r.QueryRow(`SELECT COUNT(*) FROM events WHERE id <= $1`, o.max).Scan(&now); err != nil {
			t.Fatal(err)
		}
		if now != o.count {
			t.Fatalf("a reader saw %d events up to id %d; %d are there now: one came in later below it", o.count, o.max, now)
		}
	}
	t.Logf("%d reads while two nodes wrote 2,000 events: ids always complete", len(obs))
}
