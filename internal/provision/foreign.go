package provision

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/files"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/ratelimit"
)

// A foreign request names a phone but comes from an address that is not
// the phone's (phonestate: identity.go). It changes nothing of the phone:
// no loop counter, no load learned, no binding. The phone's own files,
// which carry its SIP passwords, go only to its own address unless
// [security] phone_files says "anyone"; every other name gets the answer
// a phone without state gets.

// foreignKey is the phone a foreign request's event goes to, and the
// address that sent it.
type foreignKey struct {
	mac  phone.MAC
	from netip.Addr
}

// newForeigners limits the events foreign requests make: a few at once,
// then one a minute for each phone and sender, so that a flood of them
// neither fills the phone's timeline nor grows a table without bound.
func newForeigners() *ratelimit.Keyed[foreignKey] {
	return ratelimit.New[foreignKey](1.0/60, 3, 4096)
}

// foreign answers a foreign request and notes it: in the named phone's
// timeline when that phone's address is another, else (the sender's
// address is another phone's) in the sender's, so that names made up by
// the thousand make no phones.
func (p *Provisioner) foreign(ctx context.Context, s *snapshot, n phone.Name, req Request, att phonestate.Attribution) (files.File, error) {
	ip := req.Client.Addr()
	own := n.Kind == phone.KindDeviceConfig || n.Kind == phone.KindSIPConfig
	served := own && s.cfg.Security.PhoneFiles == config.PhoneFilesAnyone
	answer, outcome := `the asker got "not found"`, event.NotFound
	if served {
		answer, outcome = `the asker got the file (security.phone_files = "anyone")`, event.OK
	}
	ev := event.Event{MAC: att.MAC, IP: ip, Kind: event.Foreign, File: req.Name, Outcome: outcome,
		Facts: event.Facts{Bound: att.Bound, Binding: att.By.String()},
		Detail: fmt.Sprintf("%s from %s over %s, which is not this phone: its address is %s (%s). Nothing of the phone changed; %s",
			req.Name, ip, req.Transport, att.Bound, att.By, answer)}
	if att.Other != (phone.MAC{}) {
		ev.MAC, ev.Facts.Other = att.Other, att.MAC
		ev.Detail = fmt.Sprintf("this phone's address asked over %s for %s, another phone's file; an address speaks for one phone (%s): nothing of either phone changed; %s",
			req.Transport, req.Name, att.By, answer)
	}
	if ok, _ := p.foreigners.Allow(foreignKey{ev.MAC, ip}, p.opts.Now()); ok {
		p.emit(ev)
	}
	if !own {
		return nil, files.NotFoundf("file not found")
	}
	if !served {
		return nil, files.NotFoundf("file not found (this phone's files go only to its own address: docs/security.md)")
	}
	if f, ok := p.override(ctx, req.Name, n); ok {
		return f, nil
	}
	if n.Signed {
		return nil, files.NotFoundf("file not found (phoneboot does not sign configs)")
	}
	// The file as the phone itself would get it now; the phone's queue of
	// requests has no entry from this address, so serving it teaches
	// provision nothing.
	return p.phoneFile(s, att.MAC, strings.ToLower(req.Name), req)
}
