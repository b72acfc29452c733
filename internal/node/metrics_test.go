package node

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
)

// storeWithPhones is a store where n phones each fetched their config,
// their dial plan and a firmware list (not found) a minute ago.
func storeWithPhones(t testing.TB, n int) *node {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at := time.Now().Add(-time.Minute)
	var batch []event.Event
	for i := range n {
		mac := phone.MAC{0, 0x13, 0x7f, 0, byte(i >> 8), byte(i)}
		for j, f := range []string{mac.DeviceName() + ".cnf.xml", "dialplan.xml", "P0S3-8-12-00.loads"} {
			outcome := event.OK
			if j == 2 {
				outcome = event.NotFound
			}
			batch = append(batch, event.Event{Time: at.Add(time.Duration(j) * time.Second), MAC: mac,
				Source: event.TFTP, Kind: event.Request, File: f, Outcome: outcome, Bytes: 1000})
		}
		if len(batch) >= 3000 || i == n-1 {
			if err := db.Record(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	nd := &node{db: db}
	nd.cfg.Store(config.Default(""))
	return nd
}

func TestPhonesByState(t *testing.T) {
	nd := storeWithPhones(t, 3)
	got, err := nd.phonesByState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range got {
		total += c
	}
	if total != 3 {
		t.Errorf("counts %v: want the 3 phones", got)
	}
	if _, err := (&node{}).phonesByState(context.Background()); err == nil {
		t.Error("counted phones without a store")
	}
}

// BenchmarkPhonesByState is what one count of the phones by state costs
// with 10,000 phones in the store (the metrics do it at most every 30s).
func BenchmarkPhonesByState(b *testing.B) {
	nd := storeWithPhones(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		got, err := nd.phonesByState(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(got) == 0 {
			b.Fatal(fmt.Sprint(got))
		}
	}
}
