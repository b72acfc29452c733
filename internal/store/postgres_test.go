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
