package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"phoneboot/internal/event"
)

// maxBatch bounds one Record transaction, so that a flood of events does
// not hold SQLite's write lock (and the CLI) for long.
const maxBatch = 512

// Writer queues events for Record without ever blocking the caller: protocol
// servers report events from their hot paths and must not wait for a disk
// or for another process holding the database lock. One goroutine flushes
// the queue in batches, every flushEvery or when a batch is full. When the
// queue is full, Add drops the event and counts it.
type Writer struct {
	s       *Store
	log     *slog.Logger
	every   time.Duration
	batch   int
	ch      chan event.Event
	dropped atomic.Uint64
	done    chan struct{} // closed when the goroutine has flushed and exited
	err     error         // of the last flush; read after done

	// mu orders Add's send against Close's close(ch): Add holds it shared
	// (never waiting on the database), Close exclusively for an instant.
	mu     sync.RWMutex
	closed bool
}

// NewWriter starts a Writer with room for queue events. A queue of 0 or less
// means 4096, a flushEvery of 0 or less means one second, a nil log discards.
func NewWriter(s *Store, queue int, flushEvery time.Duration, log *slog.Logger) *Writer {
	if queue <= 0 {
		queue = 4096
	}
	if flushEvery <= 0 {
		flushEvery = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		s:     s,
		log:   log,
		every: flushEvery,
		batch: min(queue, maxBatch),
		ch:    make(chan event.Event, queue),
		done:  make(chan struct{}),
	}
	go w.run()
	return w
}

// Add queues ev; false means it was dropped (queue full, or Writer closed).
func (w *Writer) Add(ev event.Event) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.closed {
		select {
		case w.ch <- ev:
			return true
		default:
		}
	}
	w.dropped.Add(1)
	return false
}

// Dropped is how many events Add has dropped.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Close flushes what is queued and stops the goroutine. It returns the error
// of the last flush, if that failed.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	<-w.done
	return w.err
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	batch := make([]event.Event, 0, w.batch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// Not cancelled by anything: Close must be able to finish the job,
		// and busy_timeout bounds the wait for a lock.
		w.err = w.s.Record(context.Background(), batch)
		if w.err != nil {
			// Nowhere to hand them back to: say how many were lost.
			w.log.Error("store: events lost", "count", len(batch), "err", w.err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case ev, ok := <-w.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, ev)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}
