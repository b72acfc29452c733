package store

import (
	"context"
	"errors"
	"time"

	"phoneboot/internal/event"
)

// RetryOptions pace the Writer's attempts to store a batch when the store
// cannot be reached (a PostgreSQL server restarting, a network cut): the
// first retry after First, each next one after twice as long, up to Max.
// After Close, attempts go on for Grace at most, then what is left is
// counted lost.
type RetryOptions struct {
	First, Max, Grace time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.First <= 0 {
		o.First = 100 * time.Millisecond
	}
	if o.Max <= 0 {
		o.Max = 5 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	return o
}

// record stores batch, waiting for the store while it cannot be reached.
// A batch is retried only while the store does not answer a ping: one
// the store answers and still refuses is refused for what it holds, and
// retrying it would hold every later event back forever (it is lost, as
// before). Meanwhile Add keeps queueing: the queue is the buffer, and
// what finds it full is counted in Outage.
//
// A batch whose COMMIT the connection lost on the way may have been
// stored: retrying it then stores it twice. PostgreSQL cannot say which;
// the window is one round trip, and the ids still commit in order.
func (w *Writer) record(batch []event.Event) error {
	delay := w.retry.First
	// After Close and its grace, the rest goes without a try each: a
	// server that does not answer at all would cost a connect timeout
	// per batch.
	if w.down.Load() && !w.giveUp.IsZero() && time.Now().After(w.giveUp) {
		return errors.New("the store could not be reached before the end")
	}
	for tries := 1; ; tries++ {
		// Not cancelled by Close: the last flush must be able to finish,
		// and busy_timeout / lock_timeout bound the wait for a lock.
		err := w.s.Record(context.Background(), batch)
		if err == nil {
			if w.down.Swap(false) {
				w.log.Info("store: reachable again, buffered events written", "after_tries", tries)
			}
			return nil
		}
		// Once more at least: the first attempt after a restart of the
		// server may fail on a connection the server closed.
		if why := w.unreachable(); why == nil {
			if tries > 1 {
				return err
			}
		} else if !w.down.Swap(true) {
			w.log.Error("store: unreachable, events are buffered in memory until it returns",
				"buffer_events", cap(w.ch)+w.batch, "err", Reason(why))
		}
		closing := w.prunes.Err() != nil
		if closing && w.giveUp.IsZero() {
			w.giveUp = time.Now().Add(w.retry.Grace)
		}
		if closing && time.Now().After(w.giveUp) {
			return err
		}
		if closing {
			delay = w.retry.First // Close waits: try often, within the grace
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.closing():
			t.Stop()
		}
		delay = min(2*delay, w.retry.Max)
	}
}

// closing is a channel closed once Close is called; nil (never ready)
// after that, so that the wait in record is not cut short again.
func (w *Writer) closing() <-chan struct{} {
	if w.prunes.Err() != nil {
		return nil
	}
	return w.prunes.Done()
}

// unreachable is why the store does not answer a ping within a few
// seconds; nil when it does. A Store closed here is no outage: there is
// nothing to wait for.
func (w *Writer) unreachable() error {
	if w.s.closed.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.s.w.PingContext(ctx)
}

// Outage is how many events Add found no room for while the store could
// not be reached (the queue full of events waiting for it).
func (w *Writer) Outage() uint64 { return w.outage.Load() }

// Down is whether the store cannot be reached now.
func (w *Writer) Down() bool { return w.down.Load() }
