package track

import (
	"fmt"
	"net/netip"
	"time"

	"phoneboot/internal/event"
)

// StaleServer: serve --answer-stale answered for an address the phone
// ARPed for and nobody had — the TFTP server of an old network it kept
// (seed page: "the phone will retain settings for TFTP server"). Info:
// the phone got its files there; the admin may still fix its settings.
// UnansweredARP tells of the addresses nobody answered for. One finding
// per address, the last three.
func StaleServer(tl Timeline) []Finding {
	var order []netip.Addr
	last := map[netip.Addr]event.Event{}
	taken := map[netip.Addr]bool{} // another host took it after phoneboot
	for _, ev := range recent(tl.Events) {
		if !ev.Is(event.ARP, event.StaleServer) || !ev.Facts.Server.IsValid() {
			continue
		}
		addr := ev.Facts.Server
		if _, ok := last[addr]; !ok {
			if ev.Facts.Step != event.StaleAdded {
				continue // phoneboot's answer starts it
			}
			order = append(order, addr)
		}
		last[addr] = ev
		taken[addr] = taken[addr] || ev.Facts.Step == event.StaleInUse
	}
	if len(order) > 3 {
		order = order[len(order)-3:]
	}
	var out []Finding
	for _, addr := range order {
		f := Finding{Rule: "stale-server", Severity: SevInfo, At: last[addr].Time,
			Source:  "seed page (\"reconfigure your local network to addresses that the phone is trying to use\"); docs/stale-server.md",
			Symptom: fmt.Sprintf("the phone asks for an old TFTP server at %s, an address nobody on its segment has", addr),
			Cause:   "it kept a TFTP server from another network (Alternate TFTP set, or a cached option 150) and ARPs for it instead of asking phoneboot",
			Did:     fmt.Sprintf("answered at %s for as long as the phone asked (serve --answer-stale)", addr),
			Do:      "nothing now; to end it, set the phone's TFTP server to phoneboot (Settings > Network Configuration: Alternate TFTP = No, or TFTP Server 1), or factory-reset it"}
		if taken[addr] {
			f.Did = fmt.Sprintf("answered at %s until another host took the address", addr)
		}
		out = append(out, f)
	}
	return out
}

// answeredStale reports whether serve --answer-stale took addr for the
// phone at or after t.
func answeredStale(evs []event.Event, addr netip.Addr, t time.Time) bool {
	for _, ev := range evs {
		if ev.Is(event.ARP, event.StaleServer) && ev.Facts.Step == event.StaleAdded && ev.Facts.Server == addr && !ev.Time.Before(t) {
			return true
		}
	}
	return false
}
