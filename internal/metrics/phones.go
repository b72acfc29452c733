package metrics

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/fleet"
	"phoneboot/internal/track"
)

// phoneStates are the states phoneboot_phones counts: the fleet's (track's
// phases, and "never seen"), with hyphens for spaces; "other" (last)
// counts a state added to track but not here yet.
var phoneStates = func() []struct{ state, label string } {
	var out []struct{ state, label string }
	for _, s := range []string{track.PhaseBooting, track.PhaseConfig, track.PhaseUpgrade, track.PhaseReboot,
		track.PhaseUpToDate, track.PhaseStuck, track.PhaseQuiet, track.PhaseUnknown, fleet.NeverSeen, "other"} {
		out = append(out, struct{ state, label string }{s, strings.ReplaceAll(s, " ", "-")})
	}
	return out
}()

// stateIndex is state's place in phoneStates.
func stateIndex(state string) int {
	for i, s := range phoneStates[:len(phoneStates)-1] {
		if s.state == state {
			return i
		}
	}
	return len(phoneStates) - 1
}

// phoneCounts keeps the phones counted by state. Counting reads every
// phone's timeline (the fleet analysis), so it runs at most once per
// interval (from the end of the last count), on its own goroutine, only
// when a scrape asks; the scrape waits for it a bounded time and
// otherwise shows the last counts.
type phoneCounts struct {
	count       func(context.Context) (map[string]int, error)
	every, wait time.Duration
	log         *slog.Logger

	mu      sync.Mutex
	counts  []int         // by phoneStates
	at      time.Time     // when counts were taken; zero: never
	next    time.Time     // no count starts before
	running chan struct{} // closed when the count in progress ends; nil: none
}

// countTimeout bounds one count.
const countTimeout = time.Minute

func newPhoneCounts(count func(context.Context) (map[string]int, error), every, wait time.Duration, log *slog.Logger) *phoneCounts {
	if every <= 0 {
		every = 30 * time.Second
	}
	return &phoneCounts{count: count, every: every, wait: wait, log: log}
}

// get returns the counts by phoneStates and when they were taken; false
// when the phones have not been counted yet.
func (p *phoneCounts) get() ([]int, time.Time, bool) {
	p.mu.Lock()
	if p.running == nil && !time.Now().Before(p.next) {
		p.running = make(chan struct{})
		go p.refresh(p.running)
	}
	done := p.running
	p.mu.Unlock()
	if done != nil {
		t := time.NewTimer(p.wait)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts, p.at, !p.at.IsZero()
}

func (p *phoneCounts) refresh(done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	start := time.Now()
	byState, err := p.count(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running, p.next = nil, time.Now().Add(p.every)
	if err != nil {
		p.log.Warn("metrics: counting the phones by state", "err", err)
		return
	}
	counts := make([]int, len(phoneStates))
	for state, n := range byState {
		counts[stateIndex(state)] += n
	}
	p.counts, p.at = counts, start
}
