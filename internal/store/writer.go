package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// maxBatch bounds one Record transaction, so that a flood of events does
// not hold SQLite's write lock (and the CLI) for long.
const maxBatch = 512

// What the network wrote is stored cut to these many bytes (a syslog line
// in Detail, a requested name in File), "…" marking the cut: RFC 3164's
// longest syslog message, and more than any name a phone asks for.
const (
	MaxDetail = 1024
	MaxFile   = 256
)

// pruneEvery is how often the retention is applied when no limit is
// passed before.
const pruneEvery = time.Hour

// maxLimited bounds the rate limit's table of phones and addresses (the
// one used longest ago is forgotten first), and the table of drops counted
// per phone between two flushes (a phone that finds it full has its drops
// counted only in Writer.Limited).
const maxLimited = 10000

// WriterOptions configure a Writer; the zero value is a queue of 4096
// events flushed every second, no limits, no log.
type WriterOptions struct {
	Queue      int
	FlushEvery time.Duration
	Log        *slog.Logger
	// Keep is applied when the Writer starts, every hour, and as soon as
	// a batch takes the unknown phones past Keep.UnknownMax (those are
	// evicted at once) or the events past Keep.EventsMax (then they are
	// pruned to 2% under it, so that pruning is not paid for every batch).
	Keep Retention
	// Rate limits the events stored per phone (per source address for
	// events of no phone) to Rate a second, in bursts of 10 seconds'
	// worth: a token bucket each, in a bounded table (limit.go). What it
	// drops is counted on the phone's row (Phone.Dropped). 0: no limit.
	Rate float64
	// Retry paces the attempts to store a batch while the store cannot be
	// reached (retry.go); the zero value is 100 ms doubling to 5 s, and 5 s
	// more at Close.
	Retry RetryOptions
}

// Writer queues events for Record without ever blocking the caller: protocol
// servers report events from their hot paths and must not wait for a disk
// or for another process holding the database lock. One goroutine flushes
// the queue in batches, every flushEvery or when a batch is full, and
// applies the retention. When the queue is full, Add drops the event and
// counts it.
type Writer struct {
	s       *Store
	log     *slog.Logger
	every   time.Duration
	batch   int
	keep    Retention
	ch      chan event.Event
	dropped atomic.Uint64
	done    chan struct{} // closed when the goroutine has flushed and exited
	err     error         // of the last flush; read after done
	// prunes is the context of pruning, cancelled by Close: the last
	// flush must finish, a long prune need not.
	prunes context.Context
	stop   context.CancelFunc

	limit   *limiter // nil: no rate limit
	limited atomic.Uint64
	written atomic.Uint64 // stored (stats.go)
	lost    atomic.Uint64 // in a batch the store refused
	// down is set while the store cannot be reached (retry.go): the
	// batch in hand waits for it, the queue is the buffer, and what Add
	// finds no room for is counted in outage, not dropped.
	down   atomic.Bool
	outage atomic.Uint64
	retry  RetryOptions
	giveUp time.Time // when Close's grace ends (retry.go); the goroutine's own
	dmu    sync.Mutex
	drops  map[phone.MAC]Dropped // since the last flush

	// mu orders Add's send against Close's close(ch): Add holds it shared
	// (never waiting on the database), Close exclusively for an instant.
	mu     sync.RWMutex
	closed bool
}

// NewWriter starts a Writer.
func NewWriter(s *Store, o WriterOptions) *Writer {
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		s:     s,
		log:   o.Log,
		every: o.FlushEvery,
		batch: min(o.Queue, maxBatch),
		keep:  o.Keep,
		ch:    make(chan event.Event, o.Queue),
		done:  make(chan struct{}),
		drops: map[phone.MAC]Dropped{},
		retry: o.Retry.withDefaults(),
	}
	w.prunes, w.stop = context.WithCancel(context.Background())
	if o.Rate > 0 {
		w.limit = newLimiter(o.Rate, 10*o.Rate, maxLimited)
	}
	go w.run()
	return w
}

// Add queues ev; false means it was dropped (rate limit, queue full, or
// Writer closed). Its Detail and File are cut to MaxDetail and MaxFile.
func (w *Writer) Add(ev event.Event) bool {
	// An event that says what the phone now runs is kept whatever the
	// rate: its phone's row keeps that for the next start, and provision
	// reports one per change of load.
	if w.limit != nil && ev.Facts.Running == "" {
		key := limitKey{mac: ev.MAC}
		if ev.MAC == (phone.MAC{}) {
			key.ip = ev.IP
		}
		if !w.limit.allow(key, time.Now()) {
			w.countLimited(ev.MAC)
			return false
		}
	}
	ev.Detail, ev.File = clip(ev.Detail, MaxDetail), clip(ev.File, MaxFile)
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.closed {
		select {
		case w.ch <- ev:
			return true
		default:
		}
	}
	if w.down.Load() {
		w.outage.Add(1)
	} else {
		w.dropped.Add(1)
	}
	return false
}

// clip cuts s to at most n bytes on a character boundary, "…" marking the
// cut. The result is a new string: a slice of it would keep the whole
// datagram it came from alive while the event waits in the queue.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// countLimited counts an event the rate limit dropped, on its phone.
func (w *Writer) countLimited(mac phone.MAC) {
	w.limited.Add(1)
	if mac == (phone.MAC{}) {
		return
	}
	now := time.Now()
	w.dmu.Lock()
	defer w.dmu.Unlock()
	d, ok := w.drops[mac]
	if !ok {
		if len(w.drops) >= maxLimited {
			return
		}
		d.First = now
	}
	d.Count++
	d.Last = now
	w.drops[mac] = d
}

// Dropped is how many events Add has dropped because the queue was full
// or the Writer closed (while the store was reachable: see Outage).
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Limited is how many events the rate limit has dropped.
func (w *Writer) Limited() uint64 { return w.limited.Load() }

// Close flushes what is queued and stops the goroutine. It returns the error
// of the last flush, if that failed.
func (w *Writer) Close() error {
	w.stop()
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
	stored := w.prune()
	t := time.NewTicker(w.every)
	defer t.Stop()
	hourly := time.NewTicker(pruneEvery)
	defer hourly.Stop()
	batch := make([]event.Event, 0, w.batch)
	flush := func() {
		if len(batch) > 0 {
			// Retried while the store cannot be reached, in order:
			// nothing behind this batch is stored before it.
			w.err = w.record(batch)
			if w.err != nil {
				// Nowhere to hand them back to: say how many were lost.
				w.log.Error("store: events lost", "count", len(batch), "err", w.err)
				w.lost.Add(uint64(len(batch)))
			} else {
				w.written.Add(uint64(len(batch)))
				stored += int64(len(batch))
				stored -= w.capUnknown(batch)
			}
			batch = batch[:0]
		}
		w.flushDrops()
		if w.keep.EventsMax > 0 && stored > int64(w.keep.EventsMax) {
			stored = w.prune()
		}
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
		case <-hourly.C:
			stored = w.prune()
		}
	}
}

// capUnknown evicts the unknown phones past the cap after a batch that
// may have added some, and returns how many events went with them.
func (w *Writer) capUnknown(batch []event.Event) int64 {
	if w.keep.UnknownMax <= 0 {
		return 0
	}
	for _, ev := range batch {
		if ev.MAC != (phone.MAC{}) {
			got, err := w.s.CapUnknown(w.prunes, w.keep.UnknownMax)
			if err != nil && w.prunes.Err() == nil {
				w.log.Error("store: evicting unknown phones", "err", err)
			}
			return got.Events
		}
	}
	return 0
}

// prune applies the retention and returns how many events are left (0
// when that is not known: the next prune is then due after EventsMax more
// events, or within the hour).
func (w *Writer) prune() int64 {
	keep := w.keep
	keep.EventsMax -= keep.EventsMax / 50
	got, err := w.s.Prune(w.prunes, keep)
	if err != nil {
		if w.prunes.Err() == nil {
			w.log.Error("store: pruning", "err", err)
		}
		return 0
	}
	if got != (Pruned{}) {
		w.log.Info("pruned old events and unknown phones", "events", got.Events, "phones", got.Phones)
	}
	n, err := w.s.CountEvents(w.prunes)
	if err != nil {
		return 0
	}
	return n
}

// flushDrops stores the drops counted since the last flush. A phone whose
// row is not there yet (its first events still queued) gets its count
// back for the next flush, for a minute.
func (w *Writer) flushDrops() {
	w.dmu.Lock()
	drops := w.drops
	if len(drops) == 0 {
		w.dmu.Unlock()
		return
	}
	w.drops = map[phone.MAC]Dropped{}
	w.dmu.Unlock()
	missing, err := w.s.RecordDropped(context.Background(), drops)
	if err != nil {
		w.log.Error("store: counts of dropped events lost", "phones", len(drops), "err", err)
		return
	}
	now := time.Now()
	w.dmu.Lock()
	defer w.dmu.Unlock()
	for mac, d := range missing {
		if now.Sub(d.First) > time.Minute {
			continue
		}
		n := w.drops[mac]
		n.Count += d.Count
		n.First = d.First
		if d.Last.After(n.Last) {
			n.Last = d.Last
		}
		w.drops[mac] = n
	}
}
