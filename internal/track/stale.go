package track

import (
	"fmt"
	"net/netip"

	"phoneboot/internal/event"
)

// StaleServer: the phone ARPs for an address nobody on its segment has —
// the TFTP server of an old network it kept (seed page: "the phone will
// retain settings for TFTP server"). The events come from serve
// --answer-stale (which also answers there) or from phoneboot analyze
// on a capture. A warning while nobody answers; info once phoneboot did.
// One finding per address, the last three.
func StaleServer(tl Timeline) []Finding {
	type seen struct {
		last     event.Event // its last step
		answered bool        // phoneboot took it at some point
	}
	var order []netip.Addr
	byAddr := map[netip.Addr]*seen{}
	for _, ev := range recent(tl.Events) {
		if !ev.Is(event.ARP, event.StaleServer) || !ev.Facts.Addr.IsValid() || ev.Facts.Step == event.StaleInUse {
			continue
		}
		s := byAddr[ev.Facts.Addr]
		if s == nil {
			if ev.Facts.Step != event.StaleAbsent {
				continue // the absent step starts it
			}
			s = &seen{}
			byAddr[ev.Facts.Addr] = s
			order = append(order, ev.Facts.Addr)
		}
		s.last = ev
		s.answered = s.answered || ev.Facts.Step == event.StaleAdded
	}
	if len(order) > 3 {
		order = order[len(order)-3:]
	}
	var out []Finding
	for _, addr := range order {
		s := byAddr[addr]
		f := Finding{Rule: "stale-server", At: s.last.Time, Source: "seed page (\"reconfigure your local network to addresses that the phone is trying to use\"); docs/stale-server.md",
			Symptom: fmt.Sprintf("the phone asks for an old TFTP server at %s, an address nobody on its segment has", addr),
			Cause:   "it kept a TFTP server from another network (Alternate TFTP set, or a cached option 150) and ARPs for it instead of asking phoneboot"}
		fix := "set the phone's TFTP server to phoneboot (Settings > Network Configuration: Alternate TFTP = No, or TFTP Server 1), or factory-reset it"
		switch {
		case s.answered:
			f.Severity = SevInfo
			f.Did = fmt.Sprintf("answered at %s for as long as the phone asked (serve --answer-stale)", addr)
			f.Do = "nothing now; to end it, " + fix
		default:
			f.Severity = SevWarning
			f.Do = "let phoneboot answer there: serve --answer-stale IF (docs/stale-server.md); or " + fix
			switch s.last.Facts.Step {
			case event.StaleFull:
				f.Did = "phoneboot did not take the address: it held as many as --answer-stale-max allows"
			case event.StaleFailed:
				f.Did = "phoneboot could not take the address (the timeline and its log say why)"
			}
		}
		out = append(out, f)
	}
	return out
}
