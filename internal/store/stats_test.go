package store

import (
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// Written counts what reached the database, Lost what the database
// refused.
func TestWriterWrittenAndLost(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		s := open(t, where)
		w := NewWriter(s, WriterOptions{FlushEvery: 10 * time.Millisecond})
		m := phone.MAC{0, 0, 0, 0, 0, 1}
		for range 3 {
			w.Add(event.Event{MAC: m, Source: event.TFTP, Kind: event.Request})
		}
		deadline := time.Now().Add(10 * time.Second)
		for w.Written() < 3 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if w.Written() != 3 || w.Lost() != 0 {
			t.Fatalf("written %d, lost %d; want 3, 0", w.Written(), w.Lost())
		}
		s.Close() // the next batch fails
		w.Add(event.Event{MAC: m, Source: event.TFTP, Kind: event.Request})
		w.Close()
		if w.Written() != 3 || w.Lost() != 1 {
			t.Errorf("written %d, lost %d; want 3, 1", w.Written(), w.Lost())
		}
	})
}
