package tftptest

import (
	"sync"

	"phoneboot/internal/tftp"
)

// Recorder keeps every Event a server emits. Its Add is meant for
// Server.OnEvent: it never blocks.
type Recorder struct {
	mu      sync.Mutex
	evs     []tftp.Event
	changed chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

// Add records ev and wakes whoever waits on a Snapshot's channel.
func (r *Recorder) Add(ev tftp.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	close(r.changed)
	r.changed = make(chan struct{})
}

// Snapshot returns the events so far and a channel closed at the next one.
func (r *Recorder) Snapshot() ([]tftp.Event, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evs[:len(r.evs):len(r.evs)], r.changed
}
