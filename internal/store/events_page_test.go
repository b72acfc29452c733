package store

import (
	"testing"
	"time"

	"phoneboot/internal/event"
)

func TestEventsPage(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		s := open(t, where)
		a, b := mac(t, "00137F000001"), mac(t, "00137F000002")
		// Recorded out of time order: the page follows the recording order.
		base := time.Now().Add(-time.Hour)
		var evs []event.Event
		for i := range 10 {
			m, kind := a, event.Request
			if i%2 == 1 {
				m, kind = b, event.SyslogLine
			}
			evs = append(evs, event.Event{Time: base.Add(time.Duration(10-i) * time.Second), MAC: m, Source: event.TFTP, Kind: kind, File: string(rune('a' + i))})
		}
		if err := s.Record(t.Context(), evs); err != nil {
			t.Fatal(err)
		}
		files := func(q EventPage) string {
			t.Helper()
			got, err := s.EventsPage(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			out := ""
			for _, ev := range got {
				out += ev.File
			}
			return out
		}
		all, err := s.EventsPage(t.Context(), EventPage{Limit: 4})
		if err != nil || len(all) != 4 || all[0].ID <= all[3].ID {
			t.Fatalf("page: %v %v", all, err)
		}
		for _, c := range []struct {
			q    EventPage
			want string
		}{
			{EventPage{Limit: 4}, "jihg"},
			{EventPage{Limit: 4, Before: all[3].ID}, "fedc"},
			{EventPage{Limit: 100}, "jihgfedcba"},
			{EventPage{Limit: 100, MAC: a}, "igeca"},
			{EventPage{Limit: 2, MAC: b, Before: all[1].ID}, "hf"},
			{EventPage{Limit: 100, Kind: event.SyslogLine}, "jhfdb"},
			{EventPage{Limit: 100, Kind: event.SyslogLine, MAC: a}, ""},
			{EventPage{Limit: 100, Before: 1}, ""},
		} {
			if got := files(c.q); got != c.want {
				t.Errorf("%+v: %q, want %q", c.q, got, c.want)
			}
		}
		if _, err := s.EventsPage(t.Context(), EventPage{}); err == nil {
			t.Error("a page without a limit")
		}
	})
}
