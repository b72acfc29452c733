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

// foreignKey is a phone and an address that asked for its files.
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

// foreign answers a foreign request and notes it in the named phone's
// timeline.
func (p *Provisioner) foreign(ctx context.Context, s *snapshot, n phone.Name, req Request, att phonestate.Attribution) (files.File, error) {
	ip := req.Client.Addr()
	own := n.Kind == phone.KindDeviceConfig || n.Kind == phone.KindSIPConfig
	served := own && s.cfg.Security.PhoneFiles == config.PhoneFilesAnyone
	if ok, _ := p.foreigners.Allow(foreignKey{att.MAC, ip}, p.opts.Now()); ok {
		why := fmt.Sprintf("its address is %s (%s)", att.Bound, att.By)
		if att.Other != (phone.MAC{}) {
			why = fmt.Sprintf("%s is phone %s's address (%s), and an address speaks for one phone", ip, att.Other, att.By)
		}
		answer, outcome := `the asker got "not found"`, event.NotFound
		if served {
			answer, outcome = `the asker got the file (security.phone_files = "anyone")`, event.OK
		}
		p.emit(event.Event{MAC: att.MAC, IP: ip, Kind: event.Foreign, File: req.Name, Outcome: outcome,
			Facts:  event.Facts{Bound: att.Bound, Binding: att.By.String(), Other: att.Other},
			Detail: fmt.Sprintf("%s from %s over %s, which is not this phone: %s. Nothing of the phone changed; %s", req.Name, ip, req.Transport, why, answer)})
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
