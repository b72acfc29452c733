package provision

import (
	"fmt"
	"net/netip"
	"strings"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
)

// The loop breaker answers a phone's CTLSEP/ITLSEP file by the remedy it
// is on (phonestate.Phone.Trust). The seed page's loops, automated:
//
//   - no remedy: "not found", the normal answer; phones without security
//     go on.
//   - event.RemedyEmpty: a phone that asked again and again without moving
//     on gets an empty file ("Creating this file moved things along").
//   - event.RemedyNotFound: a phone that then keeps fetching the empty file
//     gets "not found" again ("removing this file AFTER the phone has been
//     asking for it for a little while … got things moving along").
//
// A loop that goes on switches again, between the two, for as long as the
// phone keeps asking: a phone can loop again on a later boot, and what
// moved it once may have to be done again. A phone keeps the remedy that
// got it moving: it starts its next boot with it.

// decision is what observe concluded for one request.
type decision struct {
	emptyTrust bool // serve an empty trust list
	configLoop int  // >0: the phone asked for its config this many times in a row
}

// observe counts one request of a known phone and runs the loop breakers.
func (p *Provisioner) observe(s *snapshot, n phone.Name, req Request, mac phone.MAC) decision {
	name, ip := req.Name, req.Client.Addr()
	lower := strings.ToLower(name)
	now := p.opts.Now()
	prov := s.cfg.Provision
	if n.Kind == phone.KindTermDefault {
		// A Java phone after a factory reset names its model (§1.3).
		if m, ok := phone.ModelByTerm(n.Model); ok {
			p.book.Learn(mac, m)
		}
	}
	var ev *event.Event
	d := phonestate.Update(p.book, mac, func(st *phonestate.Phone) decision {
		if st.Last == lower && now.Sub(st.LastAt) <= prov.LoopWindow {
			st.Streak++
		} else {
			st.Streak = 1
		}
		newRequest := st.Last != lower
		st.Last, st.LastAt = lower, now
		asked(st, req)
		boot(st, n, newRequest)
		var d decision
		switch n.Kind {
		case phone.KindCTL, phone.KindITL:
			d.emptyTrust, ev = breakTrustLoop(st, mac, ip, name, prov.CTLLoopRequests)
			if ev != nil {
				ev.Time = now // in order with the phone's other events, though emitted after the lock
			}
		case phone.KindDeviceConfig:
			if st.Streak == prov.ConfigLoopRequests {
				d.configLoop = st.Streak
			}
		}
		return d
	})
	if ev != nil {
		p.emit(*ev)
	}
	return d
}

// breakTrustLoop switches the phone's remedy when it has asked for the
// same list threshold times in a row, and says whether to serve it empty
// and what to report. Called under the book's lock.
func breakTrustLoop(st *phonestate.Phone, mac phone.MAC, ip netip.Addr, name string, threshold int) (bool, *event.Event) {
	lower := strings.ToLower(name)
	if st.Trust == nil {
		st.Trust = map[string]event.Remedy{}
	}
	remedy := st.Trust[lower]
	if st.Streak < threshold {
		return remedy == event.RemedyEmpty, nil
	}
	ev := &event.Event{MAC: mac, IP: ip, File: name, Kind: event.LoopBreaker, Facts: event.Facts{Count: st.Streak}}
	if remedy == event.RemedyEmpty {
		remedy = event.RemedyNotFound
		ev.Detail = fmt.Sprintf("kept fetching the empty %s (%d times): answering \"not found\" again (seed page, Feb 2005: removing the file after a while got the phone going)", name, st.Streak)
	} else {
		remedy = event.RemedyEmpty
		ev.Detail = fmt.Sprintf("asked for %s %d times in a row without moving on: serving it an empty file (seed page: an empty CTL file moved such a phone along)", name, st.Streak)
	}
	ev.Facts.Remedy = remedy
	st.Trust[lower] = remedy
	st.Streak = 0 // the next switch needs a new streak
	return remedy == event.RemedyEmpty, ev
}

// boot notes what a request shows of the load the phone runs (§1.2, §1.3):
// which file began its boot, whether it probes ITL files (Java phones do,
// 7940/7960 do not), which protocol's files it asks for. Called under the
// book's lock.
func boot(st *phonestate.Phone, n phone.Name, newRequest bool) {
	switch n.Kind {
	case phone.KindCTL:
		if newRequest { // a loop on it is the same boot
			st.Boot, st.ITL = phone.BootUAL, false
		}
	case phone.KindITL:
		st.ITL = true
	case phone.KindOSImage:
		st.Boot, st.ITL = phone.BootOS79XX, false
		if n.OldSIP {
			st.Boot, st.Protocol = phone.Boot79XX, "SIP"
		}
	case phone.KindTermDefault:
		st.Boot = phone.BootJava
	case phone.KindSIPDefault, phone.KindSIPConfig:
		st.Protocol = "SIP"
	case phone.KindLegacyConfig:
		st.Protocol = "SCCP"
	case phone.KindDeviceConfig, phone.KindDefaultConfig:
		if st.Boot == phone.BootOS79XX {
			st.Protocol = "SCCP" // old SIP images read SIPDefault.cnf (§1.2.3)
		}
	}
}
