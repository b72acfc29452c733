package web

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
)

// The firmware rollout: how many phones ran their target load at the
// end of each hour (or day), from the "load" events of the store (a
// phone runs a new load) and each phone's target now. A phone with no
// load event in the range ran what it runs now all along; before its
// first load event in the range it counts as not yet on target.
const (
	rolloutEvents = 200000 // newest load events read
	rolloutTTL    = 30 * time.Second
	chartW        = 1000.0
	chartH        = 220.0
	chartLeft     = 50.0
	chartBottom   = 30.0
	chartTop      = 10.0
)

type rollout struct {
	Range             string // "24h" or "14d"
	Phones            int    // with a target
	Points, Area      string // the polyline and the filled area, in chart coordinates
	Bars              []rolloutBar
	YTicks            []tlTick
	XTicks            []tlTick
	Width, Height     float64
	Left, Right, Base float64
	Err               string
	Truncated         bool
	OnTarget          int // now
}

type rolloutBar struct {
	X, Y  float64
	Title string
}

type rolloutCache struct {
	mu  sync.Mutex
	key string
	at  time.Time
	evs []event.Event
	err error
}

func (s *Server) rollout(r *http.Request, rows []fleet.Row, rng string) rollout {
	step, n := time.Hour, 24
	if rng == "14d" {
		step, n = 24*time.Hour, 14
	} else {
		rng = "24h"
	}
	now := time.Now()
	end := now.Truncate(step).Add(step)
	start := end.Add(-time.Duration(n) * step)
	s.roll.mu.Lock()
	if s.roll.key != rng || time.Since(s.roll.at) > rolloutTTL {
		s.roll.evs, s.roll.err = s.live.Store.LoadEvents(r.Context(), start, rolloutEvents)
		s.roll.key, s.roll.at = rng, time.Now()
	}
	evs, err := s.roll.evs, s.roll.err
	s.roll.mu.Unlock()
	ro := rollout{Range: rng, Width: chartW, Height: chartH, Left: chartLeft, Right: chartW - 10, Base: chartH - chartBottom}
	if err != nil {
		ro.Err = err.Error()
		return ro
	}
	ro.Truncated = len(evs) >= rolloutEvents
	byMAC := map[phone.MAC][]event.Event{}
	for _, ev := range evs {
		byMAC[ev.MAC] = append(byMAC[ev.MAC], ev)
	}
	onTarget := make([]int, n)
	for i := range rows {
		row := &rows[i]
		if row.Target == "" {
			continue
		}
		ro.Phones++
		if strings.EqualFold(row.Load, row.Target) {
			ro.OnTarget++
		}
		loads := byMAC[row.MAC]
		for b := range n {
			at := start.Add(time.Duration(b+1) * step)
			running, known := "", len(loads) == 0
			if known {
				running = row.Load
			}
			for _, ev := range loads {
				if ev.Time.After(at) {
					break
				}
				running, known = ev.Facts.Running, true
			}
			if known && strings.EqualFold(running, row.Target) {
				onTarget[b]++
			}
		}
	}
	// Coordinates.
	yMax := max(1, ro.Phones)
	x := func(b int) float64 { return chartLeft + (ro.Right-chartLeft)*float64(b)/float64(max(1, n-1)) }
	y := func(v int) float64 { return ro.Base - (ro.Base-chartTop)*float64(v)/float64(yMax) }
	var pts []string
	for b, v := range onTarget {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(b), y(v)))
		at := start.Add(time.Duration(b+1) * step)
		label := at.Local().Format("Jan 2 15:04")
		if step == 24*time.Hour {
			label = at.Add(-time.Second).Local().Format("Jan 2")
		}
		ro.Bars = append(ro.Bars, rolloutBar{X: x(b), Y: y(v), Title: fmt.Sprintf("%s: %d of %d phones on their target load", label, v, ro.Phones)})
		if b%max(1, n/6) == 0 || b == n-1 {
			ro.XTicks = append(ro.XTicks, tlTick{X: x(b), Label: label, Anchor: anchor(b, n-1)})
		}
	}
	ro.Points = strings.Join(pts, " ")
	ro.Area = fmt.Sprintf("%.1f,%.1f %s %.1f,%.1f", x(0), ro.Base, ro.Points, x(n-1), ro.Base)
	for _, v := range []int{0, yMax / 2, yMax} {
		ro.YTicks = append(ro.YTicks, tlTick{X: y(v), Label: fmt.Sprint(v)})
	}
	return ro
}
