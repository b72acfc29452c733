package provision

import (
	"slices"
	"strings"
	"time"

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
// The file services call it for every finished read request, in any
// order; ok says whether the whole file reached the phone. Provision
// learns from the transfers in the order the phone asked for them (Open
// noted it): a phone asks for its next file once the last one arrived, but
// the report of that one can come after the next request.
func (p *Provisioner) Transferred(req Request, ok bool) {
	n := phone.ParseName(req.Name)
	mac, known := p.book.Attribute(n, req.Client.Addr())
	if !known {
		return
	}
	s := p.snap.Load()
	now := p.opts.Now()
	learned := phonestate.Update(p.book, mac, func(st *phonestate.Phone) []*event.Event {
		i := slices.IndexFunc(st.Asked, func(a phonestate.Asked) bool {
			return !a.Done && a.Client == req.Client && a.Name == req.Name
		})
		if i < 0 { // not noted (a full list, a restart): learn at once
			if ok {
				return []*event.Event{learn(s, st, req.Name)}
			}
			return nil
		}
		st.Asked[i].Done, st.Asked[i].OK = true, ok
		var out []*event.Event
		for len(st.Asked) > 0 && st.Asked[0].Done {
			if a := st.Asked[0]; a.OK {
				out = append(out, learn(s, st, a.Name))
			}
			st.Asked = st.Asked[1:]
		}
		return out
	})
	for _, ev := range learned {
		if ev != nil {
			ev.MAC, ev.IP, ev.Time = mac, req.Client.Addr(), now
			p.emit(*ev)
		}
	}
}

// settleWait bounds how long a request waits for the reports of the
// phone's firmware transfers before it.
const settleWait = 500 * time.Millisecond

// settle waits, for at most p.settleWait, until every earlier firmware
// transfer of the phone has been reported: a phone asks for its next file
// as soon as the last one arrived, a moment before the server hears its
// final ACK, and a component that completes a load changes what the next
// config names.
func (p *Provisioner) settle(mac phone.MAC) {
	deadline := time.Now().Add(p.settleWait)
	for {
		pending := phonestate.Update(p.book, mac, func(st *phonestate.Phone) bool {
			return slices.ContainsFunc(st.Asked, func(a phonestate.Asked) bool {
				return !a.Done && isFirmware(phone.ParseName(a.Name).Kind)
			})
		})
		if !pending || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// maxAsked bounds the requests noted per phone while they run.
const maxAsked = 64

// asked notes a request of the phone, for Transferred. Called under the
// book's lock.
func asked(st *phonestate.Phone, req Request) {
	if len(st.Asked) >= maxAsked {
		st.Asked = st.Asked[1:] // its end, if it ever comes, is learned at once
	}
	st.Asked = append(st.Asked, phonestate.Asked{Client: req.Client, Name: req.Name})
}

// learn updates st with one fetched file, name, and returns the "load"
// event when the phone now runs a new load. Called under the book's lock.
func learn(s *snapshot, st *phonestate.Phone, name string) *event.Event {
	n := phone.ParseName(name)
	lower := strings.ToLower(name)
	switch n.Kind {
	case phone.KindLoadList, phone.KindTermDefault:
		id := n.Load
		if n.Kind == phone.KindTermDefault {
			id = "" // a term file's load is the one its components make
		}
		st.Fetching = startFetch(s, id, n)
		return nil
	case phone.KindImage:
		f := st.Fetching
		if f != nil && f.Missing[lower] {
			delete(f.Missing, lower)
			f.Started = true
			if len(f.Missing) == 0 {
				st.Fetching = nil
				if f.Load != "" {
					return setRunning(st, f.Load, name)
				}
			}
			return nil
		}
		if im, ok := phone.ParseImage(name); ok && im.OldImage() {
			return setRunning(st, im.Stem, name)
		}
		return nil
	}
	var ev *event.Event
	if f := st.Fetching; f != nil && !f.Started && f.Load != "" && isClassic(f.Load) {
		ev = setRunning(st, f.Load, name)
	}
	st.Fetching = nil
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

// setRunning records a phone's load and returns the event that says so
// (about file, the one that showed it), nil if it ran it already.
func setRunning(st *phonestate.Phone, id, file string) *event.Event {
	if st.Running == id {
		return nil
	}
	before := st.Running
	st.Running = id
	ev := &event.Event{Kind: event.Load, File: file, Facts: event.Facts{Running: id}, Detail: "runs " + id + " now"}
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

func isFirmware(k phone.Kind) bool {
	return k == phone.KindLoadList || k == phone.KindTermDefault || k == phone.KindImage
}
