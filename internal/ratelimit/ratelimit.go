// Package ratelimit limits requests per key (a source address, a MAC)
// with one token bucket each, in a table that stays bounded under a flood
// of spoofed keys. The TFTP, DHCP, syslog and phone HTTP servers share it.
//
// It is shaped for storms, not floods: after a power cut tens of thousands
// of phones boot at once, each at a phone's pace, and none of them may be
// refused; a key that sends faster than its rate is limited, however few
// or many other keys there are. So:
//
//   - the table holds MaxKeys (100,000) keys in a compact entry each (a
//     float32 of tokens, an int64 of unix nanoseconds, LRU links), about
//     100 bytes a key with the index;
//   - beyond its size, a new key takes the place of the key seen longest
//     ago whose bucket is full again: forgetting it costs nothing, since
//     a new key starts with a full bucket too; a key still refilling is
//     never forgotten (a flooder cannot refill its bucket by making the
//     table turn over);
//   - only when the oldest keys are all still refilling (a flood of new
//     keys faster than a bucket refills) does a new key share a bucket, and
//     that bucket is its group's (a /24, a relay, an OUI: GroupBy), so a
//     flood from one subnet cannot starve the others. A known key keeps
//     its own bucket through any flood of new ones until its bucket is
//     full again (then forgetting it is harmless unless it comes back
//     while the flood still fills the table: it then shares its group's).
package ratelimit

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// MaxKeys is the table size every server uses: a campus of phones after a
// power cut fits in it with room to spare, in about 10 MB.
const MaxKeys = 100_000

// sharedBuckets is how many buckets the groups of keys that find the
// table full hash into (a random seed, so a sender cannot aim at
// another group's bucket).
const sharedBuckets = 1024

// Keyed is a per-key rate limit. The zero value is not usable: use New.
type Keyed[K comparable] struct {
	perNano float64 // tokens a nanosecond
	burst   float32
	max     int
	group   func(K) uint64 // nil: every key in one group

	mu     sync.Mutex
	index  []int32   // open addressing, linear probing: slot+1, 0 empty; at most half full
	slots  []slot[K] // grows to max, never beyond
	newest int32     // head of the LRU list: the key seen last; -1 when empty
	oldest int32     // its tail: the key seen longest ago
	seed   maphash.Seed
	shared [sharedBuckets]bucket // for new keys that find the table full of busy keys
}

// bucket is a token bucket: tokens as of last (unix nanoseconds). The
// zero bucket is full (it has refilled since 1970).
type bucket struct {
	tokens float32
	last   int64
}

// slot is one key's entry, linked in the LRU list by index.
type slot[K comparable] struct {
	key          K
	hash         uint64
	b            bucket
	told         int64 // when the key was last told it is refused
	newer, older int32 // -1: none
}

// New allows perSecond events per key with bursts of burst, tracking at
// most size keys (MaxKeys for a server's clients). New keys that find the
// table full of keys still refilling share a bucket ten times as big: one
// for all, or their group's when GroupBy names groups.
func New[K comparable](perSecond float64, burst, size int) *Keyed[K] {
	return &Keyed[K]{perNano: perSecond / 1e9, burst: float32(max(burst, 1)), max: max(size, 1),
		newest: -1, oldest: -1, seed: maphash.MakeSeed()}
}

// NewAddr is New for source addresses, grouped by Subnet.
func NewAddr(perSecond float64, burst, size int) *Keyed[netip.Addr] {
	return New[netip.Addr](perSecond, burst, size).GroupBy(Subnet)
}

// GroupBy sets the group of keys that share a bucket when the table is
// full of busy keys, and returns k. Call it before the first Allow.
func (k *Keyed[K]) GroupBy(group func(K) uint64) *Keyed[K] {
	k.group = group
	return k
}

// Subnet is an address's group: its /24 for IPv4 (IPv4-mapped included),
// its /64 for IPv6.
func Subnet(a netip.Addr) uint64 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return 1<<32 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	}
	b := a.As16()
	var g uint64
	for _, x := range b[:8] {
		g = g<<8 | uint64(x)
	}
	return g
}

// Allow reports whether key may go on at now. tell is true when it may
// not and the caller has not been told so for key within the last
// second: answer (or log) once a second, then stay silent. A key refused
// from its group's shared bucket is never told (it is likely spoofed, and
// an answer would go to whoever it names).
func (k *Keyed[K]) Allow(key K, now time.Time) (ok, tell bool) {
	t := now.UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	h := maphash.Comparable(k.seed, key)
	i, known := k.find(key, h)
	if !known {
		var fits bool
		if i, fits = k.place(key, h, t); !fits {
			return k.sharedFor(key).take(t, k.perNano*10, k.burst*10), false
		}
	}
	s := &k.slots[i]
	k.touch(i)
	if s.b.take(t, k.perNano, k.burst) {
		return true, false
	}
	if t-s.told < int64(time.Second) && t >= s.told {
		return false, false
	}
	s.told = t
	return false, true
}

// place gives key a slot with a full bucket: a new one while the table
// has room, else the slot of the oldest key whose bucket is full again,
// among the 16 oldest (so that one key still refilling at the tail, a
// flooder gone quiet, does not stop the table from turning over). When
// none of the 16 can go, key gets no slot.
func (k *Keyed[K]) place(key K, h uint64, t int64) (int32, bool) {
	i := int32(-1)
	if len(k.slots) < k.max {
		i = int32(len(k.slots))
		k.slots = append(k.slots, slot[K]{})
	} else {
		for j, steps := k.oldest, 0; j >= 0 && steps < 16; steps++ { // bounded: Allow stays O(1)
			if k.slots[j].b.level(t, k.perNano, k.burst) >= k.burst {
				i = j
				break
			}
			j = k.slots[j].newer
		}
		if i < 0 {
			return 0, false
		}
		k.unlink(i)
		k.remove(i)
	}
	k.slots[i] = slot[K]{key: key, hash: h, b: bucket{tokens: k.burst, last: t}, newer: -1, older: -1}
	k.insert(i)
	k.link(i)
	return i, true
}

// find returns key's slot.
func (k *Keyed[K]) find(key K, h uint64) (int32, bool) {
	if len(k.index) == 0 {
		return 0, false
	}
	mask := uint64(len(k.index) - 1)
	for p := h & mask; ; p = (p + 1) & mask {
		v := k.index[p]
		if v == 0 {
			return 0, false
		}
		if s := &k.slots[v-1]; s.hash == h && s.key == key {
			return v - 1, true
		}
	}
}

// insert indexes slot i, doubling the index past half full.
func (k *Keyed[K]) insert(i int32) {
	if 2*(len(k.slots)) > len(k.index) {
		old := k.index
		k.index = make([]int32, max(64, 2*len(old)))
		for _, v := range old {
			if v != 0 {
				k.put(v)
			}
		}
	}
	k.put(i + 1)
}

func (k *Keyed[K]) put(v int32) {
	mask := uint64(len(k.index) - 1)
	p := k.slots[v-1].hash & mask
	for k.index[p] != 0 {
		p = (p + 1) & mask
	}
	k.index[p] = v
}

// remove unindexes slot i, shifting back the entries after it that
// probed past it (no tombstones: the index never fills with them).
func (k *Keyed[K]) remove(i int32) {
	mask := uint64(len(k.index) - 1)
	p := k.slots[i].hash & mask
	for k.index[p] != i+1 {
		p = (p + 1) & mask
	}
	for q := p; ; {
		k.index[p] = 0
		for {
			q = (q + 1) & mask
			v := k.index[q]
			if v == 0 {
				return
			}
			// An entry whose home is cyclically in (p, q] stays.
			home := k.slots[v-1].hash & mask
			if p <= q && p < home && home <= q || p > q && (p < home || home <= q) {
				continue
			}
			k.index[p] = v
			p = q
			break
		}
	}
}

func (k *Keyed[K]) sharedFor(key K) *bucket {
	var g uint64
	if k.group != nil {
		g = k.group(key)
	}
	return &k.shared[maphash.Comparable(k.seed, g)%sharedBuckets]
}

// touch makes slot i the newest.
func (k *Keyed[K]) touch(i int32) {
	if k.newest != i {
		k.unlink(i)
		k.link(i)
	}
}

// link puts the unlinked slot i at the head.
func (k *Keyed[K]) link(i int32) {
	s := &k.slots[i]
	s.newer, s.older = -1, k.newest
	if k.newest >= 0 {
		k.slots[k.newest].newer = i
	}
	k.newest = i
	if k.oldest < 0 {
		k.oldest = i
	}
}

func (k *Keyed[K]) unlink(i int32) {
	s := &k.slots[i]
	if s.newer >= 0 {
		k.slots[s.newer].older = s.older
	} else if k.newest == i {
		k.newest = s.older
	}
	if s.older >= 0 {
		k.slots[s.older].newer = s.newer
	} else if k.oldest == i {
		k.oldest = s.newer
	}
	s.newer, s.older = -1, -1
}

// level is the bucket's tokens at t, at most burst. A clock that went
// back refills nothing.
func (b *bucket) level(t int64, perNano float64, burst float32) float32 {
	if t <= b.last {
		return min(b.tokens, burst)
	}
	v := float64(b.tokens) + float64(t-b.last)*perNano
	if v >= float64(burst) {
		return burst
	}
	return float32(v)
}

// take spends a token at t if there is one. A refusal stores nothing, so
// that calls close together do not round the refill away in float32.
func (b *bucket) take(t int64, perNano float64, burst float32) bool {
	v := b.level(t, perNano, burst)
	if v < 1 {
		return false
	}
	b.tokens, b.last = v-1, max(t, b.last)
	return true
}
