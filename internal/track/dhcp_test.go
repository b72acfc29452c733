package track

import (
	"net/netip"
	"testing"
	"time"

	"phoneboot/internal/event"
)

func TestDHCPRules(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	ev := func(sec int, source event.Source, kind event.Kind, ip, detail string) event.Event {
		e := event.Event{Time: t0.Add(time.Duration(sec) * time.Second), Source: source, Kind: kind, Detail: detail}
		if ip != "" {
			e.IP = netip.MustParseAddr(ip)
		}
		return e
	}
	rules := func(tl Timeline) []string {
		var out []string
		for _, f := range Analyze(tl).Findings {
			out = append(out, f.Rule)
		}
		return out
	}
	// The seed's DHCP loop: DISCOVER, OFFER, DISCOVER, OFFER … never REQUEST.
	var loop []event.Event
	for i := range 5 {
		loop = append(loop, ev(i*4, "dhcp", "discover", "", ""), ev(i*4+1, "dhcp", "offer", "10.0.0.50", "offered 10.0.0.50, options 1,3"))
	}
	if got := rules(Timeline{Settings: settings, Events: loop, Now: t0.Add(time.Minute)}); len(got) == 0 || got[0] != "dhcp-discover-loop" {
		t.Errorf("discover loop: %v", got)
	}
	// An ACK and then no TFTP for 5 minutes; with a TFTP request, nothing.
	ack := []event.Event{ev(0, "dhcp", "discover", "", ""), ev(1, "dhcp", "offer", "10.0.0.50", ""), ev(2, "dhcp", "request", "", ""), ev(3, "dhcp", "ack", "10.0.0.50", "")}
	if got := rules(Timeline{Settings: settings, Events: ack, Now: t0.Add(5 * time.Minute)}); !contains(got, "dhcp-no-tftp") {
		t.Errorf("ack without tftp: %v", got)
	}
	withTFTP := append(ack[:4:4], ev(5, "tftp", "request", "10.0.0.50", ""))
	withTFTP[4].File, withTFTP[4].Outcome = "CTLSEP00137F38B3DE.tlv", "not-found"
	if got := rules(Timeline{Settings: settings, Events: withTFTP, Now: t0.Add(5 * time.Minute)}); contains(got, "dhcp-no-tftp") || contains(got, "dhcp-discover-loop") {
		t.Errorf("healthy DHCP then TFTP: %v", got)
	}
	if got := rules(Timeline{Settings: settings, Events: []event.Event{ev(0, "dhcp", "decline", "10.0.0.51", "")}, Now: t0.Add(time.Minute)}); !contains(got, "dhcp-decline") {
		t.Errorf("decline: %v", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
