package track

import (
	"fmt"
	"time"

	"phoneboot/internal/event"
)

// DHCP events (Source event.DHCP) have Kind = the message type; IP the
// address offered or acknowledged.

// DiscoverLoopCount is how many DISCOVERs without a REQUEST make a loop.
const DiscoverLoopCount = 4

// NoTFTPAfter is how long after its ACK a phone that asked phoneboot for
// nothing is reported.
const NoTFTPAfter = 2 * time.Minute

func dhcpEvents(evs []event.Event) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if ev.Source == event.DHCP {
			out = append(out, ev)
		}
	}
	return out
}

// DHCPDiscoverLoop: the client sends DISCOVER again and again and never
// REQUESTs what it was offered: it rejects the offer (the seed page's
// tftpd32 log of a phone looping on DHCP).
func DHCPDiscoverLoop(tl Timeline) []Finding {
	evs := dhcpEvents(recent(tl.Events))
	n, lastOffer := 0, ""
	var at time.Time
	for _, ev := range evs {
		switch ev.Kind {
		case event.DHCPDiscover:
			n++
			at = ev.Time
		case event.DHCPOffer:
			lastOffer = ev.Detail
		case event.DHCPRequest, event.DHCPAck, event.DHCPInform:
			n = 0
		}
	}
	if n < DiscoverLoopCount {
		return nil
	}
	cause := "it rejects every offer. Cisco phones need a TFTP server in the offer (option 150, or 66), and a phone on the wrong VLAN or with a static address request ignores offers for another subnet"
	if lastOffer == "" {
		cause = "no offer reached it: phoneboot made none (pool full?) or it was lost on the way (VLAN, relay)"
	} else {
		cause += "; the last offer was: " + lastOffer
	}
	return []Finding{{Rule: "dhcp-discover-loop", Severity: SevError, At: at,
		Symptom: fmt.Sprintf("the phone sent DISCOVER %d times and never took an offer (\"Configuring IP\" on its screen)", n),
		Cause:   cause,
		Do:      "compare what the phone asks for (option 55 in the events) with what was offered; check the phone's VLAN (CDP voice VLAN) and that no other DHCP server answers first",
		Source:  "seed page (tftpd32 DHCP log); docs/cisco-79xx.md §5, §1.6 (\"Configuring IP\" hang)"}}
}

// DHCPNoTFTP: the phone got an address from phoneboot but never asked it
// for a file: option 150/66 points elsewhere, or the phone keeps a
// manually set TFTP server.
func DHCPNoTFTP(tl Timeline) []Finding { return at(dhcpNoTFTP)(tl) }

func dhcpNoTFTP(tl Timeline) func(time.Time) []Finding {
	var ack *event.Event
	for i := range tl.Events {
		ev := &tl.Events[i]
		switch {
		case ev.Is(event.DHCP, event.DHCPAck):
			ack = ev
		case ev.IsRequest() && ack != nil && ev.Time.After(ack.Time):
			ack = nil
		}
	}
	if ack == nil {
		return nil
	}
	acked, ip := ack.Time, ack.IP
	return func(now time.Time) []Finding {
		if now.Sub(acked) < NoTFTPAfter {
			return nil
		}
		return []Finding{{Rule: "dhcp-no-tftp", Severity: SevWarning, At: acked,
			Symptom: fmt.Sprintf("the phone got %s from phoneboot's DHCP %s ago but never asked phoneboot's TFTP server for a file", ip, now.Sub(acked).Round(time.Second)),
			Cause:   "it uses another TFTP server: a manually set \"Alternate TFTP\" kept in its settings, or option 150/66 pointing elsewhere",
			Do:      "on the phone: **# to unlock, Settings > Network Configuration > Alternate TFTP = No; or factory-reset it. Check the offer's option 150 in the event detail",
			Source:  "seed page (\"the phone will retain settings for TFTP server\"); docs/cisco-79xx.md §5"}}
	}
}

// DHCPDecline: the phone found its offered address already in use.
func DHCPDecline(tl Timeline) []Finding {
	var last *event.Event
	evs := recent(tl.Events)
	for i, ev := range evs {
		if ev.Is(event.DHCP, event.DHCPDecline) {
			last = &evs[i]
		}
	}
	if last == nil {
		return nil
	}
	return []Finding{{Rule: "dhcp-decline", Severity: SevWarning, At: last.Time,
		Symptom: fmt.Sprintf("the phone declined %s: another device answers on that address (\"Duplicate IP\" on its screen)", last.IP),
		Cause:   "an address of the pool is used by a host with a static address",
		Did:     "phoneboot does not hand that address out for a while and offers another",
		Do:      "find the other device (arping the address) and exclude its address from the pool",
		Source:  "RFC 2131 §4.3.3; docs/cisco-79xx.md §8 (Duplicate IP)"}}
}
