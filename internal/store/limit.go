package store

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"phoneboot/internal/phone"
)

// limitKey is what the Writer's rate limit counts: a phone, or the source
// address of an event of no phone.
type limitKey struct {
	mac phone.MAC
	ip  netip.Addr
}

// limiter is a token bucket per key for at most max keys. Past max, the
// key used longest ago is forgotten (in constant time): made-up keys
// cannot grow it, and a key that floods, being always the one just used,
// keeps its empty bucket. (internal/ratelimit instead makes new keys
// share one bucket when full, which under a flood of made-up MACs would
// drop every real phone's first events too.)
type limiter struct {
	rate, burst float64
	max         int

	mu    sync.Mutex
	keys  map[limitKey]*list.Element // of *bucket
	order list.List                  // front: used last
}

type bucket struct {
	key    limitKey
	tokens float64
	at     time.Time
}

func newLimiter(perSecond, burst float64, keys int) *limiter {
	return &limiter{rate: perSecond, burst: max(burst, 1), max: keys, keys: map[limitKey]*list.Element{}}
}

// allow takes a token from k's bucket at now; false: none left.
func (l *limiter) allow(k limitKey, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.keys[k]
	if ok {
		l.order.MoveToFront(e)
		b := e.Value.(*bucket)
		b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
		b.at = now
	} else {
		b := &bucket{}
		if l.order.Len() >= l.max {
			// The oldest bucket is reused for the new key.
			e = l.order.Back()
			b = e.Value.(*bucket)
			delete(l.keys, b.key)
			l.order.MoveToFront(e)
		} else {
			e = l.order.PushFront(b)
		}
		*b = bucket{key: k, tokens: l.burst, at: now}
		l.keys[k] = e
	}
	b := e.Value.(*bucket)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
