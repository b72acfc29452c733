package ratelimit

import (
	"testing"
	"time"
)

func TestKeyed(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	k := New[string](10, 3, 4)
	for i := range 3 {
		if ok, _ := k.Allow("a", now); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if ok, tell := k.Allow("a", now); ok || !tell {
		t.Fatalf("over the burst: ok %v tell %v, want refused and told", ok, tell)
	}
	if ok, tell := k.Allow("a", now.Add(10*time.Millisecond)); ok || tell {
		t.Fatalf("again within a second: ok %v tell %v, want refused silently", ok, tell)
	}
	if ok, _ := k.Allow("a", now.Add(200*time.Millisecond)); !ok {
		t.Fatal("refilled token refused")
	}
	if ok, _ := k.Allow("b", now); !ok {
		t.Fatal("another key is limited by the first")
	}
	// A flood of new keys: the table stays at its bound.
	for i := range 1000 {
		k.Allow(string(rune('c'+i)), now)
	}
	if len(k.keys) > 4 {
		t.Fatalf("table grew to %d keys, bound 4", len(k.keys))
	}
}
