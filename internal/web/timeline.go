package web

import (
	"fmt"
	"strings"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonetext"
	"phoneboot/internal/printable"
)

// The boot timeline as a picture: an SVG of fixed coordinates (the
// template only places what is computed here), one lane per source, time
// from left to right. Every label is text for html/template to escape.
const (
	tlWidth  = 1000.0
	tlLeft   = 90.0 // lane names
	tlRight  = 10.0
	laneH    = 34.0
	tlTop    = 22.0 // boot and load labels
	tlLanes  = 4
	tlHeight = tlTop + tlLanes*laneH + 24 // the time axis below
)

// lanes, top to bottom.
var laneNames = [tlLanes]string{"DHCP", "files", "phoneboot", "syslog"}

type timeline struct {
	Empty          bool
	Width, Height  float64
	Lanes          []tlLane
	Marks          []tlMark // requests and decisions
	Lines          []tlLine // boots and loads
	Ticks          []tlTick
	Start, End     time.Time
	AxisY          float64
	LeftX, RightX  float64
	LegendOutcomes []string
}

type tlLane struct {
	Name  string
	Y     float64 // top
	H     float64
	TextY float64
}

// tlMark is one event: a bar (a file, as long as it took) or a dot.
type tlMark struct {
	X, Y, W, H float64
	Class      string // fixed words: "ok", "not-found", … "decision", "dhcp", "syslog"
	Shape      string // "bar", "dot", "diamond"
	Points     string // the diamond's
	Title      string
	CX, CY     float64
}

// tlLine is a boot (the phone began again) or a new load running.
type tlLine struct {
	X     float64
	Label string
	Class string // "boot", "load"
	Title string
}

type tlTick struct {
	X      float64
	Label  string
	Anchor string // "start", "middle", "end": the last label ends at the edge
}

// drawTimeline lays out events (oldest first).
func drawTimeline(evs []event.Event) timeline {
	t := timeline{Width: tlWidth, Height: tlHeight, AxisY: tlTop + tlLanes*laneH, LeftX: tlLeft, RightX: tlWidth - tlRight}
	for i, n := range laneNames {
		y := tlTop + float64(i)*laneH
		t.Lanes = append(t.Lanes, tlLane{Name: n, Y: y, H: laneH, TextY: y + laneH/2 + 4})
	}
	if len(evs) == 0 {
		t.Empty = true
		return t
	}
	start, end := evs[0].Time, evs[0].Time
	for _, ev := range evs {
		if s := ev.Time.Add(-ev.Duration); s.Before(start) {
			start = s
		}
		if ev.Time.After(end) {
			end = ev.Time
		}
	}
	span := end.Sub(start)
	if span < time.Second {
		span = time.Second
		start = end.Add(-span)
	}
	// A little room at both ends.
	pad := span / 50
	start, end = start.Add(-pad), end.Add(pad)
	span = end.Sub(start)
	t.Start, t.End = start, end
	x := func(at time.Time) float64 {
		return tlLeft + (t.RightX-tlLeft)*float64(at.Sub(start))/float64(span)
	}
	for i := 0; i <= 4; i++ {
		at := start.Add(span * time.Duration(i) / 4)
		label := at.Local().Format("15:04:05")
		if span < 10*time.Second {
			label = at.Local().Format("15:04:05.0")
		}
		t.Ticks = append(t.Ticks, tlTick{X: x(at), Label: label, Anchor: anchor(i, 4)})
	}
	prevStarts := false
	for _, ev := range evs {
		lane := 0
		switch {
		case ev.Source == event.DHCP:
			lane = 0
		case ev.IsRequest():
			lane = 1
		case ev.Source == event.Syslog:
			lane = 3
		default:
			lane = 2
		}
		y := tlTop + float64(lane)*laneH
		title := eventTitle(ev)
		switch {
		case ev.IsRequest():
			x0 := x(ev.Time.Add(-ev.Duration))
			w := max(3, x(ev.Time)-x0)
			t.Marks = append(t.Marks, tlMark{X: x0, Y: y + 6, W: w, H: laneH - 12, Class: outcomeClass(ev.Outcome), Shape: "bar", Title: title})
			k := phone.ParseName(ev.File).Kind
			starts := k == phone.KindCTL || k == phone.KindOSImage || k == phone.KindTermDefault
			if starts && !prevStarts {
				t.Lines = append(t.Lines, tlLine{X: x0, Label: "boot", Class: "boot", Title: printable.String("the phone (re)started: it asked for " + ev.File)})
			}
			prevStarts = starts
		case ev.Is(event.Provision, event.Load):
			t.Lines = append(t.Lines, tlLine{X: x(ev.Time), Label: "runs " + ev.Facts.Running, Class: "load", Title: title})
			t.Marks = append(t.Marks, dot(x(ev.Time), y, "decision", title))
		case ev.Is(event.Provision, event.LoopBreaker, event.ConfigLoop, event.UpgradeBlocked, event.Foreign):
			cx, cy := x(ev.Time), y+laneH/2
			t.Marks = append(t.Marks, tlMark{Shape: "diamond", Class: "alert", Title: title, CX: cx, CY: cy,
				Points: fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f", cx, cy-8, cx+8, cy, cx, cy+8, cx-8, cy)})
		case ev.Source == event.DHCP:
			t.Marks = append(t.Marks, dot(x(ev.Time), y, "dhcp", title))
		case ev.Source == event.Syslog:
			t.Marks = append(t.Marks, dot(x(ev.Time), y, "syslog", title))
		default:
			t.Marks = append(t.Marks, dot(x(ev.Time), y, "decision", title))
		}
	}
	// Labels of lines too close together would overlap: keep the first.
	last := -100.0
	for i := range t.Lines {
		if t.Lines[i].X-last < 70 {
			t.Lines[i].Label = ""
			continue
		}
		last = t.Lines[i].X
	}
	return t
}

func dot(x, laneY float64, class, title string) tlMark {
	return tlMark{Shape: "dot", Class: class, CX: x, CY: laneY + laneH/2, Title: title}
}

// outcomeClass is a CSS class for an outcome (fixed words only).
func outcomeClass(o event.Outcome) string {
	switch o {
	case event.OK:
		return "ok"
	case event.Probe:
		return "probe"
	case event.NotFound:
		return "not-found"
	case event.Timeout, event.Aborted, event.Failed, event.Shutdown:
		return "cut"
	}
	return "refused"
}

// eventTitle says an event in one line, for the picture's tooltips.
func eventTitle(ev event.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format("15:04:05.000") + " ")
	if ev.IsRequest() {
		fmt.Fprintf(&b, "%s %s: %s", strings.ToUpper(string(ev.Source)), ev.File, ev.Outcome)
		if ev.Bytes > 0 {
			fmt.Fprintf(&b, ", %s", phonetext.Size(ev.Bytes))
		}
		if ev.Duration > 0 {
			fmt.Fprintf(&b, " in %v", ev.Duration.Round(time.Millisecond))
		}
	} else {
		fmt.Fprintf(&b, "%s %s", ev.Source, ev.Kind)
		if ev.File != "" {
			b.WriteString(" " + ev.File)
		}
	}
	if ev.Detail != "" {
		b.WriteString(" — " + ev.Detail)
	}
	return printable.String(b.String())
}

// anchor keeps the first and last labels of an axis inside the picture.
func anchor(i, last int) string {
	switch i {
	case 0:
		return "start"
	case last:
		return "end"
	}
	return "middle"
}
