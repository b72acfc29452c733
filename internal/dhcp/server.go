// Package dhcp is phoneboot's DHCPv4 server for a phone VLAN or a bench
// network: one interface, one pool, options 150/66 for Cisco phones,
// reservations by MAC, leases persisted through Leases (the store).
//
// It binds 0.0.0.0:67 to its interface (SO_BINDTODEVICE), so it neither
// hears nor answers anything elsewhere. Replies follow RFC 2131 §4.1: to
// the relay (giaddr) on port 67; NAKs broadcast; to ciaddr when the client
// has an address; broadcast when the client sets the broadcast flag; else
// unicast to the new address at the client's MAC, for which the server
// adds an ARP entry (SIOCSARP, as dnsmasq does) and falls back to a
// broadcast when it cannot.
//
// A REQUEST for an address the server knows nothing against (INIT-REBOOT
// or RENEWING after its database was lost) is acknowledged if the address
// is in the pool and free: the server is authoritative for its network,
// as dnsmasq with dhcp-authoritative. A wrong one is NAKed. Such a lease
// is short (Config.UnconfirmedLease) until its first renewal, and clients
// that hold nothing here get addresses at a bounded rate
// (Config.NewLeasesPerMinute), so a flood of them cannot empty the pool.
//
// Several nodes of a fleet may share one lease store (Config.Node): each
// loads only its own leases, and an address the store says another node
// holds is NAKed and kept out of the pool until that lease ends.
package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/ratelimit"
	"phoneboot/internal/udpnet"
)

// Event is one DHCP message received or sent. Incoming ones ("discover",
// "request", "inform", "release", "decline") carry the client's ciaddr in
// IP; replies ("offer", "ack", "nak") the address given (zero for a NAK).
type Event struct {
	Time        time.Time
	MAC         phone.MAC
	IP          netip.Addr // yiaddr of a reply, ciaddr of a request
	Type        event.Kind // event.DHCPDiscover, DHCPOffer, …
	VendorClass string     // option 60, trailing NULs trimmed
	Model       string     // from the vendor class, "" unknown
	Hostname    string     // option 12
	Requested   netip.Addr // option 50
	Detail      string     // human: "offered 10.0.0.50 for 24h, options 1,3,6,150"
}

// Stats counts what the server did since New.
type Stats struct {
	Received                                         uint64 // datagrams
	Malformed                                        uint64 // dropped: truncated, bad lengths, not an Ethernet BOOTREQUEST, not DHCP
	Ignored                                          uint64 // well-formed but not for this server (another server chosen, unknown relay, stray release)
	RateLimited                                      uint64 // dropped: over the per-MAC limit
	Discovers, Requests, Informs, Releases, Declines uint64
	Offers, Acks, Naks                               uint64
	Exhausted                                        uint64 // DISCOVERs not answered: no free address
	Throttled                                        uint64 // new clients not answered (or NAKed): over the new-lease limit
	StoreErrors                                      uint64 // leases the store refused (the client got no ACK)
	SendErrors                                       uint64
	// Now:
	Leased, Offered, Declined int
	Elsewhere                 int // addresses another node holds (its leases met in the store)
	Pool                      int // addresses in the range
}

type counters struct {
	received, malformed, ignored, rateLimited             atomic.Uint64
	discovers, requests, informs, releases, declines      atomic.Uint64
	offers, acks, naks, exhausted, storeErrors, sendError atomic.Uint64
	throttled                                             atomic.Uint64
}

// Server is a DHCPv4 server. Run it once.
type Server struct {
	st      *settings
	leases  Leases
	log     *slog.Logger
	onEvent func(Event)
	now     func() time.Time

	mu    sync.Mutex
	t     *table
	next  int // where the pool scan starts
	swept time.Time
	// storeBack: until then persist fails at once (storePause).
	storeBack time.Time
	loaded    bool
	limit     *ratelimit.Keyed[limitKey]
	// newLeases is the token bucket of clients that hold nothing here;
	// throttled and full turn refusals into a log line a minute.
	newLeases       *rate.Limiter
	throttled, full summary

	wmu      sync.Mutex
	warnings []string
	servers  map[netip.Addr]bool // other DHCP servers already reported

	stats   counters
	running atomic.Bool
	ready   chan struct{}
}

// Per-MAC limit: a client sends DISCOVER, REQUEST and a few retries, a
// few a second at most; a storm of phones after a power cut is many
// MACs at that pace, never refused (ratelimit: up to ratelimit.MaxKeys
// at once, more as their buckets refill).
const (
	macRate  = 10
	macBurst = 20
)

// limitKey is what the per-MAC limit counts: the client's MAC, and the
// relay it came through (zero when direct), whose network is the group
// that shares a bucket when a flood fills the table.
type limitKey struct {
	mac   phone.MAC
	relay netip.Addr
}

// limitGroup is a key's group: its relay's /24 when relayed, else its
// MAC's OUI, so that a flood of made-up MACs behind one relay, or of one
// vendor's, leaves the others their buckets.
func limitGroup(k limitKey) uint64 {
	if k.relay.IsValid() {
		return ratelimit.Subnet(k.relay)
	}
	return 1<<40 | uint64(k.mac[0])<<16 | uint64(k.mac[1])<<8 | uint64(k.mac[2])
}

// New checks cfg against the interface and returns a server; Run serves.
// onEvent, if set, gets every Event, from the serving goroutine: it must
// not block. A nil log discards.
func New(cfg Config, leases Leases, log *slog.Logger, onEvent func(Event)) (*Server, error) {
	info, err := lookupIface(cfg.Iface)
	if err != nil {
		return nil, err
	}
	return newServer(cfg, info, leases, log, onEvent)
}

func newServer(cfg Config, info ifaceInfo, leases Leases, log *slog.Logger, onEvent func(Event)) (*Server, error) {
	if leases == nil {
		return nil, errors.New("dhcp: no lease store")
	}
	st, err := compile(cfg, info)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		st: st, leases: leases, log: log, onEvent: onEvent, now: time.Now,
		t: newTable(), limit: ratelimit.New[limitKey](macRate, macBurst, ratelimit.MaxKeys).GroupBy(limitGroup),
		newLeases: rate.NewLimiter(rate.Limit(float64(st.newPerMin)/60), st.newBurst),
		servers:   map[netip.Addr]bool{},
		ready:     make(chan struct{}),
		warnings:  st.warnings,
	}, nil
}

// Warnings says what an operator must know: another DHCP server on the
// interface (seen by the start-up probe, or named by a client's REQUEST),
// reservations ignored. It is complete for the probe once Ready is closed.
func (s *Server) Warnings() []string {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return append([]string(nil), s.warnings...)
}

// Ready is closed when Run has probed and listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) warn(w string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if len(s.warnings) < 16 {
		s.warnings = append(s.warnings, w)
	}
	s.log.Warn("dhcp: " + w)
}

// otherServer reports another DHCP server, once per address.
func (s *Server) otherServer(ip netip.Addr, how string) {
	s.wmu.Lock()
	seen := s.servers[ip]
	if !seen && len(s.servers) < 64 {
		s.servers[ip] = true
	}
	s.wmu.Unlock()
	if !seen {
		s.warn(fmt.Sprintf("another DHCP server (%v) answered on %s: %s", ip, s.st.iface, how))
	}
}

// Stats returns the counters and the pool's state now.
func (s *Server) Stats() Stats {
	c := &s.stats
	out := Stats{
		Received: c.received.Load(), Malformed: c.malformed.Load(), Ignored: c.ignored.Load(), RateLimited: c.rateLimited.Load(),
		Discovers: c.discovers.Load(), Requests: c.requests.Load(), Informs: c.informs.Load(),
		Releases: c.releases.Load(), Declines: c.declines.Load(),
		Offers: c.offers.Load(), Acks: c.acks.Load(), Naks: c.naks.Load(), Exhausted: c.exhausted.Load(), Throttled: c.throttled.Load(),
		StoreErrors: c.storeErrors.Load(), SendErrors: c.sendError.Load(),
		Pool: poolSize(s.st.lo, s.st.hi),
	}
	now := s.now()
	s.mu.Lock()
	for _, e := range s.t.byIP {
		switch {
		case !e.held(now):
		case e.declined:
			out.Declined++
		case e.other != "":
			out.Elsewhere++
		case e.bound(now):
			out.Leased++
		default:
			out.Offered++
		}
	}
	s.mu.Unlock()
	return out
}

// allow applies the per-MAC rate limit. A relay counts only when it is
// on this server's network (others are ignored anyway).
func (s *Server) allow(m *msg, now time.Time) bool {
	k := limitKey{mac: m.mac}
	if m.giaddr.IsValid() && s.st.subnet.Contains(m.giaddr) {
		k.relay = m.giaddr
	}
	ok, _ := s.limit.Allow(k, now)
	return ok
}

func (s *Server) emit(ev Event, lvl slog.Level) {
	if s.log.Enabled(context.Background(), lvl) {
		attrs := []slog.Attr{slog.String("type", string(ev.Type)), slog.String("mac", ev.MAC.String())}
		if ev.IP.IsValid() {
			attrs = append(attrs, slog.String("ip", ev.IP.String()))
		}
		if ev.Model != "" {
			attrs = append(attrs, slog.String("model", ev.Model))
		} else if ev.VendorClass != "" {
			attrs = append(attrs, slog.String("vendor_class", ev.VendorClass))
		}
		if ev.Detail != "" {
			attrs = append(attrs, slog.String("detail", ev.Detail))
		}
		s.log.LogAttrs(context.Background(), lvl, "dhcp", attrs...)
	}
	if s.onEvent != nil {
		s.onEvent(ev)
	}
}

// load reads the stored leases that concern this server into the table,
// once: its node's own, and addresses of its pool that any node declined.
// A lease the configuration no longer allows is dropped (and deleted
// from the store when it is a client's).
func (s *Server) load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		return nil
	}
	ls, err := s.leases.NodeLeases(ctx, s.st.node)
	if err != nil {
		return fmt.Errorf("dhcp: load leases: %w", err)
	}
	now := s.now()
	for _, l := range ls {
		why := ""
		switch {
		case l.Declined != (l.MAC == phone.MAC{}):
			why = "declined with a MAC, or a MAC missing"
		case l.Declined:
			if !now.Before(l.Expires) {
				continue // the hold is over
			}
			if !l.IP.Is4() || !s.st.subnet.Contains(l.IP) {
				continue
			}
			if l.Node != s.st.node && (l.IP.Less(s.st.lo) || s.st.hi.Less(l.IP)) {
				continue // another node's, outside this pool
			}
		case l.Node != s.st.node:
			continue // another node's lease: not this server's to keep or drop
		default:
			why = s.usable(l.IP, l.MAC)
			if why != "" && l.IP.Is4() && s.st.subnet.Contains(l.IP) && !s.st.excluded[l.IP] &&
				now.Before(l.Expires) && s.st.reservedBy[l.IP] == (phone.MAC{}) {
				// Outside a pool that shrank, but still in use: keep it
				// until it ends (a renewal is NAKed).
				why = ""
			}
		}
		if why != "" {
			s.log.Info("dhcp: stored lease dropped", "mac", l.MAC, "ip", l.IP, "why", why)
			if l.MAC != (phone.MAC{}) {
				if err := s.leases.DeleteLease(ctx, s.st.node, l.MAC); err != nil {
					return fmt.Errorf("dhcp: load leases: %w", err)
				}
			}
			continue
		}
		e := &entry{ip: l.IP, mac: l.MAC, expires: l.Expires, declined: l.Declined, hostname: l.Hostname, vclass: l.VendorClass}
		owner := l.MAC
		if err := s.t.put(e, owner, now); err != nil {
			s.log.Warn("dhcp: stored lease conflicts, dropped", "mac", l.MAC, "ip", l.IP, "err", err)
		}
	}
	s.loaded = true
	return nil
}

// maxPacket is the largest datagram read; larger ones are dropped.
const maxPacket = 4096

// Run loads the leases, probes for another DHCP server on the interface
// (see Warnings), binds 0.0.0.0:67 on it and serves until ctx is done,
// then returns nil.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("dhcp: Run called twice")
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	if s.st.probe > 0 {
		if err := probe(ctx, s.st, s.st.probe, s.otherServer); err != nil {
			s.warn(fmt.Sprintf("could not look for another DHCP server on %s: %v", s.st.iface, err))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	c, err := listen(s.st.iface, 67)
	if err != nil {
		return fmt.Errorf("dhcp: listen on %s port 67: %w", s.st.iface, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		c.close()
	}()
	close(s.ready)

	buf := make([]byte, maxPacket)
	var backoff udpnet.Backoff
	for {
		n, from, err := c.read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Warn("dhcp: read error", "iface", s.st.iface, "err", err)
			backoff.Wait()
			continue
		}
		backoff.Reset()
		if n == len(buf) {
			s.stats.received.Add(1)
			s.stats.malformed.Add(1)
			continue
		}
		if r := s.handle(ctx, buf[:n], from); r != nil {
			if err := c.send(r, s.st); err != nil {
				s.stats.sendError.Add(1)
				s.log.Warn("dhcp: send failed", "to", r.to, "err", err)
			}
		}
	}
}
