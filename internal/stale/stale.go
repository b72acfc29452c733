// Package stale answers for a TFTP server a phone remembers from an old
// network. A 79xx keeps its TFTP server (an alternate TFTP address, a
// cached option 150) and, after a move, ARPs for it forever (seed page:
// "temporarily reconfigure your local network to addresses that the phone
// is trying to use"). With `serve --answer-stale IF` phoneboot listens to
// ARP on IF; when a phone asks for an address nobody on the segment has,
// it probes the address (RFC 5227), adds it to IF (a /32 marked IF:pb) so
// that the phone's TFTP reaches phoneboot, and removes it once the phone
// stops asking. Every step is an event.StaleServer in the phone's
// timeline.
//
// Which senders count as phones is the caller's (Config.IsPhone): the
// network lies, so an ARP's claims are checked before anything is done —
// the frame's Ethernet source must be the ARP sender, the target must be
// outside every subnet of IF and not this host's, and nothing happens for
// more than Config.Max addresses at once, whatever floods the segment.
package stale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mdlayher/packet"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// Defaults of Config.
const (
	DefaultMax      = 4
	DefaultIdle     = 5 * time.Minute
	DefaultProbes   = 3
	DefaultProbeGap = 350 * time.Millisecond
)

// Config configures an Answerer.
type Config struct {
	Iface string
	// Answer: take addresses. False: only notice phones asking for an
	// absent server (probe, record), never add an address.
	Answer bool
	// Max is how many addresses are held or probed at once (0: DefaultMax).
	Max int
	// Idle releases an address once none of its phones sent ARP or a
	// file request for this long (0: DefaultIdle).
	Idle time.Duration
	// Probes are sent ProbeGap apart; an address is absent when none was
	// answered one gap after the last (0: the defaults, about a second).
	Probes   int
	ProbeGap time.Duration
	// IsPhone reports whether a MAC is a phone phoneboot may act for.
	IsPhone func(phone.MAC) bool
	// Record puts an event in a phone's timeline.
	Record func(event.Event)
	// Listen, when set, serves TFTP on addr until ctx ends (for a TFTP
	// server bound to given addresses; one on the wildcard address
	// answers on a new address by itself).
	Listen func(ctx context.Context, addr netip.Addr) error
	Log    *slog.Logger
}

// ErrNoPermission is Open's error without CAP_NET_RAW (or
// CAP_NET_ADMIN, which adding addresses needs).
var ErrNoPermission = errors.New("--answer-stale needs root, or the capabilities CAP_NET_RAW and CAP_NET_ADMIN (setcap cap_net_raw,cap_net_admin+ep phoneboot)")

// ErrNoRaw is Open's error without CAP_NET_RAW when it only notices.
var ErrNoRaw = errors.New("--notice-stale needs root, or the capability CAP_NET_RAW (setcap cap_net_raw+ep phoneboot)")

// Answerer is the ARP listener of one interface and the addresses it holds.
type Answerer struct {
	cfg   Config
	log   *slog.Logger
	ifi   *net.Interface
	hw    phone.MAC
	conn  *packet.Conn
	addrs *Addrs
	seen  chan phone.MAC // file requests of phones, from Saw
	// closing: phoneboot is stopping; no new address is taken.
	closing atomic.Bool

	mu     sync.Mutex
	probes map[netip.Addr]*probe
	holds  map[netip.Addr]*hold
	// quiet are addresses not to probe again before the time: found in
	// use, noticed (Answer false), or failed. Bounded by maxQuiet.
	quiet map[netip.Addr]time.Time
	// noted rate-limits events: one per phone, address and step per
	// noteEvery. Bounded by maxNoted.
	noted map[noteKey]time.Time
	// segment is IF's subnets and local every address of this host,
	// refreshed every refreshEvery.
	segment   []netip.Prefix
	local     map[netip.Addr]bool
	refreshed time.Time
	// frames and drops are the kernel's counts of ARP frames received
	// and dropped (its queue was full) since the listener opened.
	frames, drops uint64
}

// probe is an address being probed for one phone.
type probe struct {
	addr     netip.Addr
	mac      phone.MAC
	ip       netip.Addr // the phone's address, as its ARP said
	asks     int        // the phone's requests for it seen
	drops    uint64     // Answerer.drops when it started
	sent     int
	next     time.Time
	conflict phone.MAC // who answered (zero: nobody yet)
}

// hold is an address on IF and the phones that use it.
type hold struct {
	addr    netip.Addr
	entries []Entry // on IF: one without peer and/or one per off-segment phone
	phones  map[phone.MAC]*user
	stop    context.CancelFunc // the TFTP listener on addr, when Listen is set
}

type user struct {
	ip   netip.Addr
	last time.Time
	peer bool // has an Entry with Peer = ip
}

type noteKey struct {
	mac  phone.MAC
	addr netip.Addr
	step event.StaleStep
}

const (
	maxQuiet     = 256
	maxNoted     = 1024
	maxUsers     = 8 // phones per held address
	noteEvery    = time.Minute
	refreshEvery = 5 * time.Second
	quietFor     = time.Minute
)

// Open opens the ARP listener on cfg.Iface and removes addresses a
// previous run left there. An error says in words what is missing.
func Open(ctx context.Context, cfg Config) (*Answerer, error) {
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Probes <= 0 {
		cfg.Probes = DefaultProbes
	}
	if cfg.ProbeGap <= 0 {
		cfg.ProbeGap = DefaultProbeGap
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.IsPhone == nil || cfg.Record == nil {
		return nil, errors.New("stale: Config.IsPhone and Config.Record are needed")
	}
	ifi, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return nil, fmt.Errorf("%s %s: no such interface", flagName(cfg), cfg.Iface)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("%s %s: not an Ethernet interface", flagName(cfg), cfg.Iface)
	}
	a := &Answerer{cfg: cfg, log: cfg.Log, ifi: ifi, seen: make(chan phone.MAC, 256),
		probes: map[netip.Addr]*probe{}, holds: map[netip.Addr]*hold{}, quiet: map[netip.Addr]time.Time{}, noted: map[noteKey]time.Time{}}
	copy(a.hw[:], ifi.HardwareAddr)
	if cfg.Answer {
		if a.addrs, err = NewAddrs(cfg.Iface); err != nil {
			return nil, fmt.Errorf("--answer-stale %s: %w", cfg.Iface, err)
		}
		gone, err := a.addrs.Leftovers(ctx)
		if err != nil {
			if errors.Is(err, ErrNoPermission) {
				return nil, ErrNoPermission
			}
			return nil, fmt.Errorf("--answer-stale %s: removing addresses left by an earlier run: %w", cfg.Iface, err)
		}
		for _, e := range gone {
			a.log.Info("stale server: removed an address an earlier run left", "iface", cfg.Iface, "addr", e.Local.String())
		}
	}
	a.conn, err = packet.Listen(ifi, packet.Raw, etherTypeARP, nil)
	if err != nil {
		if errors.Is(err, os.ErrPermission) && !cfg.Answer {
			return nil, ErrNoRaw
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, ErrNoPermission
		}
		return nil, fmt.Errorf("%s %s: cannot listen to ARP: %w", flagName(cfg), cfg.Iface, err)
	}
	// Room for a burst of ARP (the kernel caps it at net.core.rmem_max);
	// what a flood drops beyond it makes probes inconclusive (tick).
	if rc, err := a.conn.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1<<20) })
	}
	return a, nil
}

func flagName(cfg Config) string {
	if cfg.Answer {
		return "--answer-stale"
	}
	return "--notice-stale"
}

// Saw tells the answerer that phone mac made a file request: a phone that
// still fetches files keeps its address. Never blocks.
func (a *Answerer) Saw(mac phone.MAC) {
	select {
	case a.seen <- mac:
	default:
	}
}

// Close takes no new address from now on; those held stay until Run
// ends (phoneboot's shutdown lets running transfers finish first).
func (a *Answerer) Close() { a.closing.Store(true) }

// Run reads ARP until ctx ends, then removes every address it added.
func (a *Answerer) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.read(ctx)
	}()
	t := time.NewTicker(a.cfg.ProbeGap / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The kernel's count (since the socket opened) of frames
			// received and of those dropped because phoneboot was slower
			// than a flood: the queue is bounded, the rest is shed.
			a.mu.Lock()
			a.stats()
			a.log.Info("stale server: ARP listener stopped", "iface", a.cfg.Iface, "frames", a.frames, "dropped", a.drops)
			a.mu.Unlock()
			a.conn.Close()
			<-done
			a.releaseAll()
			return
		case mac := <-a.seen:
			a.touch(mac)
		case now := <-t.C:
			a.tick(now)
		}
	}
}

func (a *Answerer) read(ctx context.Context) {
	buf := make([]byte, 1514)
	var pause time.Duration
	for ctx.Err() == nil {
		n, _, err := a.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// The interface went down or away: say so once, then try
			// again less and less often (up to every 5s).
			if pause == 0 {
				a.log.Warn("stale server: cannot read ARP on the interface; trying again", "iface", a.cfg.Iface, "err", err)
			}
			pause = min(max(2*pause, 50*time.Millisecond), 5*time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		arp, err := ParseARP(buf[:n])
		if err != nil {
			continue // not IPv4 ARP: nothing to do with phones
		}
		a.handle(arp, time.Now())
	}
}

// handle is one ARP message heard on IF.
func (a *Answerer) handle(m ARP, now time.Time) {
	if m.Source == a.hw || m.SenderHW == a.hw {
		return // our own probes, the kernel's answers for our addresses
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conflicts(m, now)
	if !m.Request() || m.Probe() || m.Source != m.SenderHW {
		// A proxy or a forger: an ARP whose sender is not the frame's
		// source speaks for someone else.
		return
	}
	mac := m.SenderHW
	if !a.cfg.IsPhone(mac) {
		return
	}
	if h, ok := a.holds[m.TargetIP]; ok {
		a.join(h, mac, m.SenderIP, now)
		return
	}
	if p := a.probes[m.TargetIP]; p != nil && p.mac == mac {
		p.asks++
	}
	if a.closing.Load() || a.probes[m.TargetIP] != nil || a.quiet[m.TargetIP].After(now) || !a.eligible(m.TargetIP, m.SenderIP, now) {
		return
	}
	if len(a.probes)+len(a.holds) >= a.cfg.Max {
		busy := fmt.Sprintf("phoneboot already answers for %d addresses (--answer-stale-max)", a.cfg.Max)
		if !a.cfg.Answer {
			busy = fmt.Sprintf("phoneboot is probing %d addresses already (--answer-stale-max)", a.cfg.Max)
		}
		a.note(mac, m.SenderIP, m.TargetIP, event.StaleFull, now, fmt.Sprintf("asks for %s, an address nobody may have; %s", m.TargetIP, busy))
		return
	}
	a.stats()
	p := &probe{addr: m.TargetIP, mac: mac, ip: m.SenderIP, next: now, asks: 1, drops: a.drops}
	a.probes[p.addr] = p
	a.log.Info("stale server: a phone asks for an address not on the segment; probing it", "phone", mac.String(), "addr", p.addr.String())
	a.sendProbe(p, now)
}

// conflicts marks probed and held addresses that another host shows it
// uses: its ARP has the address as sender, or it probes for it too.
func (a *Answerer) conflicts(m ARP, now time.Time) {
	claimed := m.SenderIP
	if m.Probe() {
		claimed = m.TargetIP
	}
	if p, ok := a.probes[claimed]; ok && p.conflict == (phone.MAC{}) {
		p.conflict = m.SenderHW
	}
	if h, ok := a.holds[claimed]; ok {
		for mac, u := range h.phones {
			a.note(mac, u.ip, h.addr, event.StaleInUse, now,
				fmt.Sprintf("%s answers for %s now; phoneboot gives the address up", m.SenderHW, h.addr))
		}
		a.release(h, now, "another host uses it")
		a.setQuiet(h.addr, now.Add(quietFor))
	}
}

// eligible reports whether phoneboot may take target for a phone at
// sender: an IPv4 unicast address outside IF's subnets (those are the
// segment's own: a gateway or a host switched off for the night must never
// be taken) and not one of this host's.
func (a *Answerer) eligible(target, sender netip.Addr, now time.Time) bool {
	if !target.Is4() || !target.IsGlobalUnicast() || target == sender || target == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	a.refresh(now)
	if a.local[target] {
		return false
	}
	for _, p := range a.segment {
		if p.Contains(target) {
			return false
		}
	}
	return true
}

// onSegment reports whether ip is in one of IF's subnets (a.mu held).
func (a *Answerer) onSegment(ip netip.Addr) bool {
	for _, p := range a.segment {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a *Answerer) refresh(now time.Time) {
	if now.Sub(a.refreshed) < refreshEvery && a.local != nil {
		return
	}
	a.refreshed = now
	a.segment, a.local = a.segment[:0], map[netip.Addr]bool{}
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		addrs, _ := ifi.Addrs()
		for _, ad := range addrs {
			in, ok := ad.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(in.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			ones, _ := in.Mask.Size()
			a.local[ip] = true
			if ifi.Index == a.ifi.Index && ones < 32 {
				a.segment = append(a.segment, netip.PrefixFrom(ip, ones).Masked())
			}
		}
	}
}

func (a *Answerer) sendProbe(p *probe, now time.Time) {
	p.sent++
	p.next = now.Add(a.cfg.ProbeGap)
	if _, err := a.conn.WriteTo(ProbeFor(a.hw, p.addr).Frame(Broadcast), &packet.Addr{HardwareAddr: Broadcast[:]}); err != nil {
		a.log.Warn("stale server: sending an ARP probe", "addr", p.addr.String(), "err", err)
	}
}

// tick moves probes on and releases addresses no phone uses any more.
func (a *Answerer) tick(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.probes) > 0 {
		a.stats()
	}
	for addr, p := range a.probes {
		switch {
		case p.conflict != (phone.MAC{}):
			delete(a.probes, addr)
			a.setQuiet(addr, now.Add(quietFor))
			a.note(p.mac, p.ip, addr, event.StaleInUse, now,
				fmt.Sprintf("asks for %s; %s has it on the segment, so phoneboot leaves it alone", addr, p.conflict))
			a.log.Info("stale server: the address is in use; not taking it", "addr", addr.String(), "by", p.conflict.String())
		case now.Before(p.next):
		case p.sent < a.cfg.Probes:
			a.sendProbe(p, now)
		case a.drops != p.drops:
			// The kernel dropped ARP frames while the probes were out
			// (a flood): an answer may have been among them. Nothing is
			// taken on such a probe; the phone's next ARP tries again.
			delete(a.probes, addr)
			a.setQuiet(addr, now.Add(5*time.Second))
			a.log.Warn("stale server: ARP frames were dropped while probing; not taking the address", "addr", addr.String(), "dropped", a.drops-p.drops)
		default:
			delete(a.probes, addr)
			a.absent(p, now)
		}
	}
	for _, h := range a.holds {
		busy := false
		for _, u := range h.phones {
			busy = busy || now.Sub(u.last) < a.cfg.Idle
		}
		if !busy {
			a.release(h, now, fmt.Sprintf("the phone stopped asking for %v", a.cfg.Idle))
			continue
		}
		for mac, u := range h.phones {
			if now.Sub(u.last) >= a.cfg.Idle {
				a.leave(h, mac, u)
				a.note(mac, u.ip, h.addr, event.StaleReleased, now,
					fmt.Sprintf("the phone stopped asking for %v; phoneboot keeps %s for other phones", a.cfg.Idle, h.addr))
			}
		}
	}
	for addr, until := range a.quiet {
		if !until.After(now) {
			delete(a.quiet, addr)
		}
	}
}

// absent: nobody answered the probes for p.addr.
func (a *Answerer) absent(p *probe, now time.Time) {
	a.unanswered(p, now)
	if !a.cfg.Answer || a.closing.Load() {
		a.setQuiet(p.addr, now.Add(quietFor))
		return
	}
	h := &hold{addr: p.addr, phones: map[phone.MAC]*user{}}
	if err := a.join(h, p.mac, p.ip, now); err != nil {
		a.setQuiet(p.addr, now.Add(quietFor))
		return
	}
	a.holds[p.addr] = h
	a.refreshed = time.Time{}
	if a.cfg.Listen != nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop = cancel
		go func() {
			if err := a.cfg.Listen(ctx, h.addr); err != nil {
				a.log.Warn("stale server: cannot serve TFTP on the address", "addr", h.addr.String(), "err", err)
			}
		}()
	}
}

// join adds phone mac at ip to h, adding what the phone needs on IF: the
// address itself, and, for a phone whose own address is outside IF's
// subnets (it kept the old network's too), a peer route to it so that the
// answers find it.
func (a *Answerer) join(h *hold, mac phone.MAC, ip netip.Addr, now time.Time) error {
	if u, ok := h.phones[mac]; ok {
		u.last = now
		return nil
	}
	if len(h.phones) >= maxUsers {
		return errors.New("full")
	}
	u := &user{ip: ip, last: now}
	e := Entry{Local: h.addr}
	a.refresh(now)
	if !a.onSegment(ip) {
		if !ip.Is4() || !ip.IsGlobalUnicast() || a.local[ip] || a.reachedElsewhere(ip) {
			a.note(mac, ip, h.addr, event.StaleFailed, now,
				fmt.Sprintf("asks for %s from %s, an address this host reaches through another interface; phoneboot does not route it to %s", h.addr, ip, a.cfg.Iface))
			return errors.New("peer elsewhere")
		}
		e.Peer, u.peer = ip, true
	} else if a.hasPlain(h) {
		h.phones[mac] = u
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.addrs.Add(ctx, e); err != nil {
		a.note(mac, ip, h.addr, event.StaleFailed, now, fmt.Sprintf("asks for %s; phoneboot could not add it to %s: %v", h.addr, a.cfg.Iface, err))
		a.log.Warn("stale server: cannot add the address", "addr", h.addr.String(), "err", err)
		return err
	}
	h.entries = append(h.entries, e)
	h.phones[mac] = u
	how := fmt.Sprintf("phoneboot added %s to %s (label %s) and answers the phone's TFTP there", h.addr, a.cfg.Iface, a.addrs.Label())
	if e.Peer.IsValid() {
		how += fmt.Sprintf(", with a route to the phone's own old address %s", ip)
	}
	a.note(mac, ip, h.addr, event.StaleAdded, now, how)
	a.log.Info("stale server: answering for an address", "addr", h.addr.String(), "phone", mac.String(), "peer", e.Peer.String())
	return nil
}

func (a *Answerer) hasPlain(h *hold) bool {
	for _, e := range h.entries {
		if !e.Peer.IsValid() {
			return true
		}
	}
	return false
}

// reachedElsewhere reports whether ip is in a subnet of another interface
// of this host (a.mu held, refreshed): a host route through IF would take
// it from there.
func (a *Answerer) reachedElsewhere(ip netip.Addr) bool {
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Index == a.ifi.Index {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, ad := range addrs {
			if in, ok := ad.(*net.IPNet); ok && in.Contains(ip.AsSlice()) {
				return true
			}
		}
	}
	return false
}

// leave removes phone mac from h, and its peer route.
func (a *Answerer) leave(h *hold, mac phone.MAC, u *user) {
	delete(h.phones, mac)
	if !u.peer {
		return
	}
	for i, e := range h.entries {
		if e.Peer == u.ip {
			a.del(e)
			h.entries = append(h.entries[:i], h.entries[i+1:]...)
			break
		}
	}
}

// release removes h's address from IF.
func (a *Answerer) release(h *hold, now time.Time, why string) {
	if h.stop != nil {
		h.stop()
	}
	for _, e := range h.entries {
		a.del(e)
	}
	delete(a.holds, h.addr)
	a.refreshed = time.Time{}
	for mac, u := range h.phones {
		a.note(mac, u.ip, h.addr, event.StaleReleased, now, fmt.Sprintf("phoneboot removed %s from %s: %s", h.addr, a.cfg.Iface, why))
	}
	a.log.Info("stale server: address removed", "addr", h.addr.String(), "why", why)
}

func (a *Answerer) del(e Entry) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.addrs.Del(ctx, e); err != nil {
		a.log.Error("stale server: cannot remove an address: remove it by hand", "addr", e.Local.String(), "err", err)
	}
}

func (a *Answerer) releaseAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for _, h := range a.holds {
		a.release(h, now, "phoneboot stops")
	}
}

// touch: a phone made a file request; its addresses stay.
func (a *Answerer) touch(mac phone.MAC) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for _, h := range a.holds {
		if u, ok := h.phones[mac]; ok {
			u.last = now
		}
	}
}

// setQuiet leaves addr alone until the time.
func (a *Answerer) setQuiet(addr netip.Addr, until time.Time) {
	if len(a.quiet) >= maxQuiet {
		return // a flood's addresses: nothing more is remembered; the cap still holds
	}
	a.quiet[addr] = until
}

// unanswered records that the phone asks for p.addr and nobody answers
// there (once a minute per phone and address, as note).
func (a *Answerer) unanswered(p *probe, now time.Time) {
	if !a.allow(noteKey{p.mac, p.addr, ""}, now) {
		return
	}
	a.cfg.Record(event.Event{Time: now, MAC: p.mac, IP: p.ip, Source: event.ARP, Kind: event.ARPUnanswered,
		Detail: fmt.Sprintf("asks for %s (ARP), an address nobody on the segment answers for, not even phoneboot's probes: an old network's TFTP server", p.addr),
		Facts:  event.Facts{Server: p.addr, Count: p.asks}})
}

// note records a step in the phone's timeline, at most one per phone,
// address and step a minute (released and added always: they are
// phoneboot's own acts, bounded by Max).
func (a *Answerer) note(mac phone.MAC, ip, addr netip.Addr, step event.StaleStep, now time.Time, detail string) {
	if step != event.StaleAdded && step != event.StaleReleased && !a.allow(noteKey{mac, addr, step}, now) {
		return
	}
	a.cfg.Record(event.Event{Time: now, MAC: mac, IP: ip, Source: event.ARP, Kind: event.StaleServer, Detail: detail,
		Facts: event.Facts{Server: addr, Step: step}})
}

// allow reports whether an event of k may be recorded now: one a minute,
// and nothing new while the table of them is full of unexpired ones.
func (a *Answerer) allow(k noteKey, now time.Time) bool {
	if a.noted[k].After(now) {
		return false
	}
	if len(a.noted) >= maxNoted {
		for k, until := range a.noted {
			if !until.After(now) {
				delete(a.noted, k)
			}
		}
		if len(a.noted) >= maxNoted {
			return false
		}
	}
	a.noted[k] = now.Add(noteEvery)
	return true
}

// stats adds the kernel's counts since the last call (reading them
// resets them) to frames and drops; a.mu held.
func (a *Answerer) stats() {
	if st, err := a.conn.Stats(); err == nil {
		a.frames += uint64(st.Packets)
		a.drops += uint64(st.Drops)
	}
}
