package track

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/event"
)

func TestStaleServer(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	old := netip.MustParseAddr("10.99.0.1")
	step := func(sec int, addr netip.Addr, s event.StaleStep) event.Event {
		return event.Event{Time: t0.Add(time.Duration(sec) * time.Second), Source: event.ARP, Kind: event.StaleServer,
			Facts: event.Facts{Addr: addr, Step: s}}
	}
	find := func(evs ...event.Event) []Finding {
		var out []Finding
		for _, f := range Analyze(Timeline{Settings: settings, Events: evs, Now: t0.Add(time.Minute)}).Findings {
			if f.Rule == "stale-server" {
				out = append(out, f)
			}
		}
		return out
	}
	// Heard, not answered (a capture, or the cap): a warning naming it.
	f := find(step(0, old, event.StaleAbsent))
	if len(f) != 1 || f[0].Severity != SevWarning || !strings.Contains(f[0].Symptom, "asks for an old TFTP server at 10.99.0.1") {
		t.Fatalf("absent: %+v", f)
	}
	if f := find(step(0, old, event.StaleAbsent), step(1, old, event.StaleFull)); len(f) != 1 || !strings.Contains(f[0].Did, "--answer-stale-max") {
		t.Errorf("full: %+v", f)
	}
	// Answered, then released: info.
	f = find(step(0, old, event.StaleAbsent), step(1, old, event.StaleAdded), step(60, old, event.StaleReleased))
	if len(f) != 1 || f[0].Severity != SevInfo || f[0].Did == "" {
		t.Errorf("answered: %+v", f)
	}
	// In use on the segment, or steps with no absent before them: nothing.
	if f := find(step(0, old, event.StaleInUse), step(1, netip.MustParseAddr("10.99.0.2"), event.StaleReleased)); len(f) != 0 {
		t.Errorf("in use: %+v", f)
	}
	// Many addresses: the last three.
	var evs []event.Event
	for i := range 10 {
		evs = append(evs, step(i, netip.AddrFrom4([4]byte{10, 99, 0, byte(10 + i)}), event.StaleAbsent))
	}
	if f := find(evs...); len(f) != 3 || !strings.Contains(f[2].Symptom, "10.99.0.19") {
		t.Errorf("ten addresses: %d findings %+v", len(f), f)
	}
}
