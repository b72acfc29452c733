package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/event"
)

func TestLoadEvents(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := context.Background()
	a, b := mac(t, "00:13:7f:00:00:01"), mac(t, "00:13:7f:00:00:02")
	t0 := time.Now().Add(-time.Hour)
	evs := []event.Event{
		{Time: t0.Add(-2 * time.Hour), MAC: a, Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "OLD"}},
		{Time: t0, MAC: a, Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-11-00"}},
		{Time: t0.Add(time.Minute), MAC: a, Source: event.TFTP, Kind: event.Request, File: "x"},
		{Time: t0.Add(2 * time.Minute), MAC: b, Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-12-00"}},
		{Time: t0.Add(3 * time.Minute), MAC: a, Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-12-00"}},
		{Time: t0.Add(4 * time.Minute), Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "NOBODY"}},
	}
	if err := s.Record(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadEvents(ctx, t0.Add(-time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range got {
		ids = append(ids, ev.MAC.String()+" "+ev.Facts.Running)
	}
	want := []string{"00:13:7f:00:00:01 P0S3-8-11-00", "00:13:7f:00:00:02 P0S3-8-12-00", "00:13:7f:00:00:01 P0S3-8-12-00"}
	if len(ids) != len(want) {
		t.Fatalf("got %q, want %q", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("got %q, want %q", ids, want)
		}
	}
	// The limit keeps the newest.
	if got, _ := s.LoadEvents(ctx, t0.Add(-time.Second), 1); len(got) != 1 || got[0].MAC != a || got[0].Facts.Running != "P0S3-8-12-00" {
		t.Errorf("limit 1: %+v", got)
	}
}
