package store

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/store/pgtest"
)

// TestWriterOutage: PostgreSQL stops (pg_ctl stop -m fast) while events
// keep coming; when it is back, every event Add took is stored exactly
// once, in order, after the ones stored before, which are intact. When
// the outage outlasts the buffer, what found no room is counted as
// store-down drops and the rest is still stored in order.
//
// How long the server is stopped: -outage (go test -run TestWriterOutage
// ./internal/store -args -outage 30s, as in issue 15's boot storm).
func TestWriterOutage(t *testing.T) {
	outage := *outageFlag
	t.Run("buffered", func(t *testing.T) { testOutage(t, outage, 1000, 200) })
	t.Run("buffer full", func(t *testing.T) { testOutage(t, outage, 50, 200) })
}

var outageFlag = flag.Duration("outage", 5*time.Second, "how long TestWriterOutage stops PostgreSQL")

// testOutage stores 100 events, stops the server for outage while it
// adds during events (evenly spread) to a Writer of a queue of queue
// events, starts the server again and checks what was stored.
func testOutage(t *testing.T, outage time.Duration, queue, during int) {
	s := open(t, pgtest.OwnURL(t))
	w := NewWriter(s, WriterOptions{Queue: queue, FlushEvery: 20 * time.Millisecond,
		Retry: RetryOptions{First: 50 * time.Millisecond, Max: 500 * time.Millisecond}})
	defer w.Close()
	m := phone.MAC{0, 0x13, 0x7f, 0, 0, 0x15}
	ev := func(what string, i int) event.Event {
		return event.Event{Time: time.Now(), MAC: m, Source: event.TFTP, Kind: event.Request,
			File: "SEP00137F000015.cnf.xml", Detail: fmt.Sprintf("%s %d", what, i)}
	}
	const before = 100
	for i := range before {
		if !w.Add(ev("before", i)) {
			t.Fatalf("event %d dropped", i)
		}
		if i%25 == 24 { // within the smallest queue tested
			waitFor(t, "the events before", func() bool { return w.Written() == uint64(i+1) })
		}
	}

	pgtest.Stop(t)
	start := time.Now()
	took := 0
	for i := range during {
		if w.Add(ev("during", i)) {
			took++
		}
		time.Sleep(outage / time.Duration(during))
	}
	if !w.Down() {
		t.Errorf("after %v without the server, the Writer does not say it is down", time.Since(start))
	}
	if err := pgtest.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the events of the outage", func() bool { return w.Written() == uint64(before+took) && !w.Down() })

	st := w.Stats()
	if st.Dropped != 0 || st.Lost != 0 || st.Outage != uint64(during-took) {
		t.Errorf("stats %+v: want %d dropped for the outage (%d taken), none otherwise", st, during-took, took)
	}
	if fits := queue + min(queue, maxBatch); took > fits {
		t.Errorf("%d events buffered, more than the queue and a batch hold (%d)", took, fits)
	}
	if queue < during && took == during {
		t.Errorf("a queue of %d took all %d events of the outage", queue, during)
	}
	evs, err := s.Events(t.Context(), m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != before+took {
		t.Fatalf("%d events stored, want %d before and %d of the outage", len(evs), before, took)
	}
	for i, got := range evs {
		want := fmt.Sprintf("before %d", i)
		if i >= before {
			want = fmt.Sprintf("during %d", i-before)
		}
		if got.Detail != want {
			t.Fatalf("event %d is %q, want %q", i, got.Detail, want)
		}
		if i > 0 && got.ID <= evs[i-1].ID {
			t.Fatalf("event %d has id %d, not after %d", i, got.ID, evs[i-1].ID)
		}
	}
	t.Logf("outage %v: %d events buffered and stored, %d dropped (store-down)", outage, took, during-took)
}

// waitFor waits up to 30 s for ok.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestWriterCloseDuringOutage: Close while the server is stopped tries
// for the grace, then counts what is left lost, at once, batch after
// batch: it does not wait once per batch.
func TestWriterCloseDuringOutage(t *testing.T) {
	s := open(t, pgtest.OwnURL(t))
	w := NewWriter(s, WriterOptions{Queue: 2000, FlushEvery: 20 * time.Millisecond,
		Retry: RetryOptions{First: 50 * time.Millisecond, Max: 200 * time.Millisecond, Grace: time.Second}})
	m := phone.MAC{0, 0x13, 0x7f, 0, 0, 0x16}
	pgtest.Stop(t)
	for i := range 2000 {
		w.Add(event.Event{MAC: m, Source: event.TFTP, Kind: event.Request, Detail: fmt.Sprint(i)})
	}
	waitFor(t, "the Writer to find the store down", w.Down)
	start := time.Now()
	if err := w.Close(); err == nil {
		t.Error("Close: no error, with the server stopped")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a grace of 1s", d)
	}
	if st := w.Stats(); st.Lost+st.Written != 2000 || st.Written != 0 {
		t.Errorf("stats %+v: want the 2000 events lost", st)
	}
}
