package provision

import (
	"net/netip"
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
//
// It returns whose request it was: a foreign one teaches nothing.
func (p *Provisioner) Transferred(req Request, ok bool) phonestate.Attribution {
	n := phone.ParseName(req.Name)
	ended := phonestate.Asked{Client: req.Client, Name: req.Name, Done: true, OK: ok}
	att := p.book.Attribute(n, req.Client.Addr(), p.opts.Now())
	switch att.Verdict {
	case phonestate.Foreign:
		return att
	case phonestate.Unknown:
		// Kept for the phone a later request from the address names.
		p.book.Unattributed(req.Client.Addr(), ended)
		return att
	}
	p.drain(att.MAC, req.Client.Addr(), func(st *phonestate.Phone) bool {
		i := slices.IndexFunc(st.Asked, func(a phonestate.Asked) bool {
			return !a.Done && a.Client == req.Client && a.Name == req.Name
		})
		if i < 0 {
			return false // not noted (a full list, a restart): learn at once
		}
		st.Asked[i].Done, st.Asked[i].OK = true, ok
		return true
	}, ended)
	return att
}

// drain learns from the phone's ended requests at the head of its queue,
// after mark (which may mark one ended; when it did not, unnoted is
// learned from first).
func (p *Provisioner) drain(mac phone.MAC, ip netip.Addr, mark func(*phonestate.Phone) bool, unnoted phonestate.Asked) {
	s := p.snap.Load()
	now := p.opts.Now()
	learned := phonestate.Update(p.book, mac, func(st *phonestate.Phone) []*event.Event {
		var out []*event.Event
		if mark != nil && !mark(st) {
			out = append(out, learn(s, st, unnoted))
		}
		for len(st.Asked) > 0 && st.Asked[0].Done {
			out = append(out, learn(s, st, st.Asked[0]))
			st.Asked = st.Asked[1:]
		}
		return out
	})
	for _, ev := range learned {
		if ev != nil {
			ev.MAC, ev.IP, ev.Time = mac, ip, now
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

// offer notes that the file served for req names load, for learn. Not
// for a 7940/7960 on the Universal Application Loader: it fetches the
// .loads it is named on every boot (§1.2.1), and learn's rule for .loads
// tells what it runs.
func (p *Provisioner) offer(mac phone.MAC, req Request, load string) {
	if load == "" {
		return
	}
	phonestate.Update(p.book, mac, func(st *phonestate.Phone) struct{} {
		if st.Boot == phone.BootUAL && !st.ITL {
			return struct{}{}
		}
		for i := len(st.Asked) - 1; i >= 0; i-- {
			if a := &st.Asked[i]; !a.Done && a.Client == req.Client && a.Name == req.Name {
				a.Offered = load
				break
			}
		}
		return struct{}{}
	})
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

// learn updates st with one ended request, a, and returns the "load"
// event when the phone now runs a new load. Called under the book's lock.
func learn(s *snapshot, st *phonestate.Phone, a phonestate.Asked) *event.Event {
	name := a.Name
	n := phone.ParseName(name)
	lower := strings.ToLower(name)
	offered, by := st.Offered, st.OfferedBy
	st.Offered, st.OfferedBy = "", ""
	if a.OK {
		st.Offered, st.OfferedBy = a.Offered, lower
	}
	switch {
	case isFirmware(n.Kind), lower == by:
		// It takes what it was offered, downloads something else, or
		// asks for the same config again (a loop): nothing to conclude.
		// A component of the load it fetches, even cut off or asked for
		// in part (an HTTP Range), shows it is downloading: it does not
		// run the load yet.
		if f := st.Fetching; n.Kind == phone.KindImage && f != nil && f.Missing[lower] {
			f.Started = true
		}
	case offered != "" && st.Running == "" && !st.FetchStarted():
		// It was named a load and went on to something else: it runs that
		// load already (§1.3, §1.2.3: phones fetch a load only when it
		// differs from theirs).
		return setRunning(st, offered, name, "did not download "+offered+", which its config named: it runs it")
	}
	if !a.OK {
		return nil // only a whole file teaches what the phone runs
	}
	switch n.Kind {
	case phone.KindLoadList, phone.KindTermDefault:
		id := n.Load
		if n.Kind == phone.KindTermDefault {
			id = "" // a term file's load is the one its components make
			if m, ok := phone.ModelByTerm(n.Model); ok && st.Model.Name == "" {
				st.Model = m // a Java phone after a factory reset names its model (§1.3)
			}
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
					return setRunning(st, f.Load, name, "")
				}
			}
			return nil
		}
		if im, ok := phone.ParseImage(name); ok && im.OldImage() {
			return setRunning(st, im.Stem, name, "")
		}
		return nil
	}
	var ev *event.Event
	if f := st.Fetching; f != nil && !f.Started && f.Load != "" && isClassic(f.Load) {
		ev = setRunning(st, f.Load, name, "")
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
// (about file, the one that showed it; why, for people), nil if it ran it
// already.
func setRunning(st *phonestate.Phone, id, file, why string) *event.Event {
	if st.Running == id {
		return nil
	}
	before := st.Running
	st.Running = id
	ev := &event.Event{Kind: event.Load, File: file, Facts: event.Facts{Running: id}, Detail: "runs " + id + " now"}
	if why != "" {
		ev.Detail = why
	}
	if before != "" {
		ev.Detail += " (was " + before + ")"
	}
	return ev
}

func isFirmware(k phone.Kind) bool {
	return k == phone.KindLoadList || k == phone.KindTermDefault || k == phone.KindImage
}
