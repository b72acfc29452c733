// Package fleet is the picture of the phones that every front end shows —
// `phoneboot phones`, `phones show`, `firmware list`, and the dashboard
// and API to come: the inventory (what each phone should be) joined with
// the store (what was seen of it) and track (what it is doing, what is
// wrong with it). It only reads; nothing here changes a phone.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

// Row is one phone as the phones table shows it.
type Row struct {
	MAC      phone.MAC `json:"mac"`
	Model    string    `json:"model,omitempty"`
	Protocol string    `json:"protocol,omitempty"`
	Label    string    `json:"label,omitempty"`
	Source   string    `json:"source"` // store.SourceInventory or store.SourceAuto
	IP       string    `json:"ip,omitempty"`
	Load     string    `json:"load,omitempty"`   // running, as observed (or as the inventory says)
	Target   string    `json:"target,omitempty"` // from the config
	LastSeen time.Time `json:"last_seen,omitzero"`
	LastFile string    `json:"last_file,omitempty"`
	Node     string    `json:"node,omitempty"` // the node of a fleet that last saw it
	// Dropped: events of the phone that the store's rate limit dropped.
	Dropped *Dropped `json:"events_dropped,omitempty"`
	// From the timeline (internal/track); State is "never seen" for an
	// inventory phone that has not booted yet, and "" in rows that were
	// not analysed (Fleet.Loads).
	State    string          `json:"state"`
	Detail   string          `json:"detail,omitempty"`
	Download *track.Progress `json:"download,omitempty"`
	Findings []track.Finding `json:"findings"`
}

// Dropped counts the events of a phone the store did not keep because
// the phone sent more than its rate limit allows (`serve --events-rate`).
type Dropped struct {
	Count int64     `json:"count"`
	Since time.Time `json:"since"` // the first dropped
	Last  time.Time `json:"last"`
}

// String says it for people: "1,234 events dropped (rate limit) since
// 2026-12-03 15:04:05, the last 3s ago".
func (d Dropped) String() string {
	n := strconv.FormatInt(d.Count, 10)
	for i := len(n) - 3; i > 0; i -= 3 {
		n = n[:i] + "," + n[i:]
	}
	what := "events"
	if d.Count == 1 {
		what = "event"
	}
	return fmt.Sprintf("%s %s dropped (rate limit) since %s, the last %s", n, what,
		d.Since.Local().Format("2006-01-02 15:04:05"), Ago(time.Now(), d.Last))
}

// NeverSeen is the State of an inventory phone that has not booted yet.
const NeverSeen = "never seen"

// View is one phone with its timeline.
type View struct {
	Row
	Events []event.Event `json:"events"`
}

// ErrUnknown: the phone is neither in the inventory nor seen.
var ErrUnknown = errors.New("not in the inventory and not seen")

// Fleet reads the phones of one config and store.
type Fleet struct {
	Store  *store.Store
	Config *config.Config // config.Default without a config file
	// Now is the time findings are judged at; time.Now when nil.
	Now func() time.Time
	// Cache, when set, keeps each phone's analysed timeline from one call
	// of Phones to the next (see Cache); nil: every call reads them all.
	Cache *Cache
}

// Open opens the store of data directory data (or the database
// cfg.Store.URL names) for the phones of cfg; Close closes it.
func Open(ctx context.Context, data string, cfg *config.Config) (Fleet, error) {
	db, err := store.OpenURL(ctx, data, cfg.Store.URL)
	if err != nil {
		return Fleet{}, err
	}
	return Fleet{Store: db, Config: cfg}, nil
}

// Close closes the store.
func (f Fleet) Close() error { return f.Store.Close() }

// timelineLength is how many of a phone's newest events its state is
// derived from.
const timelineLength = 500

// Phones lists every phone of the inventory, then every other phone seen,
// each with its state and findings judged at Now. With a Cache, only the
// timelines of phones that changed since the last call are read.
func (f Fleet) Phones(ctx context.Context) ([]Row, error) {
	c, keep := f.Cache, f.Cache != nil
	if !keep {
		c = NewCache() // this call's only
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// One snapshot: the Mark kept for the next call must be the state the
	// timelines were read in.
	sn, err := f.Store.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	mark, err := sn.Mark(ctx)
	if err != nil {
		return nil, err
	}
	all, err := sn.Phones(ctx)
	if err != nil {
		return nil, err
	}
	rows, seen := f.join(all)
	var fresh map[phone.MAC]bool
	if c.marked {
		macs, err := sn.Since(ctx, c.mark.Newest)
		if err != nil {
			return nil, err
		}
		fresh = make(map[phone.MAC]bool, len(macs))
		for _, m := range macs {
			fresh[m] = true
		}
	}

	// Each seen phone's analysis: the cached one while it holds, else
	// read.
	settings := Settings(f.Config)
	entries := make([]*analysis, len(rows))
	need := map[phone.MAC]int{} // row index
	var needMACs []phone.MAC
	for i := range rows {
		p := seen[rows[i].MAC]
		if p.LastSeen.IsZero() {
			continue // never seen: judged on nothing
		}
		in := inputs{lastSeen: p.LastSeen.UnixMilli(), running: rows[i].Load, target: rows[i].Target, settings: settings}
		e := c.phones[rows[i].MAC]
		if e == nil || !c.marked || e.in != in || fresh[rows[i].MAC] || e.events && mark.Lost(e.first) {
			need[rows[i].MAC] = i
			needMACs = append(needMACs, rows[i].MAC)
			continue
		}
		entries[i] = e
	}
	if len(needMACs) > 0 {
		which := needMACs
		if len(needMACs) > len(rows)/2 {
			which = nil // all phones in one query beats many lists of MACs
		}
		// Reading the timelines keeps one core busy; the analysis runs
		// beside it on the others.
		type job struct {
			i      int
			events []event.Event
		}
		jobs := make(chan job, 64)
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for j := range jobs {
					entries[j.i] = f.prepare(&rows[j.i], seen[rows[j.i].MAC], j.events, settings)
				}
			})
		}
		err := sn.Timelines(ctx, timelineLength, which, func(mac phone.MAC, events []event.Event) error {
			if i, ok := need[mac]; ok {
				jobs <- job{i, events}
			}
			return nil
		})
		close(jobs)
		wg.Wait()
		if err != nil {
			return nil, err
		}
		for _, i := range need {
			if entries[i] == nil { // no event left
				entries[i] = f.prepare(&rows[i], seen[rows[i].MAC], nil, settings)
			}
		}
	}

	now := f.now()
	var kept map[phone.MAC]*analysis
	if keep {
		kept = make(map[phone.MAC]*analysis, min(len(rows), maxCached))
	}
	for i := range rows {
		e := entries[i]
		if e == nil {
			rows[i].State = NeverSeen
			continue
		}
		judge(&rows[i], e.a.At(now))
		if keep && len(kept) < maxCached {
			kept[rows[i].MAC] = e
		}
	}
	// The phones of this call only: one that left the store leaves.
	c.phones, c.mark, c.marked = kept, mark, true
	return rows, nil
}

// Loads lists every phone with what it runs and should run, without
// analysing timelines: what `firmware list` needs.
func (f Fleet) Loads(ctx context.Context) ([]Row, error) {
	rows, _, err := f.rows(ctx)
	return rows, err
}

// Phone is one phone with its state, findings and newest limit events
// (0: all); ErrUnknown if phoneboot knows nothing of it.
func (f Fleet) Phone(ctx context.Context, mac phone.MAC, limit int) (View, error) {
	p, seen, err := f.Store.Phone(ctx, mac)
	if err != nil {
		return View{}, err
	}
	entry, listed := f.entry(mac)
	if !seen && !listed {
		return View{}, fmt.Errorf("%s: %w", mac, ErrUnknown)
	}
	v := View{Row: f.row(p, entry, listed)}
	n := limit
	if n > 0 {
		n = max(n, timelineLength)
	}
	events, err := f.analyze(ctx, &v.Row, p, n)
	if err != nil {
		return View{}, err
	}
	if limit > 0 && len(events) > limit {
		events = events[len(events)-limit:]
	}
	v.Events = events
	return v, nil
}

// rows joins the inventory with the store, without timelines.
func (f Fleet) rows(ctx context.Context) ([]Row, map[phone.MAC]store.Phone, error) {
	all, err := f.Store.Phones(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows, seen := f.join(all)
	return rows, seen, nil
}

// join joins the inventory with the phones of the store. The config
// file wins over the store's copy of the inventory: a running serve may
// not have synced a change yet.
func (f Fleet) join(all []store.Phone) ([]Row, map[phone.MAC]store.Phone) {
	seen := make(map[phone.MAC]store.Phone, len(all))
	for _, p := range all {
		seen[p.MAC] = p
	}
	listed := make(map[phone.MAC]bool, len(f.Config.Phones))
	rows := make([]Row, 0, len(all)+len(f.Config.Phones))
	for i := range f.Config.Phones {
		e := &f.Config.Phones[i]
		listed[e.MAC] = true
		rows = append(rows, f.row(seen[e.MAC], e, true))
	}
	for _, p := range all {
		if !listed[p.MAC] {
			rows = append(rows, f.row(p, nil, false))
		}
	}
	return rows, seen
}

// entry is the inventory's entry for mac.
func (f Fleet) entry(mac phone.MAC) (*config.Phone, bool) {
	for i := range f.Config.Phones {
		if f.Config.Phones[i].MAC == mac {
			return &f.Config.Phones[i], true
		}
	}
	return nil, false
}

// row is a phone's row before its timeline is read.
func (f Fleet) row(p store.Phone, e *config.Phone, listed bool) Row {
	r := Row{MAC: p.MAC, Model: p.SeenModel, Protocol: p.Protocol, Label: p.Label, Source: p.Source,
		Load: p.Load, LastSeen: p.LastSeen, LastFile: p.LastFile, Node: p.Node, Findings: []track.Finding{}}
	if p.IP.IsValid() {
		r.IP = p.IP.String()
	}
	if d := p.Dropped; d.Count > 0 {
		r.Dropped = &Dropped{Count: d.Count, Since: d.First, Last: d.Last}
	}
	if listed {
		r.MAC, r.Source, r.Label = e.MAC, store.SourceInventory, e.Label
		if e.Model.Name != "" {
			r.Model = e.Model.Name
		}
		r.Protocol = e.Protocol
		if r.Protocol == "" {
			r.Protocol = f.Config.Site.Protocol
		}
		if r.Load == "" {
			r.Load = e.RunningLoad
		}
	}
	r.Target = f.target(r.Model, e)
	return r
}

// target is the load a phone is to run: its entry's, else the site's for
// its model.
func (f Fleet) target(model string, e *config.Phone) string {
	if e != nil && e.Load != "" {
		return e.Load
	}
	return f.Config.Site.Loads[model].ID
}

// analyze fills a row's state and findings from the phone's newest n
// events (0: all), and returns those events.
func (f Fleet) analyze(ctx context.Context, r *Row, p store.Phone, n int) ([]event.Event, error) {
	if p.LastSeen.IsZero() {
		r.State = NeverSeen
		return nil, nil
	}
	events, err := f.Store.Events(ctx, r.MAC, n)
	if err != nil {
		return nil, err
	}
	settings := Settings(f.Config)
	judge(r, f.prepare(r, p, events, settings).a.At(f.now()))
	return events, nil
}

// prepare reads a seen phone's timeline, for its row r as Fleet.row
// made it.
func (f Fleet) prepare(r *Row, p store.Phone, events []event.Event, settings track.Settings) *analysis {
	e := &analysis{in: inputs{lastSeen: p.LastSeen.UnixMilli(), running: r.Load, target: r.Target, settings: settings}}
	if len(events) > 0 {
		// The timeline is in EventKey order: its first is the oldest.
		e.events, e.first = true, store.Key(events[0])
	}
	e.a = track.Prepare(track.Timeline{MAC: r.MAC, LastSeen: p.LastSeen, Running: r.Load, Target: r.Target,
		Events: events, Settings: settings})
	return e
}

// judge fills a row's state and findings.
func judge(r *Row, st track.State) {
	r.State, r.Detail, r.Download, r.Findings = st.Phase, st.Detail, st.Download, st.Findings
	if r.Load == "" {
		r.Load = st.Running
	}
	if r.Target == "" {
		r.Target = st.Target
	}
}

func (f Fleet) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Settings are track's thresholds as cfg sets them.
func Settings(cfg *config.Config) track.Settings {
	p := cfg.Provision
	return track.Settings{QuietAfter: cfg.Track.QuietAfter, CTLLoopRequests: p.CTLLoopRequests,
		ConfigLoopRequests: p.ConfigLoopRequests, LoopGap: p.LoopWindow}
}

// Ago says how long before now t was, as tables show it: "12s ago",
// "5m ago", "3h ago", then the date; "never" for no time.
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02")
}

// Judge is the row of a phone seen somewhere other than the store (a
// packet capture: internal/analyze): p as the store would have it and
// its events, oldest first, judged at now by the same rules and row
// logic as the phones of the store.
func (f Fleet) Judge(p store.Phone, events []event.Event, now time.Time) Row {
	e, listed := f.entry(p.MAC)
	r := f.row(p, e, listed)
	if p.LastSeen.IsZero() {
		r.State = NeverSeen
		return r
	}
	judge(&r, f.prepare(&r, p, events, Settings(f.Config)).a.At(now))
	return r
}

// LoadUse is which phones run a load and which the config targets at it.
type LoadUse struct {
	Running  []phone.MAC `json:"running"`  // last seen running it
	Targeted []phone.MAC `json:"targeted"` // the config targets at it
}

// UseOf is the use of load id among rows (as Loads returns them); the
// lists are empty, not nil, when no phone runs or targets it.
func UseOf(rows []Row, id string) LoadUse {
	u := LoadUse{Running: []phone.MAC{}, Targeted: []phone.MAC{}}
	for _, r := range rows {
		if strings.EqualFold(r.Load, id) {
			u.Running = append(u.Running, r.MAC)
		}
		if strings.EqualFold(r.Target, id) {
			u.Targeted = append(u.Targeted, r.MAC)
		}
	}
	return u
}
