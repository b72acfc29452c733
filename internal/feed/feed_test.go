package feed

import (
	"errors"
	"testing"

	"phoneboot/internal/event"
)

func TestHub(t *testing.T) {
	h := New(2)
	a, _ := h.Subscribe(2)
	b, _ := h.Subscribe(1)
	if _, err := h.Subscribe(1); !errors.Is(err, ErrFull) {
		t.Fatalf("third watcher: %v", err)
	}
	for i := range 3 {
		h.Publish(event.Event{File: string(rune('a' + i))})
	}
	if got := (<-a.C).File + (<-a.C).File; got != "ab" || a.Lost() != 1 {
		t.Errorf("a got %q, lost %d", got, a.Lost())
	}
	if got := (<-b.C).File; got != "a" || b.Lost() != 2 {
		t.Errorf("b got %q, lost %d", got, b.Lost())
	}
	h.Unsubscribe(a)
	if _, ok := <-a.C; ok {
		t.Error("channel open after Unsubscribe")
	}
	if _, err := h.Subscribe(1); err != nil {
		t.Errorf("a place freed: %v", err)
	}
}
