package analyze

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// book attributes events to phones by MAC, as the live server does by
// its bindings: an event whose packet names the MAC (DHCP's chaddr, a
// CDP/LLDP frame) is that phone's; one that comes from an address is the
// phone's bound to that address at that time. An address is bound by a
// DHCP lease (chaddr → yiaddr), else by the first file it asked for that
// names a MAC (CTLSEP<MAC>.tlv, SEP<MAC>.cnf.xml: first sight), else by
// the Ethernet source of its packets when that MAC is seen with no other
// address (a router's is seen with many).
type book struct {
	maxPhones, maxEvents int
	maxAll, all          int // events kept in all, and how many at most
	phones               map[phone.MAC]*seen
	pending              map[netip.Addr][]event.Event // events of addresses, attributed at the end
	leases               map[netip.Addr][]binding     // by DHCP, in time order
	named                map[netip.Addr]binding       // first sight of a MAC-named file
	ether                map[netip.Addr]phone.MAC
	etherIPs             map[phone.MAC]int    // how many addresses each MAC was seen with (up to 2)
	models, running      map[phone.MAC]string // as the store copies them from events' facts
	droppedPhones        int
	droppedEvents        int
}

type binding struct {
	at  time.Time
	mac phone.MAC
}

// seen is one phone's events.
type seen struct {
	events []event.Event
}

func newBook(maxPhones, maxEvents, maxAll int) *book {
	return &book{maxPhones: maxPhones, maxEvents: maxEvents, maxAll: maxAll, phones: map[phone.MAC]*seen{},
		pending: map[netip.Addr][]event.Event{}, leases: map[netip.Addr][]binding{}, named: map[netip.Addr]binding{},
		ether: map[netip.Addr]phone.MAC{}, etherIPs: map[phone.MAC]int{}, models: map[phone.MAC]string{}, running: map[phone.MAC]string{}}
}

// add keeps an event: the phone's when it names its MAC, else its
// address's until the end.
func (b *book) add(ev event.Event) {
	if b.all >= b.maxAll {
		b.droppedEvents++ // the newest are lost: the capture's end is not seen
		return
	}
	b.all++
	if ev.MAC != (phone.MAC{}) {
		b.keep(ev)
		return
	}
	if !ev.IP.IsValid() {
		b.droppedEvents++
		return
	}
	if _, ok := b.pending[ev.IP]; !ok && len(b.pending) >= b.maxPhones {
		b.droppedPhones++
		return
	}
	evs := append(b.pending[ev.IP], ev)
	if len(evs) > b.maxEvents {
		evs = b.trim(evs)
	}
	b.pending[ev.IP] = evs
}

// keep adds an attributed event to its phone.
func (b *book) keep(ev event.Event) {
	s := b.phones[ev.MAC]
	if s == nil {
		if len(b.phones) >= b.maxPhones {
			b.droppedPhones++
			return
		}
		s = &seen{}
		b.phones[ev.MAC] = s
	}
	s.events = append(s.events, ev)
	if len(s.events) > b.maxEvents {
		s.events = b.trim(s.events)
	}
	if ev.Facts.Model != "" {
		b.models[ev.MAC] = ev.Facts.Model
	}
	if ev.Facts.Running != "" {
		b.running[ev.MAC] = ev.Facts.Running
	}
}

// trim drops the oldest events of a timeline past maxEvents, a tenth
// at a time so that trimming is rare, and counts them.
func (b *book) trim(evs []event.Event) []event.Event {
	cut := min(len(evs), max(1, b.maxEvents/10))
	b.droppedEvents += cut
	b.all -= cut
	return append(evs[:0], evs[cut:]...)
}

// leased binds ip to mac from t on (a DHCP ACK).
func (b *book) leased(ip netip.Addr, mac phone.MAC, t time.Time) {
	if !ip.IsValid() || ip.IsUnspecified() {
		return
	}
	l := b.leases[ip]
	if n := len(l); n > 0 && l[n-1].mac == mac {
		return
	}
	if len(l) == 0 && len(b.leases) >= b.maxPhones || len(l) >= 64 {
		return
	}
	b.leases[ip] = append(l, binding{t, mac})
}

// sawName notes a file asked from ip: one that names a MAC binds the
// address when nothing did (first sight).
func (b *book) sawName(ip netip.Addr, name string, t time.Time) {
	mac, ok := nameMAC(name)
	if !ok {
		return
	}
	if _, bound := b.named[ip]; bound || len(b.named) >= b.maxPhones {
		return
	}
	b.named[ip] = binding{t, mac}
}

// sawEthernet notes the Ethernet source of a packet from ip.
func (b *book) sawEthernet(ip netip.Addr, mac phone.MAC) {
	if old, ok := b.ether[ip]; ok && old == mac {
		return
	}
	if len(b.ether) >= b.maxPhones {
		return
	}
	if _, ok := b.ether[ip]; !ok && b.etherIPs[mac] < 2 {
		b.etherIPs[mac]++
	}
	b.ether[ip] = mac
}

// owner is the phone of ip at t.
func (b *book) owner(ip netip.Addr, t time.Time) (phone.MAC, bool) {
	if l := b.leases[ip]; len(l) > 0 {
		i, _ := slices.BinarySearchFunc(l, t, func(x binding, t time.Time) int { return x.at.Compare(t) })
		// The lease in force at t; before the first, the first (the
		// phone asked before the capture saw its lease).
		if i > 0 && (i == len(l) || !l[i].at.Equal(t)) {
			i--
		}
		return l[min(i, len(l)-1)].mac, true
	}
	if n, ok := b.named[ip]; ok {
		return n.mac, true
	}
	if m, ok := b.ether[ip]; ok && b.etherIPs[m] == 1 {
		return m, true
	}
	return phone.MAC{}, false
}

// timeline is one phone as the capture shows it.
type timeline struct {
	mac      phone.MAC
	events   []event.Event // oldest first
	model    string
	running  string
	ip       netip.Addr
	lastSeen time.Time
	lastFile string
}

// timelines attributes the pending events and returns every phone,
// by MAC, and how many events no phone was found for.
func (b *book) timelines() ([]timeline, int) {
	unattributed := 0
	for ip, evs := range b.pending {
		for _, ev := range evs {
			mac, ok := b.owner(ip, ev.Time)
			if !ok {
				unattributed++
				continue
			}
			ev.MAC = mac
			b.keep(ev)
		}
	}
	b.pending = nil
	out := make([]timeline, 0, len(b.phones))
	for mac, s := range b.phones {
		slices.SortStableFunc(s.events, func(x, y event.Event) int { return x.Time.Compare(y.Time) })
		tl := timeline{mac: mac, events: s.events, model: b.models[mac], running: b.running[mac]}
		for _, ev := range s.events {
			if ev.IsRequest() {
				tl.lastFile = ev.File
				tl.ip = ev.IP
			}
			if !tl.ip.IsValid() && ev.IP.IsValid() && ev.Source != event.DHCP {
				tl.ip = ev.IP
			}
		}
		if !tl.ip.IsValid() {
			for ip, l := range b.leases {
				if l[len(l)-1].mac == mac {
					tl.ip = ip
				}
			}
		}
		if n := len(s.events); n > 0 {
			tl.lastSeen = s.events[n-1].Time
		}
		if tl.running == "" { // what the phone announces (CDP/LLDP) wins
			tl.running = runningFrom(s.events)
		}
		out = append(out, tl)
	}
	slices.SortFunc(out, func(x, y timeline) int { return cmp.Compare(x.mac.String(), y.mac.String()) })
	return out, unattributed
}
