package fleetfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/store"
)

// TestTwoNodes: two nodes' fleet.toml kept in step through one database:
// the first shares its file, an edit on either reaches the other, two
// edits at once keep the first stored and save the other's aside, and a
// broken edit is never shared.
func TestTwoNodes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "phoneboot.db")
	node := func(name string) *Sync {
		s, err := store.Open(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return &Sync{Store: s, Node: name, File: filepath.Join(t.TempDir(), "fleet.toml"),
			Check: func(b []byte) error {
				if strings.Contains(string(b), "broken") {
					return errors.New("fleet.toml:1: broken")
				}
				return nil
			}}
	}
	a, b := node("a"), node("b")
	put := func(s *Sync, text string) {
		t.Helper()
		if err := os.WriteFile(s.File, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sync := func(s *Sync, want Result) {
		t.Helper()
		got, err := s.Once(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", s.Node, err)
		}
		if want.Conflict != "" {
			want.Conflict = got.Conflict
		}
		if got != want {
			t.Fatalf("%s: %+v, want %+v", s.Node, got, want)
		}
	}
	has := func(s *Sync, text string) {
		t.Helper()
		if b, _ := os.ReadFile(s.File); string(b) != text {
			t.Fatalf("%s has %q, want %q", s.Node, b, text)
		}
	}

	sync(b, Result{}) // nothing anywhere yet
	put(a, "one")
	sync(a, Result{Revision: 1, Shared: true})
	sync(b, Result{Revision: 1, Written: true})
	has(b, "one")
	sync(b, Result{Revision: 1})

	put(b, "two")
	sync(b, Result{Revision: 2, Shared: true})
	sync(a, Result{Revision: 2, Written: true})
	has(a, "two")

	put(a, "three from a")
	put(b, "three from b")
	sync(a, Result{Revision: 3, Shared: true})
	got, err := b.Once(t.Context())
	if err != nil || !got.Written || got.Conflict == "" || got.Revision != 3 {
		t.Fatalf("conflict: %+v %v", got, err)
	}
	has(b, "three from a")
	if saved, _ := os.ReadFile(got.Conflict); string(saved) != "three from b" {
		t.Fatalf("saved aside: %q", saved)
	}

	put(a, "broken")
	if _, err := a.Once(t.Context()); err == nil || !strings.Contains(err.Error(), "fleet.toml:1: broken") {
		t.Fatalf("broken edit: %v", err)
	}
	sync(b, Result{Revision: 3})
	has(b, "three from a")
	put(a, "fixed")
	sync(a, Result{Revision: 4, Shared: true})

	// A node whose fleet.toml was deleted gets the fleet's back.
	os.Remove(b.File)
	sync(b, Result{Revision: 4, Written: true})
	has(b, "fixed")
}
