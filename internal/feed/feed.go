// Package feed hands the events phoneboot records, as they happen, to
// those watching live (the dashboard's server-sent events). Publishing
// never blocks: a watcher that falls behind loses events, and counts
// them, so a slow browser cannot slow a boot storm.
package feed

import (
	"errors"
	"sync"
	"sync/atomic"

	"phoneboot/internal/event"
)

// Hub is the live feed. The zero value is not usable: use New.
type Hub struct {
	max  int
	mu   sync.RWMutex // Publish reads; Subscribe and Unsubscribe (which closes) write
	subs map[*Sub]struct{}
}

// Sub is one watcher: C delivers the events in order.
type Sub struct {
	C    <-chan event.Event
	c    chan event.Event
	lost atomic.Int64
}

// Lost is how many events the watcher missed because it fell behind.
func (s *Sub) Lost() int64 { return s.lost.Load() }

// ErrFull is Subscribe's answer when max watchers are watching.
var ErrFull = errors.New("too many live watchers")

// New returns a hub for at most max watchers at once.
func New(max int) *Hub { return &Hub{max: max, subs: map[*Sub]struct{}{}} }

// Subscribe adds a watcher whose channel holds buf events.
func (h *Hub) Subscribe(buf int) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, ErrFull
	}
	c := make(chan event.Event, max(buf, 1))
	s := &Sub{C: c, c: c}
	h.subs[s] = struct{}{}
	return s, nil
}

// Unsubscribe removes s; its channel is closed.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
	}
}

// Publish gives ev to every watcher with room for it.
func (h *Hub) Publish(ev event.Event) {
	// Shared: the services' goroutines publish at once without waiting
	// for each other; a channel is closed only under the write lock.
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		select {
		case s.c <- ev:
		default:
			s.lost.Add(1)
		}
	}
}
