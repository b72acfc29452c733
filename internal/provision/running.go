package provision

import (
	"strings"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/tftp"
)

// fetching is a load a phone has started to download.
type fetching struct {
	id      string
	missing map[string]bool // lower-case components not fetched yet
	started bool            // a component was fetched
}

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
// serve calls it for every transfer event.
func (p *Provisioner) Transferred(ev tftp.Event) {
	if ev.Op != tftp.OpRRQ || ev.Outcome != tftp.OutcomeOK {
		return
	}
	name, err := tftp.CleanName(ev.File)
	if err != nil {
		return
	}
	mac, ok := p.MACFor(name, ev.Remote.Addr())
	if !ok {
		return
	}
	s := p.snap.Load()
	n := phone.ParseName(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.phones[mac]
	if st == nil {
		return // not tracked (the table is full)
	}
	lower := strings.ToLower(name)
	switch n.Kind {
	case phone.KindLoadList, phone.KindTermDefault:
		id := n.Load
		if n.Kind == phone.KindTermDefault {
			id = "" // a term file's load is the one its components make
		}
		f := p.startFetch(s, id, n)
		// Events of quick transfers can arrive out of order: a small
		// component may have been reported before its list.
		for _, c := range st.recent {
			if f.missing[c] {
				delete(f.missing, c)
				f.started = true
			}
		}
		st.recent = st.recent[:0]
		if f.started && len(f.missing) == 0 && f.id != "" {
			p.setRunning(mac, ev, f.id)
			return
		}
		st.fetching = f
		return
	case phone.KindImage:
		f := st.fetching
		if f != nil && f.missing[lower] {
			delete(f.missing, lower)
			f.started = true
			if len(f.missing) == 0 {
				st.fetching = nil
				if f.id != "" {
					p.setRunning(mac, ev, f.id)
				}
			}
			return
		}
		if l, ok := phone.ParseLoadID(n.Load); ok && l.Family == phone.FamilyClassic && !l.Loader && !l.UAL() {
			p.setRunning(mac, ev, n.Load)
		}
		if len(st.recent) < 16 {
			st.recent = append(st.recent, lower)
		}
		return
	}
	if f := st.fetching; f != nil && !f.started && f.id != "" && isClassic(f.id) {
		p.setRunning(mac, ev, f.id)
	}
	st.fetching, st.recent = nil, st.recent[:0]
}

// startFetch notes the components of the load whose list a phone just
// fetched. Called with p.mu held.
func (p *Provisioner) startFetch(s *snapshot, id string, n phone.Name) *fetching {
	if id == "" {
		id = s.termLoad(n.Model) // termNN.default.loads
	}
	f := &fetching{id: id, missing: map[string]bool{}}
	if l, ok := s.loads.get(id); ok {
		f.id = l.id
		for _, c := range l.components {
			f.missing[strings.ToLower(c)] = true
		}
	}
	return f
}

// setRunning records a phone's load and says so in its timeline. Called
// with p.mu held.
func (p *Provisioner) setRunning(mac phone.MAC, ev tftp.Event, id string) {
	if p.running[mac] == id {
		return
	}
	before := p.running[mac]
	if len(p.running) < maxTracked || before != "" {
		p.running[mac] = id
	}
	p.emit(event.Event{MAC: mac, IP: ev.Remote.Addr(), Kind: event.Load, File: ev.File, Facts: event.Facts{Running: id},
		Detail: "runs " + id + " now"})
	if before != "" {
		p.opts.Logger.Info("phone changed load", "phone", mac.String(), "from", before, "to", id)
	}
}

// Running is the load a phone runs, as far as phoneboot has seen.
func (p *Provisioner) Running(mac phone.MAC) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[mac]
}

// runningFor is what a phone runs for planning: the load seen, or, for a
// 7940/7960 whose boot showed the Universal Application Loader, the
// oldest such load of the target's protocol. From there 7.x/8.x targets
// are one step; without it the planner must assume the oldest load.
// Called with p.mu held.
func (p *Provisioner) runningFor(mac phone.MAC, target string) string {
	if r := p.running[mac]; r != "" {
		return r
	}
	st := p.phones[mac]
	if st == nil || !st.ual {
		return ""
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
