// Package ratelimit limits requests per key (a source address, a MAC)
// with one token bucket each, in a table that stays bounded under a flood
// of spoofed keys. The TFTP, DHCP and syslog servers share it.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a per-key rate limit. The zero value is not usable: use New.
type Keyed[K comparable] struct {
	rate  rate.Limit
	burst int
	max   int

	mu       sync.Mutex
	keys     map[K]*entry
	swept    time.Time
	overflow *rate.Limiter // shared by keys that find the table full
}

type entry struct {
	lim        *rate.Limiter
	last, told time.Time
}

// New allows perSecond events per key with bursts of burst, tracking at
// most max keys (beyond that, new keys share one bucket ten times as big).
func New[K comparable](perSecond float64, burst, max int) *Keyed[K] {
	burst = maxInt(burst, 1)
	return &Keyed[K]{rate: rate.Limit(perSecond), burst: burst, max: max, keys: map[K]*entry{},
		overflow: rate.NewLimiter(rate.Limit(10*perSecond), 10*burst)}
}

// Allow reports whether key may go on at now. tell is true when it may
// not and the caller has not been told so for key within the last
// second: answer (or log) once a second, then stay silent.
func (k *Keyed[K]) Allow(key K, now time.Time) (ok, tell bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.swept) > time.Minute || len(k.keys) >= k.max && now.Sub(k.swept) > time.Second {
		// Forget keys idle long enough to have refilled their bucket.
		for key, e := range k.keys {
			if now.Sub(e.last) > time.Minute {
				delete(k.keys, key)
			}
		}
		k.swept = now
	}
	e := k.keys[key]
	if e == nil {
		if len(k.keys) >= k.max {
			return k.overflow.AllowN(now, 1), false
		}
		e = &entry{lim: rate.NewLimiter(k.rate, k.burst)}
		k.keys[key] = e
	}
	e.last = now
	if e.lim.AllowN(now, 1) {
		return true, false
	}
	if now.Sub(e.told) < time.Second {
		return false, false
	}
	e.told = now
	return false, true
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
