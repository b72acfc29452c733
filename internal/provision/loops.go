package provision

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"phoneboot/internal/phone"
)

// trustMode is what a phone is given for its CTLSEP/ITLSEP file. The
// seed page's loops, automated:
//
//   - trustNotFound: the normal answer; phones without security go on.
//   - trustEmpty: a phone that asked again and again without moving on
//     gets an empty file ("Creating this file moved things along").
//   - trustGone: a phone that then keeps fetching the empty file gets
//     "not found" again ("removing this file AFTER the phone has been
//     asking for it for a little while … got things moving along").
//
// A phone keeps the mode that got it moving: it will be in the same
// state on its next boot.
type trustMode int

const (
	trustNotFound trustMode = iota
	trustEmpty
	trustGone
)

// phoneState is what provision remembers of a phone's recent requests.
type phoneState struct {
	last  string    // lower-case name of the last request
	at    time.Time // when
	run   int       // requests of last in a row, each within the window of the one before
	trust map[string]trustMode
	// fetching is the load whose files the phone is downloading.
	fetching *fetching
	// ual: the phone's last boot began with CTLSEP<MAC>.tlv, as 7940/7960
	// loads with the Universal Application Loader do (SIP >= 7, SCCP >= 6);
	// older loads begin with OS79XX.TXT (cisco-79xx.md §1.2).
	ual bool
	// plan is the last upgrade step or block reported for the phone.
	plan string
	// recent are components fetched while no load list was open, in case
	// their list's event arrives after them.
	recent []string
}

// decision is what observe concluded for one request.
type decision struct {
	emptyTrust bool // serve an empty trust list
	configLoop int  // >0: the phone asked for its config this many times in a row
}

// observe updates the phone's state with one request and runs the loop
// breakers. mac/known are filled from the address when the name has no
// MAC (firmware files).
func (p *Provisioner) observe(s *snapshot, n phone.Name, name string, ip netip.Addr, mac *phone.MAC, known *bool) decision {
	lower := strings.ToLower(name)
	now := p.opts.Now()
	prov := s.cfg.Provision
	window := prov.LoopWindow
	p.mu.Lock()
	defer p.mu.Unlock()
	if *known {
		if len(p.ipMAC) < maxTracked || p.ipMAC[ip] != (phone.MAC{}) {
			p.ipMAC[ip] = *mac
		}
	} else {
		*mac, *known = p.ipMAC[ip]
	}
	if !*known {
		return decision{}
	}
	if n.Kind == phone.KindTermDefault {
		// A Java phone after a factory reset names its model (§1.3).
		if m, ok := phone.ModelByTerm(n.Model); ok {
			p.learned[*mac] = m
		}
	}
	st := p.phones[*mac]
	if st == nil {
		if len(p.phones) >= maxTracked {
			p.evict(now, window)
		}
		if len(p.phones) >= maxTracked {
			return decision{}
		}
		st = &phoneState{trust: map[string]trustMode{}}
		p.phones[*mac] = st
	}
	if st.last == lower && now.Sub(st.at) <= window {
		st.run++
	} else {
		st.run = 1
	}
	st.last, st.at = lower, now

	switch n.Kind {
	case phone.KindCTL:
		st.ual = true
	case phone.KindOSImage:
		st.ual = false
	}
	var d decision
	switch n.Kind {
	case phone.KindCTL, phone.KindITL:
		d.emptyTrust = p.breakTrustLoop(st, *mac, ip, name, prov.CTLLoopRequests)
	case phone.KindDeviceConfig:
		if st.run == prov.ConfigLoopRequests {
			d.configLoop = st.run
		}
	}
	return d
}

// breakTrustLoop switches the phone's trust-list mode when it has asked
// for the same list threshold times in a row, and says whether to serve
// it empty. Called with p.mu held.
func (p *Provisioner) breakTrustLoop(st *phoneState, mac phone.MAC, ip netip.Addr, name string, threshold int) bool {
	lower := strings.ToLower(name)
	mode := st.trust[lower]
	if st.run >= threshold {
		ev := Event{MAC: mac, IP: ip, File: name, Kind: KindLoopBreaker}
		switch mode {
		case trustNotFound:
			mode = trustEmpty
			ev.Detail = fmt.Sprintf("asked for %s %d times in a row without moving on: serving it an empty file from now on (seed page: an empty CTL file moved such a phone along)", name, st.run)
		case trustEmpty:
			mode = trustGone
			ev.Detail = fmt.Sprintf("kept fetching the empty %s (%d times): answering \"not found\" again (seed page, Feb 2005: removing the file after a while got the phone going)", name, st.run)
		case trustGone:
			ev.Kind = KindLoopPersists
			ev.Detail = fmt.Sprintf("still asks for %s in a loop after both remedies; factory-reset the phone (hold # while it powers up, then 123456789*0#)", name)
		}
		st.trust[lower] = mode
		st.run = 0 // the next switch needs a new streak
		// Emitted under the lock so that a phone's events keep their
		// order; OnEvent must not block.
		p.emit(ev)
	}
	return mode == trustEmpty
}

// evict forgets phones quiet for ten loop windows. Called with p.mu held.
func (p *Provisioner) evict(now time.Time, window time.Duration) {
	for mac, st := range p.phones {
		if now.Sub(st.at) > 10*window {
			delete(p.phones, mac)
		}
	}
}
