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
	asked := func(sec int, addr netip.Addr) event.Event {
		return event.Event{Time: t0.Add(time.Duration(sec) * time.Second), Source: event.ARP, Kind: event.ARPUnanswered,
			Facts: event.Facts{Server: addr, Count: 1}}
	}
	step := func(sec int, addr netip.Addr, s event.StaleStep) event.Event {
		return event.Event{Time: t0.Add(time.Duration(sec) * time.Second), Source: event.ARP, Kind: event.StaleServer,
			Facts: event.Facts{Server: addr, Step: s}}
	}
	find := func(evs ...event.Event) map[string][]Finding {
		out := map[string][]Finding{}
		for _, f := range Analyze(Timeline{Settings: settings, Events: evs, Now: t0.Add(time.Minute)}).Findings {
			out[f.Rule] = append(out[f.Rule], f)
		}
		return out
	}
	// Heard, not answered (--notice-stale, a capture, the cap): the
	// unanswered-ARP error.
	f := find(asked(0, old), step(1, old, event.StaleFull))
	if len(f["arp-unanswered"]) != 1 || len(f["stale-server"]) != 0 || !strings.Contains(f["arp-unanswered"][0].Symptom, "10.99.0.1 (ARP, once)") {
		t.Fatalf("unanswered: %+v", f)
	}
	// Answered, then released: info, and no unanswered finding.
	f = find(asked(0, old), step(0, old, event.StaleAdded), step(60, old, event.StaleReleased))
	if len(f["stale-server"]) != 1 || f["stale-server"][0].Severity != SevInfo || len(f["arp-unanswered"]) != 0 ||
		!strings.Contains(f["stale-server"][0].Symptom, "asks for an old TFTP server at 10.99.0.1") {
		t.Errorf("answered: %+v", f)
	}
	// Taken, then another host came: said so.
	f = find(asked(0, old), step(0, old, event.StaleAdded), step(5, old, event.StaleInUse), step(5, old, event.StaleReleased))
	if len(f["stale-server"]) != 1 || f["stale-server"][0].Did != "answered at 10.99.0.1 until another host took the address" {
		t.Errorf("in use later: %+v", f)
	}
	// Steps with no answer before them: nothing of stale-server.
	if f := find(step(0, old, event.StaleInUse), step(1, netip.MustParseAddr("10.99.0.2"), event.StaleReleased)); len(f["stale-server"]) != 0 {
		t.Errorf("in use: %+v", f)
	}
	// Many addresses answered: the last three.
	var evs []event.Event
	for i := range 10 {
		evs = append(evs, step(i, netip.AddrFrom4([4]byte{10, 99, 0, byte(10 + i)}), event.StaleAdded))
	}
	if f := find(evs...)["stale-server"]; len(f) != 3 || !strings.Contains(f[2].Symptom, "10.99.0.19") {
		t.Errorf("ten addresses: %d findings %+v", len(f), f)
	}
}
