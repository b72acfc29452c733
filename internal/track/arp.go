package track

import (
	"fmt"
	"slices"
	"strings"

	"phoneboot/internal/event"
)

// ARPUnansweredCount is how many ARP requests for one address, none
// answered, make an event.ARPUnanswered (phoneboot analyze counts them).
const ARPUnansweredCount = 3

// UnansweredARP: the phone asked ARP again and again for an address
// nothing answers on: a TFTP server (or gateway) it keeps from an old
// network (seed page: "temporarily reconfigure your local network to
// addresses that the phone is trying to use"). An error when the phone
// asked for no file after it; else a warning.
func UnansweredARP(tl Timeline) []Finding {
	evs := recent(tl.Events)
	var last *event.Event
	var addrs []string
	for i := range evs {
		ev := &evs[i]
		// An address serve --answer-stale answered for is StaleServer's.
		if ev.Is(event.ARP, event.ARPUnanswered) && !answeredStale(evs, ev.Facts.Server, ev.Time) {
			last = ev
			if a := ev.Facts.Server.String(); !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
	}
	if last == nil {
		return nil
	}
	if len(addrs) > 3 {
		addrs = append(addrs[:3], "…")
	}
	f := Finding{Rule: "arp-unanswered", Severity: SevError, At: last.Time,
		Symptom: fmt.Sprintf("the phone looks for %s (ARP, %s) and nothing answers there", strings.Join(addrs, ", "), times(last.Facts.Count)),
		Cause:   "it keeps the address of a TFTP server (or gateway) from another network: a phone keeps a TFTP server set by hand, and one flashed with the loader keeps its old settings (seed page)",
		Do:      "on the phone, Settings → Network Configuration → Alternate TFTP = No (or " + factoryReset + "); or let phoneboot answer at that address for a while: phoneboot serve --answer-stale IF",
		Source:  "seed page (\"temporarily reconfigure your local network to addresses that the phone is trying to use\")"}
	for _, ev := range evs {
		if ev.IsRequest() && ev.Time.After(last.Time) {
			f.Severity = SevWarning // it found a server since
			break
		}
	}
	return []Finding{f}
}

// times is "once", "twice" or "N times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}
