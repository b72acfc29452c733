// Package phonestate owns what phoneboot has observed of each phone while
// it runs: the address it uses, the model it showed, the load it runs, and
// what its recent requests were (the streaks the loop breakers count, the
// firmware it is fetching). Provision reads and changes it; the other
// sources (DHCP leases, syslog, the file services) read it to tell which
// phone a packet is from. What must outlive a restart — the running load
// and the model — reaches the store through provision's and DHCP's events
// and comes back at start through Restore.
//
// The book is bounded: past its size, the phone touched longest ago is
// forgotten first (in constant time), so made-up MACs cannot grow it.
package phonestate

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// Phone is what is known of one phone. The fields after Running are
// provision's working memory; only Book.Update may change any of them.
type Phone struct {
	MAC     phone.MAC
	IP      netip.Addr  // the address it was last seen at
	Model   phone.Model // as the phone showed it (zero: not yet)
	Running string      // the load it runs, as seen ("" unknown)

	// Last is the lower-case name of its last request, at LastAt; Streak
	// counts requests of that name in a row, each within the loop window
	// of the one before.
	Last   string
	LastAt time.Time
	Streak int
	// Boot is what its last boot showed of the load it runs (phone.Boot);
	// ITL: that boot probed ITL files, as only Java phones do (§1.3);
	// Protocol: the protocol its requests showed ("" not yet).
	Boot     phone.Boot
	ITL      bool
	Protocol string
	// Trust is the loop breaker's answer per trust list (lower-case name).
	Trust map[string]event.Remedy
	// Fetching is the load whose files the phone is downloading.
	Fetching *Fetch
	// Offered is the load the last config it got named (OfferedBy: that
	// config, lower case), until its next request shows whether it takes
	// it.
	Offered, OfferedBy string
	// Asked are the phone's requests in the order it made them, each kept
	// until it and every one before it have ended: transfers are reported
	// in any order, and provision learns from them in the phone's.
	Asked []Asked
	// Plan is the last upgrade step or block reported for the phone (nil:
	// none; a pointer, as most phones a flood makes have none).
	Plan *event.Event

	heard time.Time // its last request from IP, for the first-sight hold
	kept  bool      // in the inventory: never forgotten
}

// Asked is one request of a phone and, once it ended, whether the whole
// file reached it.
type Asked struct {
	Client   netip.AddrPort // the request's source: its port tells requests apart
	Name     string
	Done, OK bool
	// Offered is the load the file served for it names ("" none): a
	// phone that asks for something else next, not that load, runs it.
	Offered string
}

// Fetch is a load a phone has started to download.
type Fetch struct {
	Load    string
	Missing map[string]bool // lower-case components not fetched yet
	Started bool            // a component was fetched
}

// FetchStarted reports whether the phone is part way through a download.
func (p *Phone) FetchStarted() bool { return p.Fetching != nil && p.Fetching.Started }

// Saved is the lasting part of a phone, from the store.
type Saved struct {
	MAC     phone.MAC
	Model   phone.Model
	Running string
}

// Book is every phone phoneboot has seen since it started (and the saved
// ones). It is safe for concurrent use.
type Book struct {
	max int

	mu     sync.Mutex
	phones map[phone.MAC]*list.Element // of *Phone; front: touched last
	order  list.List                   // the phones outside the inventory
	kept   list.List                   // the inventory's phones
	byIP   map[netip.Addr]phone.MAC
	// pending is what requests from addresses of no known phone showed.
	pending map[netip.Addr]*early
	// fixed are the addresses reserved or leased to phones, kept apart
	// from the phones so that forgetting a phone never frees its address
	// (identity.go); hold is how long a first-sight address stays a
	// phone's after its last request.
	fixed   map[phone.MAC]fixed
	fixedAt map[netip.Addr]phone.MAC
	hold    time.Duration
}

// DefaultSize bounds the phones outside the inventory a Book made with
// New(0) holds: more than one phoneboot serves, few enough that a flood
// of made-up phones costs tens of megabytes.
const DefaultSize = 10000

// New returns an empty book for at most size phones (0: DefaultSize).
func New(size int) *Book {
	if size <= 0 {
		size = DefaultSize
	}
	return &Book{max: size, phones: map[phone.MAC]*list.Element{}, byIP: map[netip.Addr]phone.MAC{}, pending: map[netip.Addr]*early{},
		fixed: map[phone.MAC]fixed{}, fixedAt: map[netip.Addr]phone.MAC{}, hold: DefaultHold}
}

// Restore fills in what the store kept of each phone.
func (b *Book) Restore(saved []Saved) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range saved {
		p := b.get(s.MAC)
		p.Model, p.Running = s.Model, s.Running
	}
}

func (b *Book) bind(p *Phone, ip netip.Addr) {
	if !ip.IsValid() || p.IP == ip && b.byIP[ip] == p.MAC {
		return
	}
	if b.byIP[p.IP] == p.MAC {
		delete(b.byIP, p.IP)
	}
	p.IP = ip
	b.byIP[ip] = p.MAC
}

// At is the phone whose address ip is: the one it is reserved or leased
// to, else the one last seen there.
func (b *Book) At(ip netip.Addr) (phone.MAC, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.at(ip)
}

func (b *Book) at(ip netip.Addr) (phone.MAC, bool) {
	if mac, ok := b.fixedAt[ip]; ok {
		return mac, true
	}
	mac, ok := b.byIP[ip]
	return mac, ok
}

// Attribute says which phone a request for name from ip is from, at
// now. A name with a MAC is that phone's when ip is its address or may
// become it (see Verdict); a name without one is the phone at ip. An old
// 7940/7960 begins its boot with OS79XX.TXT, before any file that names
// it: what that showed is kept by address and given to the phone its next
// request names.
func (b *Book) Attribute(n phone.Name, ip netip.Addr, now time.Time) Attribution {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !n.HasMAC {
		mac, ok := b.at(ip)
		if !ok {
			b.early(ip, n)
			return Attribution{}
		}
		if e, ok := b.phones[mac]; ok && e.Value.(*Phone).IP == ip {
			e.Value.(*Phone).heard = now // a download keeps its hold
		}
		return Attribution{MAC: mac, Verdict: Own}
	}
	if a, foreign := b.foreign(n.MAC, ip, now); foreign {
		return a
	}
	p := b.get(n.MAC)
	b.bind(p, ip)
	p.heard = now
	if e, ok := b.pending[ip]; ok {
		delete(b.pending, ip)
		if e.boot != phone.BootUnseen {
			p.Boot, p.ITL = e.boot, false
		}
		if e.proto != "" {
			p.Protocol = e.proto
		}
		p.Asked = append(e.asked, p.Asked...)
	}
	return Attribution{MAC: n.MAC, Verdict: Own}
}

// early is what requests from an address showed before a file named the
// phone there: the boot they began (an old 7940/7960 starts with
// OS79XX.TXT), and the transfers that ended (a 79x1 after a factory reset
// fetches termNN.default.loads and its components first).
type early struct {
	boot  phone.Boot
	proto string // the protocol its files showed (SIPDefault.cnf, SEPDefault.cnf)
	asked []Asked
}

// maxPending bounds the addresses kept before their phone is known, and
// maxEarly the transfers kept for each.
const (
	maxPending = 4096
	maxEarly   = 16
)

// pend returns ip's early record, making room when the table is full.
// Called with b.mu held.
func (b *Book) pend(ip netip.Addr) *early {
	e, ok := b.pending[ip]
	if !ok {
		if len(b.pending) >= maxPending {
			for k := range b.pending { // any one: a flood of addresses loses some
				delete(b.pending, k)
				break
			}
		}
		e = &early{}
		b.pending[ip] = e
	}
	return e
}

// early notes what an unattributed request showed: the boot an
// OS79XX.TXT or 79XX.TXT begins, the protocol a default config shows.
// Called with b.mu held.
func (b *Book) early(ip netip.Addr, n phone.Name) {
	switch n.Kind {
	case phone.KindOSImage:
		e := b.pend(ip)
		e.boot, e.asked = phone.BootOS79XX, e.asked[:0] // a new boot
		if n.OldSIP {
			e.boot, e.proto = phone.Boot79XX, "SIP"
		}
	case phone.KindSIPDefault:
		b.pend(ip).proto = "SIP"
	case phone.KindLegacyConfig:
		b.pend(ip).proto = "SCCP"
	}
}

// Early is what requests from ip showed while no phone is known there:
// the boot they began and the protocol of the files they asked for.
func (b *Book) Early(ip netip.Addr) (phone.Boot, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.pending[ip]; ok {
		return e.boot, e.proto
	}
	return phone.BootUnseen, ""
}

// Unattributed keeps a transfer from an address of no known phone, ended,
// for the phone a later request from ip names.
func (b *Book) Unattributed(ip netip.Addr, a Asked) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, known := b.byIP[ip]; known {
		return
	}
	e := b.pend(ip)
	if len(e.asked) < maxEarly {
		e.asked = append(e.asked, a)
	}
}

// Learn records the model a phone showed (DHCP vendor class, its
// factory-reset load list, CDP).
func (b *Book) Learn(mac phone.MAC, m phone.Model) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.get(mac).Model = m
}

// Get returns a copy of what is known of mac; false if nothing is.
func (b *Book) Get(mac phone.MAC) (Phone, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.phones[mac]
	if !ok {
		return Phone{MAC: mac}, false
	}
	return *e.Value.(*Phone), true
}

// Update runs f on mac's state under the book's lock (creating it if
// needed) and returns what f returned. f must not block or call the book.
func Update[T any](b *Book, mac phone.MAC, f func(*Phone) T) T {
	b.mu.Lock()
	defer b.mu.Unlock()
	return f(b.get(mac))
}

// Len is how many phones the book holds.
func (b *Book) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.phones)
}

// get returns mac's entry, moved to the front; a new one evicts the
// phone touched longest ago when the book is full. The inventory's phones
// are in a list of their own (SetInventory), never evicted: no flood of
// made-up phones makes phoneboot forget a real one. Called with b.mu
// held.
func (b *Book) get(mac phone.MAC) *Phone {
	if e, ok := b.phones[mac]; ok {
		b.order.MoveToFront(e) // a no-op for the inventory's
		return e.Value.(*Phone)
	}
	for b.order.Len() >= b.max {
		old := b.order.Back()
		p := old.Value.(*Phone)
		b.order.Remove(old)
		delete(b.phones, p.MAC)
		if b.byIP[p.IP] == p.MAC {
			delete(b.byIP, p.IP)
		}
	}
	p := &Phone{MAC: mac}
	b.phones[mac] = b.order.PushFront(p)
	return p
}
