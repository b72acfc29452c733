package fleet

import (
	"sync"

	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

// maxCached bounds a Cache: phones past it (a store that holds more
// than the inventory and the cap on unknown phones allow) are read on
// every call.
const maxCached = 100_000

// Cache keeps, from one call of Fleet.Phones to the next, each phone's
// timeline as track read it (track.Analysis: no events, only what was
// derived from them), so that a front end that lists the phones again
// and again (the dashboard, the API) reads and analyses only the phones
// that changed: those that got events since the last call, lost events
// to a prune, or whose row or config changed. It is judged afresh at
// every call, so time-dependent findings ("quiet for 5m") stay exact.
//
// A Cache belongs to whoever serves the fleet view, for as long as it
// serves one store; Fleets of that store share it (it is safe for
// concurrent use: calls take turns). It holds only the phones the
// store had at the last call, at most maxCached.
type Cache struct {
	mu     sync.Mutex
	mark   store.Mark // where the events stood at the last call
	marked bool       // there was a last call
	phones map[phone.MAC]*analysis
}

// NewCache returns an empty Cache.
func NewCache() *Cache { return &Cache{} }

// analysis is a phone's analysed timeline and what it was made from.
type analysis struct {
	in     inputs
	events bool           // the timeline had events
	first  store.EventKey // its first (oldest) one
	a      track.Analysis
}

// inputs are what an analysis depends on besides the phone's events.
type inputs struct {
	lastSeen        int64 // unix ms, as stored
	running, target string
	settings        track.Settings
}
