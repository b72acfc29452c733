// Package phonetftp serves provision's files over TFTP. It is the thin
// layer between the two: a TFTP request becomes a provision.Request, a
// refusal a TFTP error, and every finished read teaches provision what the
// phone now runs and goes into the phone's timeline as an event.
package phonetftp

import (
	"context"

	"phoneboot/internal/event"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/provision"
	"phoneboot/internal/tftp"
)

// Service adapts a Provisioner to a tftp.Server: set the server's
// Resolver to the Service and its OnEvent to Service.Transferred.
type Service struct {
	Prov *provision.Provisioner
	// Record receives each read request as an event of the phone it is
	// attributed to; nil records none. It must not block.
	Record func(event.Event)
}

// Open implements tftp.Resolver.
func (s *Service) Open(ctx context.Context, req *tftp.Request) (tftp.File, error) {
	return s.Prov.Open(ctx, provision.Request{Name: req.Path, Client: req.Remote, Local: req.Local, Transport: event.TFTP})
}

// Transferred is the tftp.Server's OnEvent: provision learns from every
// finished read, and the phone's timeline gets it.
func (s *Service) Transferred(ev tftp.Event) {
	if ev.Op != tftp.OpRRQ {
		return
	}
	name, err := tftp.CleanName(ev.File)
	if err != nil {
		name = ev.File // refused before it reached provision
	}
	req := provision.Request{Name: name, Client: ev.Remote, Local: ev.Local, Transport: event.TFTP}
	att := s.Prov.Transferred(req, ev.Outcome == tftp.OutcomeOK)
	if s.Record == nil || att.Verdict != phonestate.Own {
		return // a foreign request is in the phone's timeline as provision's event.Foreign
	}
	s.Record(event.Event{Time: ev.Start, MAC: att.MAC, IP: ev.Remote.Addr(), Source: event.TFTP, Kind: event.Request,
		File: ev.File, Outcome: Outcome(ev.Outcome), Bytes: ev.Bytes, Duration: ev.Duration, Detail: ev.Error,
		Facts: event.Facts{Retransmits: ev.Retransmits}})
}

// Outcome is a TFTP outcome in the event vocabulary.
func Outcome(o tftp.Outcome) event.Outcome {
	switch o {
	case tftp.OutcomeOK:
		return event.OK
	case tftp.OutcomeNotFound:
		return event.NotFound
	case tftp.OutcomeDenied:
		return event.Denied
	case tftp.OutcomeRefused:
		return event.Refused
	case tftp.OutcomeBadReq:
		return event.BadRequest
	case tftp.OutcomeTimeout:
		return event.Timeout
	case tftp.OutcomeAborted:
		return event.Aborted
	case tftp.OutcomeProbe:
		return event.Probe
	case tftp.OutcomeShutdown:
		return event.Shutdown
	}
	return event.Failed
}
