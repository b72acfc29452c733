package dhcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// Option codes the server answers.
const (
	optSubnetMask = 1
	optRouter     = 3
	optDNS        = 6
	optDomain     = 15
	optNTP        = 42
	optT1         = 58
	optT2         = 59
	optTFTPName   = 66
	optTFTPList   = 150
)

// allCodes are the options a client can ask for and get.
var allCodes = []uint8{optSubnetMask, optRouter, optDNS, optDomain, optNTP, optT1, optT2, optTFTPName, optTFTPList}

// defaultCodes answer a client that sends no parameter request list.
var defaultCodes = []uint8{optSubnetMask, optRouter, optDNS, optDomain}

// msg is a client message that parsed and passed the checks.
type msg struct {
	p         *dhcpv4.DHCPv4
	typ       dhcpv4.MessageType
	mac       phone.MAC
	ciaddr    netip.Addr // invalid when 0.0.0.0
	giaddr    netip.Addr // invalid when 0.0.0.0
	requested netip.Addr // option 50
	serverID  netip.Addr // option 54
	params    []uint8    // option 55
	hasParams bool
	vclass    string // option 60, NULs trimmed, printable
	model     string // from vclass; "" unknown
	hostname  string // option 12, printable
}

// minPacket is the fixed BOOTP header, the magic cookie and an End option.
const minPacket = 236 + 4 + 1

// parse decodes and checks a client message. Every option the server
// reads is checked for its length here; an error means "drop it".
func parse(b []byte) (*msg, error) {
	switch {
	case len(b) < minPacket:
		return nil, fmt.Errorf("truncated: %d bytes", len(b))
	case b[0] != byte(dhcpv4.OpcodeBootRequest):
		return nil, fmt.Errorf("op %d is not BOOTREQUEST", b[0])
	case b[1] != byte(iana.HWTypeEthernet):
		return nil, fmt.Errorf("hardware type %d is not Ethernet", b[1])
	case b[2] != 6:
		return nil, fmt.Errorf("hardware address length %d, want 6", b[2])
	}
	p, err := dhcpv4.FromBytes(b)
	if err != nil {
		return nil, err
	}
	m := &msg{p: p}
	copy(m.mac[:], p.ClientHWAddr)
	if m.mac == (phone.MAC{}) || m.mac[0]&1 != 0 {
		return nil, fmt.Errorf("client hardware address %v is not a unicast MAC", m.mac)
	}
	t := p.Options.Get(dhcpv4.OptionDHCPMessageType)
	if len(t) != 1 || t[0] < 1 || t[0] > 8 {
		return nil, fmt.Errorf("message type option %x: want one byte 1-8 (BOOTP is not served)", t)
	}
	m.typ = dhcpv4.MessageType(t[0])
	if m.ciaddr, err = addrField(p.ClientIPAddr); err != nil {
		return nil, fmt.Errorf("ciaddr: %w", err)
	}
	if m.giaddr, err = addrField(p.GatewayIPAddr); err != nil {
		return nil, fmt.Errorf("giaddr: %w", err)
	}
	if m.requested, err = addrOption(p.Options, dhcpv4.OptionRequestedIPAddress); err != nil {
		return nil, err
	}
	if m.serverID, err = addrOption(p.Options, dhcpv4.OptionServerIdentifier); err != nil {
		return nil, err
	}
	if v, ok := p.Options[dhcpv4.OptionParameterRequestList.Code()]; ok {
		if len(v) == 0 {
			return nil, errors.New("empty parameter request list")
		}
		m.params, m.hasParams = v, true
	}
	if v, ok := p.Options[dhcpv4.OptionClassIdentifier.Code()]; ok {
		if len(v) == 0 {
			return nil, errors.New("empty vendor class")
		}
		m.vclass = printable(strings.TrimRight(string(v), "\x00"))
		if mod, ok := phone.ModelByVendorClass(string(v)); ok {
			m.model = mod.Name
		}
	}
	if v, ok := p.Options[dhcpv4.OptionHostName.Code()]; ok {
		if len(v) == 0 {
			return nil, errors.New("empty host name")
		}
		m.hostname = printable(strings.TrimRight(string(v), "\x00"))
	}
	return m, nil
}

func addrField(ip net.IP) (netip.Addr, error) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%d bytes", len(ip))
	}
	a = a.Unmap()
	if a.IsUnspecified() {
		return netip.Addr{}, nil
	}
	return a, nil
}

func addrOption(o dhcpv4.Options, code dhcpv4.OptionCode) (netip.Addr, error) {
	v, ok := o[code.Code()]
	if !ok {
		return netip.Addr{}, nil
	}
	if len(v) != 4 {
		return netip.Addr{}, fmt.Errorf("option %d: %d bytes, want an IPv4 address", code.Code(), len(v))
	}
	return netip.AddrFrom4([4]byte(v)), nil
}

// printable makes client text safe for logs and events: at most 64
// characters, invalid UTF-8 and control characters escaped.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// reply is a message to send and where.
type reply struct {
	b  []byte
	to netip.AddrPort
	// arp: to is the address just given to a client that has none yet,
	// reachable only once the kernel knows mac for it.
	arp bool
	mac phone.MAC
}

var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// handled is what one message did: its events, log lines that are not
// about one client, and an optional reply.
type handled struct {
	events []logged
	notes  []note
	reply  *reply
}

type note struct {
	lvl  slog.Level
	text string
}

type logged struct {
	ev  Event
	lvl slog.Level
}

func (h *handled) add(lvl slog.Level, ev Event) { h.events = append(h.events, logged{ev, lvl}) }

func (h *handled) note(lvl slog.Level, text string) { h.notes = append(h.notes, note{lvl, text}) }

// handle answers one datagram; it is safe for concurrent use. from is the
// sender, used only for INFORM from a client that left ciaddr empty.
func (s *Server) handle(ctx context.Context, b []byte, from netip.AddrPort) *reply {
	s.stats.received.Add(1)
	m, err := parse(b)
	if err != nil {
		s.stats.malformed.Add(1)
		s.log.Debug("dhcp: malformed packet dropped", "from", from, "len", len(b), "err", err)
		return nil
	}
	now := s.now()
	var h handled
	s.mu.Lock()
	if !s.allow(m, now) {
		s.mu.Unlock()
		s.stats.rateLimited.Add(1)
		return nil
	}
	if now.Sub(s.swept) > time.Minute {
		s.t.sweep(now)
		s.swept = now
	}
	s.dispatch(ctx, m, from, now, &h)
	s.mu.Unlock()
	for _, n := range h.notes {
		s.log.Log(ctx, n.lvl, n.text)
	}
	for _, l := range h.events {
		s.emit(l.ev, l.lvl)
	}
	return h.reply
}

func (s *Server) event(m *msg, typ event.Kind, now time.Time) Event {
	return Event{Time: now, MAC: m.mac, IP: m.ciaddr, Type: typ, VendorClass: m.vclass, Model: m.model,
		Hostname: m.hostname, Requested: m.requested}
}

// dispatch runs with s.mu held.
func (s *Server) dispatch(ctx context.Context, m *msg, from netip.AddrPort, now time.Time, h *handled) {
	st := s.st
	if m.giaddr.IsValid() && !st.subnet.Contains(m.giaddr) {
		// A relay on a network this server has no pool for.
		s.stats.ignored.Add(1)
		ev := s.event(m, typeName(m.typ), now)
		ev.Detail = fmt.Sprintf("ignored: relayed by %v, which is not in %v (no pool for its network)", m.giaddr, st.subnet)
		h.add(slog.LevelDebug, ev)
		return
	}
	switch m.typ {
	case dhcpv4.MessageTypeDiscover:
		s.stats.discovers.Add(1)
		s.discover(m, now, h)
	case dhcpv4.MessageTypeRequest:
		s.stats.requests.Add(1)
		s.request(ctx, m, now, h)
	case dhcpv4.MessageTypeInform:
		s.stats.informs.Add(1)
		s.inform(m, from, now, h)
	case dhcpv4.MessageTypeRelease:
		s.stats.releases.Add(1)
		s.release(ctx, m, now, h)
	case dhcpv4.MessageTypeDecline:
		s.stats.declines.Add(1)
		s.decline(ctx, m, now, h)
	default:
		s.stats.ignored.Add(1) // a server's message sent as a BOOTREQUEST
	}
}

func typeName(t dhcpv4.MessageType) event.Kind {
	switch t {
	case dhcpv4.MessageTypeDiscover:
		return event.DHCPDiscover
	case dhcpv4.MessageTypeRequest:
		return event.DHCPRequest
	case dhcpv4.MessageTypeInform:
		return event.DHCPInform
	case dhcpv4.MessageTypeRelease:
		return event.DHCPRelease
	case dhcpv4.MessageTypeDecline:
		return event.DHCPDecline
	case dhcpv4.MessageTypeOffer:
		return event.DHCPOffer
	case dhcpv4.MessageTypeAck:
		return event.DHCPAck
	case dhcpv4.MessageTypeNak:
		return event.DHCPNak
	}
	return "unknown"
}

func (s *Server) opts(m *msg) *options {
	for i := range s.st.overrides {
		o := &s.st.overrides[i]
		if (o.model != "" && o.model == m.model) || (o.vendorClass != "" && o.vendorClass == m.vclass) {
			return &o.opts
		}
	}
	return &s.st.base
}

// codes are the options m gets: those it asked for that the server has
// (or a default set when it asked for none), plus 150 for a Cisco phone.
func codes(m *msg) []uint8 {
	var out []uint8
	if m.hasParams {
		for _, c := range m.params {
			if slices.Contains(allCodes, c) && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	} else {
		out = slices.Clone(defaultCodes)
	}
	if m.model != "" && !slices.Contains(out, optTFTPList) {
		out = append(out, optTFTPList)
	}
	return out
}

// usable says why ip cannot be leased to mac, or "" if it can (when free).
func (s *Server) usable(ip netip.Addr, mac phone.MAC) string {
	st := s.st
	switch {
	case !ip.Is4() || !st.subnet.Contains(ip):
		return fmt.Sprintf("%v is not in %v", ip, st.subnet)
	case st.excluded[ip]:
		return fmt.Sprintf("%v is the network, broadcast, router or server address", ip)
	}
	if owner, ok := st.reservedBy[ip]; ok {
		if owner != mac {
			return fmt.Sprintf("%v is reserved for %v", ip, owner)
		}
		return ""
	}
	if ip.Less(st.lo) || st.hi.Less(ip) {
		return fmt.Sprintf("%v is outside the pool %v-%v", ip, st.lo, st.hi)
	}
	return ""
}

func (s *Server) heldBy(e *entry, now time.Time) string {
	switch {
	case e.declined:
		return fmt.Sprintf("%v was declined (in use on the wire) and is held until %s", e.ip, e.expires.Format(time.TimeOnly))
	case e.other != "":
		return fmt.Sprintf("%v is leased by node %s", e.ip, e.other)
	case e.bound(now):
		return fmt.Sprintf("%v is leased to %v", e.ip, e.mac)
	}
	return fmt.Sprintf("%v is offered to %v", e.ip, e.mac)
}

// choose picks the address to offer m: its reservation, its current or
// previous address, the one it asks for, then a free one from the pool
// (never used first, then the longest expired).
func (s *Server) choose(m *msg, now time.Time) (netip.Addr, string) {
	var note string
	if r, ok := s.st.reserved[m.mac]; ok {
		c := s.t.conflict(r, m.mac, now)
		if c == nil {
			return r, "its reserved address"
		}
		note = "; its reserved address " + s.heldBy(c, now)
	}
	// A client whose reservation is taken (declined) gets a pool address.
	free := func(ip netip.Addr) bool {
		return s.usable(ip, m.mac) == "" && s.t.conflict(ip, m.mac, now) == nil
	}
	if e := s.t.byMAC[m.mac]; e != nil && free(e.ip) {
		return e.ip, "its previous address" + note
	}
	if m.requested.IsValid() && free(m.requested) {
		return m.requested, "the address it asked for" + note
	}
	st := s.st
	n := poolSize(st.lo, st.hi)
	var best netip.Addr
	var bestExp time.Time
	for i := range n {
		k := (s.next + i) % n
		ip := fromU32(u32(st.lo) + uint32(k))
		if st.excluded[ip] {
			continue
		}
		if _, ok := st.reservedBy[ip]; ok {
			continue
		}
		e := s.t.byIP[ip]
		if e == nil {
			s.next = (k + 1) % n
			return ip, "a free address" + note
		}
		if !e.held(now) && (!best.IsValid() || e.expires.Before(bestExp)) {
			best, bestExp = ip, e.expires
		}
	}
	if best.IsValid() {
		return best, "a free address (expired lease)" + note
	}
	var leased, offered, declined int
	for _, e := range s.t.byIP {
		switch {
		case !e.held(now):
		case e.declined:
			declined++
		case e.other != "":
			leased++ // by another node
		case e.bound(now):
			leased++
		default:
			offered++
		}
	}
	return netip.Addr{}, fmt.Sprintf("no free address in %v-%v (%d leased, %d offered, %d declined): not offered%s",
		st.lo, st.hi, leased, offered, declined, note)
}

// offerHold is how long an offer keeps its address from other clients.
const offerHold = 30 * time.Second

func (s *Server) discover(m *msg, now time.Time, h *handled) {
	ev := s.event(m, event.DHCPDiscover, now)
	next := s.next
	ip, how := s.choose(m, now)
	if !ip.IsValid() {
		s.poolFull(now, how, h)
		ev.Detail = how
		h.add(slog.LevelDebug, ev) // the line of poolFull is the warning
		return
	}
	if s.isNew(m.mac, now) && !s.admit(now, h) {
		s.next = next // nothing offered: the scan did not move on
		return
	}
	ev.Detail = "offering " + how
	h.add(slog.LevelDebug, ev)
	n := &entry{ip: ip, mac: m.mac, offered: now.Add(offerHold), hostname: m.hostname, vclass: m.vclass}
	if e := s.t.byMAC[m.mac]; e != nil && e.ip == ip {
		n.expires = e.expires
	}
	if err := s.t.put(n, m.mac, now); err != nil {
		// choose checked; this would be a bug, and put refused it.
		s.log.Error("dhcp: offer refused by the lease table", "err", err)
		return
	}
	o := s.opts(m)
	r := s.st.newReply(m, dhcpv4.MessageTypeOffer)
	r.YourIPAddr = ip.AsSlice()
	sent := s.st.addOptions(r, o, codes(m), true)
	s.stats.offers.Add(1)
	out := s.event(m, event.DHCPOffer, now)
	out.IP = ip
	out.Detail = fmt.Sprintf("offered %v for %s, options %s", ip, fmtDur(o.leaseTime), codeList(sent))
	h.add(slog.LevelDebug, out)
	h.reply = s.st.route(m, r, ip)
}

func (s *Server) request(ctx context.Context, m *msg, now time.Time, h *handled) {
	ev := s.event(m, event.DHCPRequest, now)
	var ip netip.Addr
	var state string
	switch {
	case m.serverID.IsValid():
		state = "SELECTING"
		if m.serverID != s.st.self {
			// The client took another server's offer: free ours.
			if e := s.t.byMAC[m.mac]; e != nil && !e.offered.IsZero() {
				e.offered = time.Time{}
			}
			s.otherServer(m.serverID, fmt.Sprintf("client %v chose it", m.mac))
			s.stats.ignored.Add(1)
			ev.Detail = fmt.Sprintf("chose DHCP server %v, not this one", m.serverID)
			h.add(slog.LevelWarn, ev)
			return
		}
		ip = m.requested
		if !ip.IsValid() {
			ip = m.ciaddr
		}
	case m.ciaddr.IsValid():
		state, ip = "RENEWING", m.ciaddr
	case m.requested.IsValid():
		state, ip = "INIT-REBOOT", m.requested
	default:
		s.stats.ignored.Add(1)
		ev.Detail = "ignored: names no address (no ciaddr, no option 50)"
		h.add(slog.LevelInfo, ev)
		return
	}
	ev.Detail = fmt.Sprintf("%s %v", state, ip)
	h.add(slog.LevelDebug, ev)
	if !ip.IsValid() {
		s.nak(m, now, h, "NAK: SELECTING without an address")
		return
	}
	if why := s.usable(ip, m.mac); why != "" {
		s.nak(m, now, h, "NAK: "+why)
		return
	}
	if r, ok := s.st.reserved[m.mac]; ok && r != ip && s.t.conflict(r, m.mac, now) == nil {
		s.nak(m, now, h, fmt.Sprintf("NAK: %v has the reserved address %v", m.mac, r))
		return
	}
	if c := s.t.conflict(ip, m.mac, now); c != nil {
		s.nak(m, now, h, "NAK: "+s.heldBy(c, now))
		return
	}
	if s.isNew(m.mac, now) && !s.admit(now, h) {
		// Nothing of the message is recorded (see limit.go); a client
		// rebooting with an address it does not hold here is sent back
		// to DISCOVER, where it waits for a token like any new client.
		h.events = nil
		if state == "INIT-REBOOT" {
			h.reply = s.nakReply(m, "NAK: too many new clients, try again later")
		}
		return
	}
	o := s.opts(m)
	lease, confirmed := s.leaseFor(m, ip, o, now)
	n := &entry{ip: ip, mac: m.mac, expires: now.Add(lease), hostname: m.hostname, vclass: m.vclass}
	fromMemory := false
	if err := s.persist(ctx, n.lease()); s.elsewhere(err, now, h) {
		s.nak(m, now, h, "NAK: "+err.Error())
		return
	} else if err != nil {
		e := s.t.byMAC[m.mac]
		if e == nil || e.ip != ip || !e.bound(now.Add(time.Second)) {
			s.stats.storeErrors.Add(1)
			ev := s.event(m, event.DHCPRequest, now)
			ev.Detail = fmt.Sprintf("not acknowledged: the lease of %v could not be stored "+
				"(no new lease until the store answers): %v", ip, err)
			h.add(slog.LevelError, ev)
			return
		}
		// The store cannot be reached, but the client holds ip, stored,
		// until e.expires: acknowledge what it holds, not a second more,
		// so that no node is ever promised more than the store knows. It
		// got its ACK: not a store error of the metrics ("no ACK").
		fromMemory, lease = true, e.expires.Sub(now).Truncate(time.Second)
	} else if err := s.t.put(n, m.mac, now); err != nil {
		s.log.Error("dhcp: lease refused by the lease table", "err", err)
		return
	}
	r := s.st.newReply(m, dhcpv4.MessageTypeAck)
	r.YourIPAddr = ip.AsSlice()
	lo := *o
	lo.leaseTime = lease
	sent := s.st.addOptions(r, &lo, codes(m), true)
	s.stats.acks.Add(1)
	out := s.event(m, event.DHCPAck, now)
	out.IP = ip
	out.Detail = fmt.Sprintf("leased %v for %s, options %s", ip, fmtDur(lease), codeList(sent))
	if fromMemory {
		out.Detail += " (the rest of its stored lease: the store cannot be reached)"
	} else if !confirmed {
		out.Detail += fmt.Sprintf(" (asked for without DISCOVER: %s on its first renewal)", fmtDur(o.leaseTime))
	}
	h.add(slog.LevelInfo, out)
	h.reply = s.st.route(m, r, ip)
}

func (s *Server) nak(m *msg, now time.Time, h *handled, why string) {
	ev := s.event(m, event.DHCPNak, now)
	ev.IP = netip.Addr{}
	ev.Detail = why
	h.add(slog.LevelWarn, ev)
	h.reply = s.nakReply(m, why)
}

// nakReply is a NAK saying why: broadcast, or to the relay.
func (s *Server) nakReply(m *msg, why string) *reply {
	r := s.st.newReply(m, dhcpv4.MessageTypeNak)
	r.UpdateOption(dhcpv4.OptMessage(why))
	if m.giaddr.IsValid() {
		r.SetBroadcast() // the relay broadcasts it (RFC 2131 §4.3.2)
	}
	s.stats.naks.Add(1)
	to := netip.AddrPortFrom(broadcast, dhcpv4.ClientPort)
	if m.giaddr.IsValid() {
		to = netip.AddrPortFrom(m.giaddr, dhcpv4.ServerPort)
	}
	return &reply{b: r.ToBytes(), to: to}
}

// inform answers a client that has an address of its own with options
// only: nothing is offered, leased or recorded in the table. A client
// outside the subnet is no client of this server: an answer would only
// reflect traffic at whatever address it names.
func (s *Server) inform(m *msg, from netip.AddrPort, now time.Time, h *handled) {
	sender := from.Addr()
	if !sender.Is4() || sender.IsUnspecified() {
		sender = netip.Addr{}
	}
	client := m.ciaddr
	if !client.IsValid() {
		client = sender
	}
	outside := !client.IsValid() || !s.st.subnet.Contains(client)
	if !m.giaddr.IsValid() && sender.IsValid() && !s.st.subnet.Contains(sender) {
		outside = true // sent from elsewhere, naming an address here
	}
	if outside {
		s.stats.ignored.Add(1)
		h.note(slog.LevelDebug, fmt.Sprintf("dhcp: INFORM from %v (ciaddr %v, sent from %v) ignored: not a client of %v", m.mac, m.ciaddr, from, s.st.subnet))
		return
	}
	ev := s.event(m, event.DHCPInform, now)
	h.add(slog.LevelDebug, ev)
	r := s.st.newReply(m, dhcpv4.MessageTypeAck)
	sent := s.st.addOptions(r, s.opts(m), codes(m), false)
	s.stats.acks.Add(1)
	out := s.event(m, event.DHCPAck, now)
	out.Detail = fmt.Sprintf("answered INFORM, options %s", codeList(sent))
	h.add(slog.LevelInfo, out)
	to := netip.AddrPortFrom(client, dhcpv4.ClientPort)
	if m.giaddr.IsValid() {
		to = netip.AddrPortFrom(m.giaddr, dhcpv4.ServerPort)
	}
	h.reply = &reply{b: r.ToBytes(), to: to}
}

func (s *Server) release(ctx context.Context, m *msg, now time.Time, h *handled) {
	ev := s.event(m, event.DHCPRelease, now)
	e := s.t.byMAC[m.mac]
	switch {
	case m.serverID.IsValid() && m.serverID != s.st.self:
		ev.Detail = fmt.Sprintf("ignored: for DHCP server %v", m.serverID)
	case e == nil || e.ip != m.ciaddr || !e.bound(now):
		ev.Detail = fmt.Sprintf("ignored: %v holds no lease of %v", m.mac, m.ciaddr)
	default:
		// Kept, expired, so that the client gets the address back if it
		// is still free when it returns (RFC 2131 §4.3.4).
		n := *e
		n.expires, n.offered = now, time.Time{}
		if err := s.persist(ctx, n.lease()); s.elsewhere(err, now, h) {
			ev.Detail = fmt.Sprintf("release of %v not stored: %v", e.ip, err)
			h.add(slog.LevelWarn, ev)
			return
		} else if err != nil {
			s.stats.storeErrors.Add(1)
			ev.Detail = fmt.Sprintf("release of %v not stored: %v", e.ip, err)
			h.add(slog.LevelError, ev)
			return
		}
		*e = n
		ev.Detail = fmt.Sprintf("released %v", e.ip)
		h.add(slog.LevelInfo, ev)
		return
	}
	s.stats.ignored.Add(1)
	h.add(slog.LevelInfo, ev)
}

func (s *Server) decline(ctx context.Context, m *msg, now time.Time, h *handled) {
	ev := s.event(m, event.DHCPDecline, now)
	ip := m.requested
	e := s.t.byMAC[m.mac]
	switch {
	case m.serverID.IsValid() && m.serverID != s.st.self:
		ev.Detail = fmt.Sprintf("ignored: for DHCP server %v", m.serverID)
	case e == nil || !ip.IsValid() || e.ip != ip || !e.held(now):
		ev.Detail = fmt.Sprintf("ignored: %v was not given %v", m.mac, ip)
	default:
		n := &entry{ip: ip, declined: true, expires: now.Add(s.st.declineHold)}
		if err := s.persist(ctx, n.lease()); s.elsewhere(err, now, h) {
			ev.Detail = fmt.Sprintf("decline of %v not stored: %v", ip, err)
			h.add(slog.LevelWarn, ev)
			return
		} else if err != nil {
			s.stats.storeErrors.Add(1)
			ev.Detail = fmt.Sprintf("decline of %v not stored: %v", ip, err)
			h.add(slog.LevelError, ev)
			return
		}
		if err := s.t.put(n, m.mac, now); err != nil {
			s.log.Error("dhcp: decline refused by the lease table", "err", err)
			return
		}
		ev.Detail = fmt.Sprintf("%v is in use by another host: not leased until %s", ip, n.expires.Format(time.TimeOnly))
		h.add(slog.LevelWarn, ev)
		return
	}
	s.stats.ignored.Add(1)
	h.add(slog.LevelInfo, ev)
}

// storePause is how long persist fails at once after the store failed:
// it runs under the server's mutex, and a store that does not answer
// (a database behind a network cut) must not stall every client 5 s in
// turn.
const storePause = 2 * time.Second

// persist writes a lease through, bounded in time: the client waits.
// Callers hold the server's mutex, and count a failure in storeErrors
// when the client goes without its answer for it.
func (s *Server) persist(ctx context.Context, l Lease) error {
	if now := s.now(); now.Before(s.storeBack) {
		return fmt.Errorf("the lease store failed less than %s ago", fmtDur(storePause))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l.Node = s.st.node
	if err := s.leases.PutLease(ctx, l); err != nil {
		// A conflict is the store answering: no pause for it.
		var c *LeaseConflict
		if !errors.As(err, &c) {
			s.storeBack = s.now().Add(storePause)
		}
		return err
	}
	return nil
}

// elsewhere reports whether err is the store refusing an address another
// node holds. If so, the address is held here too until that lease
// ends, so that the next DISCOVER skips to another one, and a log line
// says so: two nodes' pools meeting at an address is the admin's to know.
func (s *Server) elsewhere(err error, now time.Time, h *handled) bool {
	var c *LeaseConflict
	if !errors.As(err, &c) {
		return false
	}
	until := c.Expires
	if until.Before(now.Add(offerHold)) {
		until = now.Add(offerHold) // the store's clock may be another's
	}
	s.t.elsewhere(c.IP, c.Node, until)
	h.note(slog.LevelWarn, fmt.Sprintf("dhcp: %v: not given out here before then (did a pool move from that node to this one?)", c))
	return true
}

// newReply starts a reply to m: BOOTREPLY with its transaction, flags,
// relay, client address and option 82; options 53 and 54.
func (st *settings) newReply(m *msg, t dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	p := m.p
	r := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        iana.HWTypeEthernet,
		ClientHWAddr:  p.ClientHWAddr,
		TransactionID: p.TransactionID,
		Flags:         p.Flags,
		GatewayIPAddr: p.GatewayIPAddr,
		Options:       dhcpv4.Options{},
	}
	if t != dhcpv4.MessageTypeNak {
		r.ClientIPAddr = p.ClientIPAddr
	}
	r.UpdateOption(dhcpv4.OptMessageType(t))
	r.UpdateOption(dhcpv4.OptServerIdentifier(st.self.AsSlice()))
	if v, ok := p.Options[dhcpv4.OptionRelayAgentInformation.Code()]; ok && p.Options != nil {
		r.Options[dhcpv4.OptionRelayAgentInformation.Code()] = v // RFC 3046 §2.2
	}
	return r
}

// addOptions puts the options in codes into r (those the set has), lease
// times when lease, and siaddr; it returns the codes it put.
func (st *settings) addOptions(r *dhcpv4.DHCPv4, o *options, codes []uint8, lease bool) []uint8 {
	var sent []uint8
	put := func(code uint8, v []byte) {
		r.Options[code] = v
		sent = append(sent, code)
	}
	ips := func(list []netip.Addr) []byte {
		b := make([]byte, 0, 4*len(list))
		for _, a := range list {
			a4 := a.As4()
			b = append(b, a4[:]...)
		}
		return b
	}
	secs := func(d time.Duration) []byte { return binary.BigEndian.AppendUint32(nil, uint32(d/time.Second)) }
	if lease {
		r.Options[dhcpv4.OptionIPAddressLeaseTime.Code()] = secs(o.leaseTime)
	}
	r.ServerIPAddr = o.tftp[0].AsSlice() // phones' third choice of TFTP server
	for _, c := range codes {
		switch c {
		case optSubnetMask:
			put(c, maskOf(st.subnet))
		case optRouter:
			if o.router.IsValid() {
				put(c, o.router.AsSlice())
			}
		case optDNS:
			if len(o.dns) > 0 {
				put(c, ips(o.dns))
			}
		case optDomain:
			if o.domain != "" {
				put(c, []byte(o.domain))
			}
		case optNTP:
			if len(o.ntp) > 0 {
				put(c, ips(o.ntp))
			}
		case optT1:
			if lease {
				put(c, secs(o.leaseTime/2))
			}
		case optT2:
			if lease {
				put(c, secs(o.leaseTime*7/8))
			}
		case optTFTPName:
			put(c, []byte(o.tftpName))
		case optTFTPList:
			put(c, ips(o.tftp))
		}
	}
	return sent
}

// route decides where a reply goes (RFC 2131 §4.1): to the relay; to
// ciaddr; broadcast when the client asks; otherwise to the new address at
// the client's MAC, which needs an ARP entry (see Server.send).
func (st *settings) route(m *msg, r *dhcpv4.DHCPv4, yiaddr netip.Addr) *reply {
	out := &reply{b: r.ToBytes(), mac: m.mac}
	switch {
	case m.giaddr.IsValid():
		out.to = netip.AddrPortFrom(m.giaddr, dhcpv4.ServerPort)
	case m.ciaddr.IsValid() && st.subnet.Contains(m.ciaddr):
		out.to = netip.AddrPortFrom(m.ciaddr, dhcpv4.ClientPort)
	case m.p.IsBroadcast() || m.ciaddr.IsValid():
		out.to = netip.AddrPortFrom(broadcast, dhcpv4.ClientPort)
	default:
		out.to, out.arp = netip.AddrPortFrom(yiaddr, dhcpv4.ClientPort), true
	}
	return out
}

func codeList(c []uint8) string {
	c = slices.Clone(c)
	slices.Sort(c)
	var b strings.Builder
	for i, v := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(v)))
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// fmtDur writes 24h rather than 24h0m0s.
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
