package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/store"
)

// Lease is one address in the lease store: see store.Lease.
type Lease = store.Lease

// LeaseConflict is PutLease refusing an address another node holds: see
// store.LeaseConflict.
type LeaseConflict = store.LeaseConflict

// Leases persists leases; *store.Store implements it, and MemLeases in
// memory. Several nodes may share one: each lease carries its node.
// NodeLeases is what the server of node loads at start (its own leases,
// and every node's declined addresses). PutLease stores a lease as the
// only one of its address and, unless Declined, of its MAC; an address
// another node holds is a *LeaseConflict, never overwritten. DeleteLease
// removes node's lease of mac. The server calls them one at a time.
type Leases interface {
	NodeLeases(ctx context.Context, node string) ([]Lease, error)
	PutLease(ctx context.Context, l Lease) error
	DeleteLease(ctx context.Context, node string, mac phone.MAC) error
}

// entry is one address the server knows of. It is held (no other client
// may get it) while the lease or the offer runs.
type entry struct {
	ip       netip.Addr
	mac      phone.MAC // zero when declined
	expires  time.Time // lease end (persisted); zero: only offered. Declined: end of the hold.
	offered  time.Time // end of the offer's hold (memory only); zero: none
	declined bool
	// other is the node that holds ip (its lease met in the store): held
	// until expires, mac zero, never persisted.
	other    string
	hostname string
	vclass   string
}

func (e *entry) held(now time.Time) bool {
	return now.Before(e.expires) || now.Before(e.offered)
}

func (e *entry) bound(now time.Time) bool {
	return !e.declined && e.other == "" && now.Before(e.expires)
}

func (e *entry) lease() Lease {
	return Lease{MAC: e.mac, IP: e.ip, Expires: e.expires, Hostname: e.hostname, VendorClass: e.vclass, Declined: e.declined}
}

// table is the server's view of the pool: one entry per address and per
// MAC. All changes go through put, the one place that keeps an address
// from being given to two clients. Callers hold the server's mutex.
type table struct {
	byIP  map[netip.Addr]*entry
	byMAC map[phone.MAC]*entry
}

func newTable() *table {
	return &table{byIP: map[netip.Addr]*entry{}, byMAC: map[phone.MAC]*entry{}}
}

var errInUse = errors.New("address in use")

// conflict returns the entry that keeps owner from taking ip now, or nil.
func (t *table) conflict(ip netip.Addr, owner phone.MAC, now time.Time) *entry {
	if cur := t.byIP[ip]; cur != nil && cur.held(now) && (cur.mac != owner || cur.declined) {
		return cur
	}
	return nil
}

// put makes n the entry of its address, on behalf of owner (n.mac, or the
// client declining n.ip): owner's previous entry and any stale entry of
// the address are forgotten. It fails if the address is held by anyone else.
func (t *table) put(n *entry, owner phone.MAC, now time.Time) error {
	if c := t.conflict(n.ip, owner, now); c != nil {
		return fmt.Errorf("%v: %w by %v", n.ip, errInUse, c.mac)
	}
	if old := t.byMAC[owner]; old != nil {
		delete(t.byMAC, owner)
		if t.byIP[old.ip] == old {
			delete(t.byIP, old.ip)
		}
	}
	if cur := t.byIP[n.ip]; cur != nil {
		delete(t.byIP, n.ip)
		if t.byMAC[cur.mac] == cur {
			delete(t.byMAC, cur.mac)
		}
	}
	t.byIP[n.ip] = n
	if !n.declined {
		t.byMAC[n.mac] = n
	}
	return nil
}

// elsewhere records that node holds ip until until (the store said so):
// whatever this server had for ip (an offer, a stale lease) is forgotten,
// and no client gets ip from here before then.
func (t *table) elsewhere(ip netip.Addr, node string, until time.Time) {
	if cur := t.byIP[ip]; cur != nil && t.byMAC[cur.mac] == cur {
		delete(t.byMAC, cur.mac)
	}
	t.byIP[ip] = &entry{ip: ip, other: node, expires: until}
}

// sweep forgets offers that ran out without a lease behind them, and
// holds of declined addresses that ended.
func (t *table) sweep(now time.Time) {
	for ip, e := range t.byIP {
		if (e.expires.IsZero() || e.declined || e.other != "") && !e.held(now) {
			delete(t.byIP, ip)
			if t.byMAC[e.mac] == e {
				delete(t.byMAC, e.mac)
			}
		}
	}
}

// verify checks the table's invariants (tests and fuzzing).
func (t *table) verify(now time.Time) error {
	for ip, e := range t.byIP {
		if e.ip != ip {
			return fmt.Errorf("entry of %v says %v", ip, e.ip)
		}
		if (e.declined || e.other != "") != (e.mac == phone.MAC{}) {
			return fmt.Errorf("entry of %v: declined %v, node %q, with MAC %v", ip, e.declined, e.other, e.mac)
		}
		if e.mac != (phone.MAC{}) && t.byMAC[e.mac] != e {
			return fmt.Errorf("entry of %v for %v is not that MAC's entry", ip, e.mac)
		}
	}
	for m, e := range t.byMAC {
		if e.mac != m || t.byIP[e.ip] != e {
			return fmt.Errorf("entry of MAC %v (%v) is not its address's", m, e.ip)
		}
	}
	return nil
}

// MemLeases is a Leases in memory, for tests, with the store's rules:
// one row per address and per MAC, another node's live row kept.
type MemLeases struct {
	mu   sync.Mutex
	byIP map[netip.Addr]Lease
	// Fail, when set, is returned by Put and Delete.
	Fail error
}

// NewMemLeases returns an empty MemLeases holding ls.
func NewMemLeases(ls ...Lease) *MemLeases {
	m := &MemLeases{byIP: map[netip.Addr]Lease{}}
	for _, l := range ls {
		m.byIP[l.IP] = l
	}
	return m
}

// Leases is every row.
func (m *MemLeases) Leases(context.Context) ([]Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Lease, 0, len(m.byIP))
	for _, l := range m.byIP {
		out = append(out, l)
	}
	return out, nil
}

// NodeLeases implements Leases.
func (m *MemLeases) NodeLeases(_ context.Context, node string) ([]Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Lease
	for _, l := range m.byIP {
		if l.Node == node || l.Declined {
			out = append(out, l)
		}
	}
	return out, nil
}

// PutLease implements Leases.
func (m *MemLeases) PutLease(_ context.Context, l Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	if (l.MAC == phone.MAC{}) != l.Declined || !l.IP.Is4() {
		return fmt.Errorf("put lease: bad lease %+v", l)
	}
	if o, ok := m.byIP[l.IP]; ok && o.Node != l.Node && (o.Declined || o.MAC != l.MAC || l.Declined) &&
		time.Now().Before(o.Expires) {
		return &LeaseConflict{IP: l.IP, Node: o.Node, Expires: o.Expires}
	}
	for ip, o := range m.byIP {
		if !l.Declined && !o.Declined && o.MAC == l.MAC {
			delete(m.byIP, ip)
		}
	}
	m.byIP[l.IP] = l
	return nil
}

// DeleteLease implements Leases.
func (m *MemLeases) DeleteLease(_ context.Context, node string, mac phone.MAC) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	for ip, o := range m.byIP {
		if !o.Declined && o.MAC == mac && o.Node == node {
			delete(m.byIP, ip)
		}
	}
	return nil
}
