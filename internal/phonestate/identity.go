package phonestate

import (
	"net/netip"
	"time"

	"phoneboot/internal/phone"
)

// A phone's address is its identity: TFTP has no other. Any host can ask
// for any name, so a request that names a phone is the phone's only when
// it comes from the phone's address, and only the phone's own requests
// change what the book knows of it (docs/security.md). An address becomes
// a phone's in one of three ways, strongest first:
//
//   - the inventory reserves it (the phone's ip, Reserve);
//   - phoneboot's DHCP server leased it to the phone (Lease);
//   - it was the first to name the phone ("first sight"), and stays the
//     phone's while requests keep coming from it, for the hold after the
//     last (SetHold).
//
// A phone with none of these is claimed by the next address that names
// it, unless that address is another phone's.

// Binding is how an address became a phone's.
type Binding uint8

const (
	BindNone     Binding = iota
	BindSight            // the first address that named the phone
	BindLease            // phoneboot's DHCP server leased it
	BindReserved         // the inventory's ip
)

func (b Binding) String() string {
	switch b {
	case BindSight:
		return "first sight"
	case BindLease:
		return "DHCP lease"
	case BindReserved:
		return "inventory ip"
	}
	return "none"
}

// Verdict says whose a request is.
type Verdict uint8

const (
	Unknown Verdict = iota // no phone is known at the address
	Own                    // the phone's own request
	Foreign                // it names a phone whose address is another
)

// Attribution is whose a request is. For a Foreign one, MAC is the phone
// it names and Bound the address that is that phone's, By how it became
// so; or, when Other is set, the sender's address Bound is phone Other's,
// so it may not claim this one.
type Attribution struct {
	MAC     phone.MAC
	Verdict Verdict
	Bound   netip.Addr
	By      Binding
	Other   phone.MAC
}

// fixed is a reserved or leased address.
type fixed struct {
	ip netip.Addr
	by Binding
}

// DefaultHold is how long a first-sight address stays a phone's after its
// last request: longer than a boot with a firmware download, shorter than
// a phone is usually away before it comes back at another address.
const DefaultHold = time.Hour

// maxLeases bounds the leased addresses kept: more than any pool
// phoneboot serves (DHCP bounds its own leases).
const maxLeases = 1 << 16

// SetHold sets the first-sight hold; 0 turns first-sight protection off:
// any address may take a phone not reserved or leased, as plain TFTP does.
func (b *Book) SetHold(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = max(d, 0)
}

// SetInventory names the inventory's phones, with the address each has
// reserved (the zero Addr: none), replacing the previous inventory. Its
// phones are never forgotten (get), and their reservations are their
// addresses.
func (b *Book) SetInventory(inv map[phone.MAC]netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for e := b.kept.Front(); e != nil; { // those that left it: among the others again
		next, p := e.Next(), e.Value.(*Phone)
		if _, ok := inv[p.MAC]; !ok {
			b.kept.Remove(e)
			p.kept = false
			b.phones[p.MAC] = b.order.PushFront(p)
		}
		e = next
	}
	for mac, ip := range inv {
		if p := b.get(mac); !p.kept {
			b.order.Remove(b.phones[mac])
			p.kept = true
			b.phones[mac] = b.kept.PushFront(p)
		}
		switch f := b.fixed[mac]; {
		case ip.IsValid() && f != (fixed{ip: ip, by: BindReserved}):
			b.fix(mac, fixed{ip: ip, by: BindReserved})
		case !ip.IsValid() && f.by == BindReserved:
			b.unfix(mac)
		}
	}
	for mac, f := range b.fixed {
		if _, ok := inv[mac]; !ok && f.by == BindReserved {
			b.unfix(mac)
		}
	}
}

// Lease records that phoneboot's DHCP server gave ip to mac. A reserved
// phone keeps its reservation.
func (b *Book) Lease(mac phone.MAC, ip netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !ip.IsValid() || b.fixed[mac].by == BindReserved {
		return
	}
	if other, ok := b.fixedAt[ip]; ok && other != mac && b.fixed[other].by == BindReserved {
		return // another phone's reserved address: not this one's
	}
	if _, ok := b.fixed[mac]; !ok && len(b.fixed) >= maxLeases {
		return
	}
	b.fix(mac, fixed{ip: ip, by: BindLease})
	b.bind(b.get(mac), ip)
}

// fix binds mac to f.ip, taking the address from any phone that had it.
// Called with b.mu held.
func (b *Book) fix(mac phone.MAC, f fixed) {
	if other, ok := b.fixedAt[f.ip]; ok && other != mac {
		delete(b.fixed, other)
	}
	b.unfix(mac)
	b.fixed[mac] = f
	b.fixedAt[f.ip] = mac
}

func (b *Book) unfix(mac phone.MAC) {
	if f, ok := b.fixed[mac]; ok {
		delete(b.fixed, mac)
		if b.fixedAt[f.ip] == mac {
			delete(b.fixedAt, f.ip)
		}
	}
}

// owner is the address that is mac's at now, and how; BindNone when no
// address is. Called with b.mu held.
func (b *Book) owner(mac phone.MAC, now time.Time) (netip.Addr, Binding) {
	if f, ok := b.fixed[mac]; ok {
		return f.ip, f.by
	}
	if e, ok := b.phones[mac]; ok && b.hold > 0 {
		if p := e.Value.(*Phone); p.IP.IsValid() && now.Sub(p.heard) < b.hold {
			return p.IP, BindSight
		}
	}
	return netip.Addr{}, BindNone
}

// foreign reports whether a request naming mac from ip is not the phone's:
// mac's address is another, or ip is another phone's. Called with b.mu
// held.
func (b *Book) foreign(mac phone.MAC, ip netip.Addr, now time.Time) (Attribution, bool) {
	if bound, by := b.owner(mac, now); by != BindNone {
		return Attribution{MAC: mac, Verdict: Foreign, Bound: bound, By: by}, bound != ip
	}
	if other, ok := b.at(ip); ok && other != mac {
		if bound, by := b.owner(other, now); by != BindNone && bound == ip {
			return Attribution{MAC: mac, Verdict: Foreign, Bound: ip, By: by, Other: other}, true
		}
	}
	return Attribution{}, false
}
