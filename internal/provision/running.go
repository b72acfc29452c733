package provision

import (
	"strings"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
)

// Transferred learns from a finished transfer which load a phone runs,
// so that the next config names the next step of its path:
//
//   - a phone that fetched <L>.loads and then every component it lists
//     reboots into L (cisco-79xx.md §1.2-§1.3);
//   - a 7940/7960 fetches <L>.loads on every boot, even when it runs L
//     (§1.2.1): one that asks for anything else next, without fetching a
//     component, runs L already;
//   - an old 7940/7960 image without a .loads file (P0S3-05-3-00.bin)
//     runs once fetched.
//
// The file services call it for every finished read request; ok says
// whether the whole file reached the phone.
func (p *Provisioner) Transferred(req Request, ok bool) {
	if !ok {
		return
	}
	n := phone.ParseName(req.Name)
	mac, known := p.book.Attribute(n, req.Client.Addr())
	if !known {
		return
	}
	s := p.snap.Load()
	now := p.opts.Now()
	var learned *event.Event
	phonestate.Update(p.book, mac, func(st *phonestate.Phone) struct{} {
		learned = learn(s, st, n, req.Name)
		return struct{}{}
	})
	if learned != nil {
		learned.MAC, learned.IP, learned.File, learned.Time = mac, req.Client.Addr(), req.Name, now
		p.emit(*learned)
	}
}

// learn updates st with one fetched file, name, and returns the "load"
// event when the phone now runs a new load. Called under the book's lock.
func learn(s *snapshot, st *phonestate.Phone, n phone.Name, name string) *event.Event {
	lower := strings.ToLower(name)
	switch n.Kind {
	case phone.KindLoadList, phone.KindTermDefault:
		id := n.Load
		if n.Kind == phone.KindTermDefault {
			id = "" // a term file's load is the one its components make
		}
		f := startFetch(s, id, n)
		// Events of quick transfers can arrive out of order: a small
		// component may have been reported before its list.
		for _, c := range st.Recent {
			if f.Missing[c] {
				delete(f.Missing, c)
				f.Started = true
			}
		}
		st.Recent = st.Recent[:0]
		if f.Started && len(f.Missing) == 0 && f.Load != "" {
			return setRunning(st, f.Load)
		}
		st.Fetching = f
		return nil
	case phone.KindImage:
		f := st.Fetching
		if f != nil && f.Missing[lower] {
			delete(f.Missing, lower)
			f.Started = true
			if len(f.Missing) == 0 {
				st.Fetching = nil
				if f.Load != "" {
					return setRunning(st, f.Load)
				}
			}
			return nil
		}
		var ev *event.Event
		if im, ok := phone.ParseImage(name); ok && im.OldImage() {
			ev = setRunning(st, im.Stem)
		}
		if len(st.Recent) < 16 {
			st.Recent = append(st.Recent, lower)
		}
		return ev
	}
	var ev *event.Event
	if f := st.Fetching; f != nil && !f.Started && f.Load != "" && isClassic(f.Load) {
		ev = setRunning(st, f.Load)
	}
	st.Fetching, st.Recent = nil, st.Recent[:0]
	return ev
}

// startFetch notes the components of the load whose list a phone just
// fetched.
func startFetch(s *snapshot, id string, n phone.Name) *phonestate.Fetch {
	if id == "" {
		id = s.termLoad(n.Model) // termNN.default.loads
	}
	f := &phonestate.Fetch{Load: id, Missing: map[string]bool{}}
	if l, ok := s.loads.get(id); ok {
		f.Load = l.id
		for _, c := range l.components {
			f.Missing[strings.ToLower(c)] = true
		}
	}
	return f
}

// setRunning records a phone's load and returns the event that says so,
// nil if it ran it already.
func setRunning(st *phonestate.Phone, id string) *event.Event {
	if st.Running == id {
		return nil
	}
	before := st.Running
	st.Running = id
	ev := &event.Event{Kind: event.Load, Facts: event.Facts{Running: id}, Detail: "runs " + id + " now"}
	if before != "" {
		ev.Detail += " (was " + before + ")"
	}
	return ev
}

// runningFor is what a phone runs for planning: the load seen, or, for a
// 7940/7960 whose boot showed the Universal Application Loader, the
// oldest such load of the target's protocol. From there 7.x/8.x targets
// are one step; without it the planner must assume the oldest load.
func runningFor(ph phonestate.Phone, target string) string {
	if ph.Running != "" || !ph.UAL {
		return ph.Running
	}
	if l, ok := phone.ParseLoadID(target); ok && l.Family == phone.FamilyClassic {
		switch l.Protocol {
		case "SIP":
			return ualFloorSIP
		case "SCCP":
			return ualFloorSCCP
		}
	}
	return ""
}

// The oldest 7940/7960 loads that boot with the Universal Application
// Loader (cisco-79xx.md §1.2), as load IDs for the planner.
const (
	ualFloorSIP  = "P0S3-07-0-00"
	ualFloorSCCP = "P00306000000"
)
