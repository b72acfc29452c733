// Package phonetext prints phones for people: the table of `phoneboot
// phones` and one phone's state, findings and timeline as `phones show`
// prints them. Every front end that prints to a terminal (the phones
// commands, `phoneboot analyze`) uses it, so a phone reads the same
// wherever it was seen.
package phonetext

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/printable"
	"phoneboot/internal/recovery"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

// Table prints the phones, one line each; "last seen" is counted back
// from now.
func Table(w io.Writer, rows []fleet.Row, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MAC\tMODEL\tIP\tLOAD → TARGET\tSTATE\tFINDING\tLAST SEEN\tSOURCE\tLABEL")
	for _, r := range rows {
		source := r.Source
		if source == store.SourceAuto {
			source = "unknown, auto-provisioned"
		}
		state := r.State
		if r.Download != nil {
			state += " " + ProgressBar(r.Download)
		} else if r.Detail != "" && r.State != track.PhaseUpToDate {
			state = stateWithDetail(r.State, r.Detail, ": %s")
		}
		finding := "-"
		if len(r.Findings) > 0 {
			finding = r.Findings[0].Symptom
		}
		printable.Fprintf(tw, "%s\t%s\t%s\t%s → %s\t%s\t%s\t%s\t%s\t%s\n", r.MAC, dash(r.Model), dash(r.IP),
			dash(r.Load), dash(r.Target), state, finding, fleet.Ago(now, r.LastSeen), source, r.Label)
	}
	tw.Flush()
}

// stateWithDetail is state with its detail in format, or the detail alone
// when it already says the state ("fetching config (dialplan.xml)").
func stateWithDetail(state, detail, format string) string {
	switch {
	case detail == "":
		return state
	case strings.HasPrefix(detail, state):
		return detail
	}
	return state + fmt.Sprintf(format, detail)
}

// ProgressBar draws a firmware download: [######....] 3/5 files.
func ProgressBar(p *track.Progress) string {
	const width = 10
	done, total := float64(p.FilesDone), float64(p.Files)
	if p.Bytes > 0 {
		done, total = float64(p.BytesDone), float64(p.Bytes)
	}
	n := 0
	if total > 0 {
		n = min(width, int(width*done/total))
	}
	return fmt.Sprintf("[%s%s] %d/%d files %s", strings.Repeat("#", n), strings.Repeat(".", width-n), p.FilesDone, p.Files, p.Load)
}

// Show prints one phone: what it is, its state, its findings with what
// to do, then its events oldest first; "last seen" is counted back from
// now.
func Show(w io.Writer, row fleet.Row, events []event.Event, now time.Time) error {
	mac := row.MAC
	printable.Fprintf(w, "%s  %s  model %s  protocol %s  ip %s\n", mac.DeviceName(), row.Source, dash(row.Model), dash(row.Protocol), dash(row.IP))
	printable.Fprintf(w, "load %s → target %s   last seen %s", dash(row.Load), dash(row.Target), fleet.Ago(now, row.LastSeen))
	if row.Node != "" {
		printable.Fprintf(w, " by node %s", row.Node)
	}
	printable.Fprintf(w, "\n")
	if row.Dropped != nil {
		fmt.Fprintln(w, row.Dropped)
	}
	printable.Fprintf(w, "state: %s", stateWithDetail(row.State, row.Detail, " (%s)"))
	if row.Download != nil {
		printable.Fprintf(w, " %s", ProgressBar(row.Download))
	}
	fmt.Fprintln(w)
	for _, f := range row.Findings {
		printable.Fprintf(w, "\n%s: %s\n  cause: %s\n", strings.ToUpper(f.Severity), f.Symptom, f.Cause)
		if f.Did != "" {
			printable.Fprintf(w, "  phoneboot did: %s\n", f.Did)
		}
		if f.Do != "" {
			printable.Fprintf(w, "  do: %s\n", f.Do)
			fmt.Fprint(w, recovery.SeeAlso(f, row.Model, mac))
		}
		printable.Fprintf(w, "  source: %s\n", f.Source)
	}
	fmt.Fprintln(w)
	if len(events) == 0 {
		fmt.Fprintln(w, "no events yet")
		return nil
	}
	return Timeline(w, events)
}

// Timeline prints events, one line each: time, source, outcome or kind,
// the address it came from, the file and the detail.
func Timeline(w io.Writer, events []event.Event) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ev := range events {
		what := string(ev.Outcome)
		if !ev.IsRequest() {
			what = string(ev.Kind)
		}
		// Every event's client address: a foreign one shows who asked.
		printable.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Local().Format("2006-01-02 15:04:05.000"), ev.Source, what, dash(ev.IP), ev.File, ev.Detail)
	}
	return tw.Flush()
}

// dash is v as printed, "-" for the zero value ("", no address).
func dash[T comparable](v T) string {
	var zero T
	if v == zero {
		return "-"
	}
	return fmt.Sprint(v)
}

// Size is a size for people: 912 B, 1.4 MiB.
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}
