package analyze

import (
	"strings"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// runningFrom infers the load a phone runs from the requests a capture
// shows, as provision learns it from the transfers it serves (and as
// phoneboot's store would hold it), on what the wire alone tells:
//
//   - a 7940/7960 fetches the .loads of its load on every boot (§1.2.1):
//     one that fetched <L>.loads and went on to a config, not to a
//     component, runs L;
//   - a phone that fetched <L>.loads and then components, and whose next
//     boot starts (CTLSEP, OS79XX.TXT), rebooted into L.
//
// "" when the requests do not tell.
func runningFrom(evs []event.Event) string {
	run, pending, images := "", "", false
	for _, ev := range evs {
		if !ev.IsRequest() {
			continue
		}
		n := phone.ParseName(strings.TrimPrefix(strings.TrimLeft(ev.File, "/"), "./"))
		switch n.Kind {
		case phone.KindLoadList:
			if ev.Outcome == event.OK {
				pending, images = n.Load, false
			}
			continue
		case phone.KindImage:
			if pending != "" && ev.Outcome == event.OK {
				images = true
			}
			continue
		case phone.KindTermDefault:
			pending = ""
			continue
		}
		if pending == "" {
			continue
		}
		boot := n.Kind == phone.KindCTL || n.Kind == phone.KindOSImage
		switch {
		case !images && phone.LoadFamily(pending) == phone.FamilyClassic:
			run = pending
		case images && boot:
			run = pending
		}
		pending = ""
	}
	return run
}
