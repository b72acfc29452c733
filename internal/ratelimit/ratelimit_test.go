package ratelimit

import (
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestKeyed(t *testing.T) {
	now := t0
	k := New[string](10, 3, 4)
	for i := range 3 {
		if ok, _ := k.Allow("a", now); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if ok, tell := k.Allow("a", now); ok || !tell {
		t.Fatalf("over the burst: ok %v tell %v, want refused and told", ok, tell)
	}
	if ok, tell := k.Allow("a", now.Add(10*time.Millisecond)); ok || tell {
		t.Fatalf("again within a second: ok %v tell %v, want refused silently", ok, tell)
	}
	if ok, _ := k.Allow("a", now.Add(200*time.Millisecond)); !ok {
		t.Fatal("refilled token refused")
	}
	if ok, tell := k.Allow("a", now.Add(1100*time.Millisecond)); !ok || tell {
		// 0.9 s refilled 9 tokens, capped at 3.
		t.Fatalf("after a second: ok %v tell %v", ok, tell)
	}
	if ok, _ := k.Allow("b", now); !ok {
		t.Fatal("another key is limited by the first")
	}
	// A flood of new keys: the table stays at its bound.
	for i := range 1000 {
		k.Allow(string(rune('c'+i)), now)
	}
	if k.keys() > 4 || len(k.slots) > 4 {
		t.Fatalf("table grew to %d keys (%d slots), bound 4", k.keys(), len(k.slots))
	}
}

// addr is the i-th address of 10.0.0.0/8.
func addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// storm runs keys phones booting at perSecond new phones a second, each
// sending msgs messages gap apart (a DHCP client: DISCOVER, REQUEST and a
// retry or two), and one flooder sending every floodEvery when it is
// positive. It returns the storm's refusals and the flooder's passes.
func storm(k *Keyed[netip.Addr], keys, perSecond, msgs int, gap, floodEvery time.Duration) (refused, flooderOK, flooderSent int) {
	// The events in time order: phone i starts at i/perSecond.
	start := time.Second / time.Duration(perSecond)
	end := time.Duration(keys)*start + time.Duration(msgs)*gap
	next := time.Duration(0)
	flooder := netip.MustParseAddr("192.0.2.66")
	for i := range keys {
		base := time.Duration(i) * start
		for m := range msgs {
			at := base + time.Duration(m)*gap
			for floodEvery > 0 && next <= at && next < end {
				flooderSent++
				if ok, _ := k.Allow(flooder, t0.Add(next)); ok {
					flooderOK++
				}
				next += floodEvery
			}
			if ok, _ := k.Allow(addr(i), t0.Add(at)); !ok {
				refused++
			}
		}
	}
	return refused, flooderOK, flooderSent
}

// A storm of 50,000 phones at 2,000 a second, four messages each: none
// refused, in a table of MaxKeys and in one of 4,096 (where keys whose
// bucket has refilled make room).
func TestStormAllAllowed(t *testing.T) {
	for _, size := range []int{MaxKeys, 4096} {
		k := NewAddr(10, 20, size)
		refused, _, _ := storm(k, 50_000, 2000, 4, 5*time.Millisecond, 0)
		if refused != 0 {
			t.Errorf("table of %d: %d of the storm's 200,000 messages refused", size, refused)
		}
		if k.keys() > size {
			t.Errorf("table of %d holds %d keys", size, k.keys())
		}
	}
}

// One key sending 1,000 a second during the storm gets its burst and its
// rate, no more; the storm's keys all pass.
func TestMisbehavingKeyLimited(t *testing.T) {
	k := NewAddr(10, 20, MaxKeys)
	refused, ok, sent := storm(k, 20_000, 2000, 4, 5*time.Millisecond, time.Millisecond)
	if refused != 0 {
		t.Errorf("%d storm messages refused", refused)
	}
	secs := float64(sent) / 1000
	if want := 20 + 10*secs + 1; float64(ok) > want || float64(ok) < want-2 {
		t.Errorf("the flooder passed %d of %d in %.1f s, want about %.0f (burst 20 + 10/s)", ok, sent, secs, want)
	}
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The memory of a full table of addresses, said per key (docs/security.md
// quotes it).
func TestMemoryPerKey(t *testing.T) {
	before := heap()
	k := NewAddr(20, 50, MaxKeys)
	for i := range MaxKeys {
		k.Allow(addr(i), t0)
	}
	used := heap() - before
	per := float64(used) / MaxKeys
	t.Logf("%d addresses: %.1f MB, %.0f bytes a key", MaxKeys, float64(used)/1e6, per)
	if per > 200 {
		t.Errorf("%.0f bytes a key, want at most 200", per)
	}
	runtime.KeepAlive(k)
}

// A flood of 1,000,000 made-up addresses, as fast as they can be sent:
// the table stays at its bound, memory with it (the index map grows once,
// from the tombstones of evicted keys, then stays), Allow allocates
// nothing once the table is full, and a phone known before the flood,
// sending at its pace through it, is never refused.
func TestFloodBounded(t *testing.T) {
	before := heap()
	k := NewAddr(10, 20, MaxKeys)
	phone := netip.MustParseAddr("10.200.0.7")
	at := t0
	k.Allow(phone, at)
	rng := rand.New(rand.NewPCG(1, 2))
	made := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(rng.IntN(223) + 1), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	flood := func(n int) (refused int) {
		for i := range n {
			at = at.Add(time.Microsecond) // a million new keys a second
			k.Allow(made(), at)
			if i%150_000 == 0 { // the phone, every 150 ms
				if ok, _ := k.Allow(phone, at); !ok {
					refused++
				}
			}
		}
		return refused
	}
	if r := flood(1_000_000); r != 0 {
		t.Errorf("the known phone was refused %d times during the flood", r)
	}
	if k.keys() != MaxKeys || len(k.slots) != MaxKeys {
		t.Errorf("table at %d keys, %d slots; bound %d", k.keys(), len(k.slots), MaxKeys)
	}
	after := heap()
	flood(2_000_000)
	again := heap()
	t.Logf("limiter of %d keys after a flood of 1,000,000: %.1f MB; after 2,000,000 more: %.1f MB",
		MaxKeys, float64(after-before)/1e6, float64(again-before)/1e6)
	if again > after+1<<20 {
		t.Errorf("heap grew from %d to %d bytes during 2,000,000 more keys", after, again)
	}
	if used := after - before; used > 200*MaxKeys {
		t.Errorf("limiter uses %d bytes, want at most 200 a key", used)
	}
	allocs := testing.AllocsPerRun(10_000, func() {
		at = at.Add(time.Microsecond)
		k.Allow(made(), at)
	})
	if allocs > 0.01 {
		t.Errorf("Allow of a new key, table full: %.3f allocations a call", allocs)
	}
	runtime.KeepAlive(k)
}

// A flood ten times faster than buckets refill fills the table with keys
// that cannot be forgotten yet; new keys then share their group's bucket,
// which the flood uses up. A phone known before it, in the same /64 as
// the flood, sending every 100 ms (its rate) keeps its own bucket, and
// so is never refused. (One quiet for longer than a bucket's refill is
// forgotten, and on its return shares its group's bucket: docs/security.md.)
func TestFastFloodKeepsKnownKey(t *testing.T) {
	k := NewAddr(10, 20, 10_000)
	phone := netip.MustParseAddr("2001:db8::7")
	flood := func(i int) netip.Addr {
		b := phone.As16()
		b[8], b[9], b[10], b[11] = 1, byte(i>>16), byte(i>>8), byte(i)
		return netip.AddrFrom16(b)
	}
	at := t0
	for j := range 3 {
		k.Allow(phone, at.Add(time.Duration(j)*time.Millisecond))
	}
	refused := 0
	for i := range 12_000_000 {
		at = at.Add(100 * time.Nanosecond) // ten million new keys a second
		k.Allow(flood(i), at)
		if i%1_000_000 == 0 { // every 100 ms
			if ok, _ := k.Allow(phone, at); !ok {
				refused++
			}
		}
	}
	if refused != 0 {
		t.Errorf("the known phone was refused %d times", refused)
	}
}

// When the table is full of keys still refilling, new keys share their
// group's bucket: a /24 flooding uses up its own, not another's.
func TestSharedBucketPerSubnet(t *testing.T) {
	hostile, other := netip.MustParseAddr("10.1.1.0"), netip.MustParseAddr("10.2.2.0")
	var k *Keyed[netip.Addr]
	for {
		// The two groups' buckets differ unless the random seed
		// hashes them together (1 in 1,024): draw again then.
		k = NewAddr(1.0/3600, 2, 8)
		if k.sharedFor(hostile) != k.sharedFor(other) {
			break
		}
	}
	for i := range 8 { // busy keys: a token each spent, an hour to refill
		k.Allow(addr(1000+i), t0)
	}
	passed := 0
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, 1, 1, byte(i)})
		if ok, tell := k.Allow(a, t0); ok {
			passed++
		} else if tell {
			t.Fatal("a refusal from a shared bucket is told")
		}
	}
	if passed != 20 { // ten times a key's burst
		t.Errorf("the hostile /24 passed %d, want its shared burst of 20", passed)
	}
	if ok, _ := k.Allow(netip.AddrFrom4([4]byte{10, 2, 2, 9}), t0); !ok {
		t.Error("a new key of another /24 is refused: the hostile one starved it")
	}
	if g := Subnet(netip.MustParseAddr("::ffff:10.1.1.200")); g != Subnet(hostile) {
		t.Error("an IPv4-mapped address is not in its /24")
	}
	if Subnet(netip.MustParseAddr("2001:db8::1")) != Subnet(netip.MustParseAddr("2001:db8::ffff:1")) ||
		Subnet(netip.MustParseAddr("2001:db8::1")) == Subnet(netip.MustParseAddr("2001:db8:0:1::1")) {
		t.Error("IPv6 groups are not /64s")
	}
}

// A new key takes the place of the key seen longest ago, and only once
// that key's bucket is full again.
func TestEvictionOrder(t *testing.T) {
	k := New[string](10, 2, 3) // a spent token refills in 100 ms
	k.Allow("a", t0)
	k.Allow("b", t0.Add(time.Millisecond))
	k.Allow("c", t0.Add(2*time.Millisecond))
	k.Allow("a", t0.Add(3*time.Millisecond)) // a is now the newest: b the oldest
	if ok, _ := k.Allow("d", t0.Add(50*time.Millisecond)); !ok {
		t.Fatal("d refused: the shared bucket is full")
	}
	if k.has("d") {
		t.Fatal("d evicted b while b's bucket was refilling")
	}
	k.Allow("d", t0.Add(150*time.Millisecond)) // b has refilled
	if k.has("b") {
		t.Fatal("b, the oldest and refilled, was kept")
	}
	for _, key := range []string{"a", "c", "d"} {
		if !k.has(key) {
			t.Errorf("%s evicted; want only b gone", key)
		}
	}
	// Now c is the oldest (a, d newer).
	k.Allow("e", t0.Add(300*time.Millisecond))
	if k.has("c") {
		t.Error("c, now the oldest, was kept")
	}
	if k.oldest < 0 || k.slots[k.oldest].key != "a" || k.slots[k.newest].key != "e" {
		t.Errorf("LRU order wrong: oldest %q newest %q", k.slots[k.oldest].key, k.slots[k.newest].key)
	}
	// A key still refilling at the tail (a flooder gone quiet) does not
	// stop the table turning over: the next oldest refilled one goes.
	k = New[string](10, 2, 3)
	for range 5 {
		k.Allow("flooder", t0)
	}
	k.Allow("x", t0.Add(time.Millisecond))
	k.Allow("y", t0.Add(2*time.Millisecond))
	k.Allow("z", t0.Add(150*time.Millisecond))
	if !k.has("flooder") || k.has("x") || !k.has("y") || !k.has("z") {
		t.Errorf("want x gone and the refilling flooder kept: flooder %v x %v y %v z %v",
			k.has("flooder"), k.has("x"), k.has("y"), k.has("z"))
	}
}

// Many goroutines at once (run with -race): the table stays consistent.
func TestConcurrent(t *testing.T) {
	k := NewAddr(100, 10, 500)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				k.Allow(addr(g*1000+i%1000), t0.Add(time.Duration(i)*time.Millisecond))
			}
		})
	}
	wg.Wait()
	if k.keys() > 500 {
		t.Fatalf("%d keys, bound 500", k.keys())
	}
	n := 0
	for i := k.newest; i >= 0; i = k.slots[i].older {
		if j, ok := k.find(k.slots[i].key, k.slots[i].hash); !ok || j != i {
			t.Fatalf("slot %d not indexed as itself", i)
		}
		n++
	}
	if n != k.keys() {
		t.Fatalf("LRU list has %d slots, index %d keys", n, k.keys())
	}
}

// FuzzBucket checks the arithmetic: over any sequence of calls, a key is
// allowed at most burst + rate × elapsed (+1 for the float32 rounding),
// the tokens stay in [0, burst], and a key that waits long enough is
// allowed again.
func FuzzBucket(f *testing.F) {
	f.Add(10.0, uint8(20), []byte{0, 0, 0, 5, 200, 1, 0, 0, 255, 3})
	f.Add(1.0/60, uint8(3), []byte{1, 1, 1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, rate float64, burst uint8, gaps []byte) {
		if !(rate >= 0.001 && rate <= 1e5) || burst == 0 || len(gaps) > 2000 {
			t.Skip()
		}
		k := New[int](rate, int(burst), 4)
		at, ok := t0, 0
		for _, g := range gaps {
			at = at.Add(time.Duration(g) * time.Duration(g) * time.Microsecond)
			if a, _ := k.Allow(1, at); a {
				ok++
			}
			s := k.slots[0]
			if s.b.tokens < 0 || s.b.tokens > float32(burst) {
				t.Fatalf("tokens %v outside [0, %d]", s.b.tokens, burst)
			}
		}
		if max := float64(burst) + rate*at.Sub(t0).Seconds() + 1; float64(ok) > max {
			t.Fatalf("allowed %d, at most %.1f", ok, max)
		}
		if a, _ := k.Allow(1, at.Add(time.Duration(float64(time.Second)/rate)+time.Millisecond)); !a {
			t.Fatal("refused after a token's refill time")
		}
	})
}

// keys counts the indexed keys.
func (k *Keyed[K]) keys() int {
	n := 0
	for _, v := range k.index {
		if v != 0 {
			n++
		}
	}
	return n
}

func (k *Keyed[K]) has(key K) bool {
	_, ok := k.find(key, maphash.Comparable(k.seed, key))
	return ok
}
