package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestHeldLoads(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := context.Background()
		s, err := openWhere(ctx, where)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		at := time.UnixMilli(time.Now().UnixMilli())
		m := Manifest{Files: []ManifestFile{
			{Name: "P0S3-8-12-00.loads", Size: 120, SHA256: "aa"},
			{Name: "P0S3-8-12-00.sb2", Size: 4096, SHA256: "bb"},
		}}
		for _, l := range []HeldLoad{
			{ID: "P0S3-8-12-00", Node: "building-b", Manifest: m, Imported: at},
			{ID: "P0S3-8-12-00", Node: "building-a", Manifest: m, Imported: at},
			{ID: "SIP41.9-4-2SR3-1S", Node: "building-a", Manifest: m, Imported: at},
		} {
			if err := s.PutHeldLoad(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		// Put again replaces: one row per node and load.
		m2 := Manifest{Files: m.Files[:1]}
		if err := s.PutHeldLoad(ctx, HeldLoad{ID: "SIP41.9-4-2SR3-1S", Node: "building-a", Manifest: m2, Imported: at, From: "building-c", Removed: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteHeldLoad(ctx, "building-b", "P0S3-8-12-00"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteHeldLoad(ctx, "building-b", "never-held"); err != nil {
			t.Fatal(err)
		}
		got, err := s.HeldLoads(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []HeldLoad{
			{ID: "P0S3-8-12-00", Node: "building-a", Manifest: m, Imported: at},
			{ID: "SIP41.9-4-2SR3-1S", Node: "building-a", Manifest: m2, Imported: at, From: "building-c", Removed: true},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("HeldLoads = %+v\nwant %+v", got, want)
		}
		if err := s.PutHeldLoad(ctx, HeldLoad{ID: "", Node: "building-a"}); err == nil {
			t.Error("a held load without an ID was stored")
		}
		// A manifest another program wrote badly is flagged, not an error.
		if _, err := s.w.ExecContext(ctx, `INSERT INTO firmware_loads (id, node, manifest, imported_ms) VALUES ('X', 'building-c', '{not json', 0)`); err != nil {
			t.Fatal(err)
		}
		got, err = s.HeldLoads(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[2].ID != "X" || !got[2].Unreadable || len(got[2].Manifest.Files) != 0 {
			t.Fatalf("HeldLoads with a bad manifest = %+v", got)
		}
	})
}
