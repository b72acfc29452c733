package discovery

import (
	"container/list"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/printable"
	"phoneboot/internal/ratelimit"
)

// Feeder teaches the phone book what phones say of themselves in CDP and
// LLDP: their model, the load they run, their address. A phone repeats
// its frame every 60 s; the feeder records an event only when what it
// says changed.
//
// The network lies, so:
//   - a frame whose device ID names another MAC than the one it was sent
//     from teaches nothing (it would speak for another phone);
//   - an address that is another phone's is not taken (binding is
//     identity's business: the feeder never binds an address);
//   - what it remembers is bounded (MaxNeighbors, least recently heard
//     forgotten first), phones the book does not know yet are learnt at
//     NewPhonesPerMinute, and each phone's changes at ChangesPerMinute:
//     a sender making up a device ID per frame costs a bounded table and
//     a trickle of events.
type Feeder struct {
	Book   *phonestate.Book
	Record func(event.Event)
	Log    *slog.Logger

	once      sync.Once
	mu        sync.Mutex
	seen      map[phone.MAC]*list.Element // of *said
	order     list.List
	perPhone  *ratelimit.Keyed[phone.MAC]
	newPhones *rate.Limiter
	ignored   int // frames naming another MAC than their source
	limited   int // changes not recorded for a rate limit
	toldAt    time.Time
}

// Bounds of a Feeder.
const (
	MaxNeighbors       = 4096
	NewPhonesPerMinute = 30
	ChangesPerMinute   = 6
)

type said struct {
	mac                phone.MAC
	model, load, proto string
	addr               netip.Addr
}

func (f *Feeder) init() {
	f.once.Do(func() {
		f.seen = map[phone.MAC]*list.Element{}
		f.perPhone = ratelimit.New[phone.MAC](ChangesPerMinute/60.0, ChangesPerMinute, MaxNeighbors)
		f.newPhones = rate.NewLimiter(rate.Limit(NewPhonesPerMinute/60.0), NewPhonesPerMinute)
		if f.Log == nil {
			f.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Hear takes one decoded frame heard at now.
func (f *Feeder) Hear(n Neighbor, now time.Time) {
	f.init()
	if !n.IsPhone() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !n.OwnMAC() {
		f.ignored++
		f.tell(now)
		return
	}
	now1 := said{mac: n.MAC, model: n.Model, load: loadOf(n.Software), proto: n.Protocol, addr: f.addrOf(n)}
	before, known := f.remember(now1)
	if known && before == now1 {
		return
	}
	_, inBook := f.Book.Get(n.MAC)
	if (!inBook && !f.newPhones.AllowN(now, 1)) || !allow(f.perPhone, n.MAC, now) {
		// Not now: forget it, so that its next frame tries again.
		f.forget(n.MAC)
		f.limited++
		f.tell(now)
		return
	}
	if m, ok := phone.ModelByName(now1.model); ok && now1.model != "" {
		f.Book.Learn(n.MAC, m)
	}
	var running string
	if now1.load != "" {
		running = phonestate.Update(f.Book, n.MAC, func(p *phonestate.Phone) string {
			// A phone part way through downloading a load says the old
			// one until it reboots: provision knows better then.
			if p.Running == now1.load || p.FetchStarted() {
				return ""
			}
			p.Running = now1.load
			return now1.load
		})
	}
	f.Record(event.Event{Time: now, MAC: n.MAC, IP: now1.addr, Source: event.Source(n.Protocol), Kind: event.Neighbor,
		Facts: event.Facts{Model: now1.model, Running: running}, Detail: describe(n, before, known)})
}

func allow(k *ratelimit.Keyed[phone.MAC], mac phone.MAC, now time.Time) bool {
	ok, _ := k.Allow(mac, now)
	return ok
}

// addrOf is the first address n announces that is no other phone's.
// Called with f.mu held.
func (f *Feeder) addrOf(n Neighbor) netip.Addr {
	for _, a := range n.Addresses {
		if !a.IsGlobalUnicast() && !a.IsPrivate() {
			continue
		}
		if other, ok := f.Book.At(a); ok && other != n.MAC {
			continue
		}
		return a
	}
	return netip.Addr{}
}

// loadOf is the software version when it reads as a load ID.
func loadOf(sw string) string {
	if _, ok := phone.ParseLoadID(sw); ok {
		return sw
	}
	return ""
}

func describe(n Neighbor, before said, known bool) string {
	var parts []string
	if !known {
		parts = append(parts, "heard over "+strings.ToUpper(n.Protocol))
	}
	if n.Platform != "" {
		parts = append(parts, "platform "+printable.String(n.Platform))
	}
	if n.Software != "" {
		parts = append(parts, "software "+printable.String(n.Software))
	}
	if len(n.Addresses) > 0 {
		parts = append(parts, "address "+n.Addresses[0].String())
	}
	if n.PowerMW > 0 {
		parts = append(parts, fmt.Sprintf("power %.1f W", float64(n.PowerMW)/1000))
	}
	if n.VoiceVLANQuery {
		parts = append(parts, "asks for its voice VLAN")
	}
	return strings.Join(parts, "; ")
}

// remember stores s as what s.mac said last, returning what it said
// before. Called with f.mu held.
func (f *Feeder) remember(s said) (said, bool) {
	if e, ok := f.seen[s.mac]; ok {
		f.order.MoveToFront(e)
		before := *e.Value.(*said)
		*e.Value.(*said) = s
		return before, true
	}
	for f.order.Len() >= MaxNeighbors {
		old := f.order.Back()
		f.order.Remove(old)
		delete(f.seen, old.Value.(*said).mac)
	}
	v := s
	f.seen[s.mac] = f.order.PushFront(&v)
	return said{}, false
}

func (f *Feeder) forget(mac phone.MAC) {
	if e, ok := f.seen[mac]; ok {
		f.order.Remove(e)
		delete(f.seen, mac)
	}
}

// tell logs, at most once a minute, how many frames taught nothing.
// Called with f.mu held.
func (f *Feeder) tell(now time.Time) {
	if now.Sub(f.toldAt) < time.Minute {
		return
	}
	f.toldAt = now
	if f.ignored > 0 {
		f.Log.Warn("discovery: frames naming another phone than their sender ignored", "frames", f.ignored)
	}
	if f.limited > 0 {
		f.Log.Warn("discovery: changes not recorded (too many new phones or changes per phone)", "changes", f.limited)
	}
	f.ignored, f.limited = 0, 0
}

// Len is how many neighbors the feeder remembers.
func (f *Feeder) Len() int {
	f.init()
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}
