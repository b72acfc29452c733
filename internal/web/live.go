package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"phoneboot/internal/feed"
	"phoneboot/internal/phone"
)

// Live updates: /live is a server-sent event stream that says "changed"
// at most once a second while events arrive (for one phone with
// ?mac=); app.js then asks for the page's live part again. The stream
// carries no phone data, so a slow browser costs nothing but its place:
// the feed drops what a watcher cannot take, and publishing never waits.
const (
	liveEvery = time.Second
	// settleAfter: one more "changed" this long after the last, with no
	// event since: the store writes events a second after they happen,
	// and the phones table is read at most once a second (rowCache), so
	// the last refresh of a burst may have missed its end.
	settleAfter = 2500 * time.Millisecond
	keepAlive   = 25 * time.Second
	// liveBuffer is the events a watcher holds between two ticks.
	liveBuffer = 256
	// writeWait: a browser that takes no data for this long is dropped.
	writeWait = 10 * time.Second
)

func (s *Server) liveEvents(w http.ResponseWriter, r *http.Request) {
	var only phone.MAC
	if m := r.URL.Query().Get("mac"); m != "" {
		var err error
		if only, err = phone.ParseMAC(m); err != nil {
			http.Error(w, fmt.Sprintf("mac %q is not a MAC address", m), http.StatusBadRequest)
			return
		}
	}
	if s.live.Feed == nil {
		http.Error(w, "no live feed", http.StatusServiceUnavailable)
		return
	}
	sub, err := s.live.Feed.Subscribe(liveBuffer)
	if errors.Is(err, feed.ErrFull) {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many live pages are open; this one refreshes when you reload it", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer s.live.Feed.Unsubscribe(sub)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	send := func(msg string) bool {
		rc.SetWriteDeadline(time.Now().Add(writeWait))
		if _, err := fmt.Fprint(w, msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 3000\n: phoneboot live\n\n") {
		return
	}
	tick := time.NewTicker(liveEvery)
	defer tick.Stop()
	var (
		pending  bool
		settleAt time.Time
		lastSent = time.Now()
		lost     int64
	)
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			if only == (phone.MAC{}) || ev.MAC == only {
				pending = true
			}
		case now := <-tick.C:
			msg := ""
			switch {
			case pending || sub.Lost() > lost: // events dropped: some may be this page's
				lost = sub.Lost()
				msg, settleAt = "event: changed\ndata: {}\n\n", now.Add(settleAfter)
			case !settleAt.IsZero() && now.After(settleAt):
				msg, settleAt = "event: changed\ndata: {}\n\n", time.Time{}
			case now.Sub(lastSent) > keepAlive:
				msg = ": still here\n\n"
			}
			pending = false
			if msg == "" {
				continue
			}
			if !send(msg) {
				return
			}
			lastSent = now
		}
	}
}
