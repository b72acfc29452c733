package dhcp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"phoneboot/internal/phone"
)

// What a host on the wire can do to the pool, and what bounds it:
//
//   - Every client that holds nothing here (no offer, no lease) takes a
//     token of the new-lease bucket before it is offered or leased an
//     address; without one it gets no answer (a REQUEST in INIT-REBOOT a
//     NAK, which sends it back to DISCOVER, the normal path). Renewals and
//     everything else a client with an offer or a lease sends never wait,
//     and reserved clients are the admin's: never limited.
//   - A lease taken by a bare REQUEST (no DISCOVER, no offer) is short,
//     so a flood of them gives its addresses back within minutes unless
//     every one is renewed; the first renewal gets the full lease.
//
// Both are said in a log line a minute at most, never in an event per
// client: a flood from rotating MACs must not become a flood of timeline
// rows, and the pool being full is said the same way.

// isNew reports whether mac holds nothing here now: giving it an address
// takes a token.
func (s *Server) isNew(mac phone.MAC, now time.Time) bool {
	if _, ok := s.st.reserved[mac]; ok || s.st.listed[mac] {
		return false
	}
	e := s.t.byMAC[mac]
	return e == nil || !e.held(now)
}

// admit takes a token of the new-lease bucket. Without one the client is
// refused, which a line says at most once a minute.
func (s *Server) admit(now time.Time, h *handled) bool {
	if s.newLeases.AllowN(now, 1) {
		return true
	}
	s.stats.throttled.Add(1)
	if n, since, say := s.throttled.add(now); say {
		h.note(slog.LevelWarn, fmt.Sprintf("dhcp: more new clients than the limit of %d a minute (bursts of %d): %s refused since %s; clients with a lease or an offer are not affected",
			s.st.newPerMin, s.st.newBurst, plural(n, "client"), since.Format(time.TimeOnly)))
	}
	return false
}

// poolFull says, at most once a minute, that clients found no address.
func (s *Server) poolFull(now time.Time, why string, h *handled) {
	s.stats.exhausted.Add(1)
	if n, since, say := s.full.add(now); say {
		h.note(slog.LevelWarn, fmt.Sprintf("dhcp: pool full: %s; %s not answered since %s", why, plural(n, "DISCOVER"), since.Format(time.TimeOnly)))
	}
}

// leaseFor is how long ip is leased to m: the full time when m was
// offered it or holds it (a renewal), or has it reserved; the short
// unconfirmed lease when m asks for it out of the blue.
func (s *Server) leaseFor(m *msg, ip netip.Addr, o *options, now time.Time) (time.Duration, bool) {
	e := s.t.byMAC[m.mac]
	if (e != nil && e.ip == ip && e.held(now)) || s.st.reserved[m.mac] == ip {
		return o.leaseTime, true
	}
	return min(s.st.unconfirmed, o.leaseTime), false
}

// summary turns a flood of one kind of trouble into a line a minute: the
// first occurrence is said at once, the later ones counted and said with
// the next line.
type summary struct {
	next  time.Time // no line before
	count int       // occurrences not said yet
	since time.Time // the first of them
}

func (s *summary) add(now time.Time) (n int, since time.Time, say bool) {
	if s.count == 0 {
		s.since = now
	}
	s.count++
	if now.Before(s.next) {
		return 0, time.Time{}, false
	}
	n, since = s.count, s.since
	s.count, s.next = 0, now.Add(time.Minute)
	return n, since, true
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
