package recovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

// Follow's defaults and bounds.
const (
	DefaultTimeout = 30 * time.Minute
	DefaultEvery   = time.Second
	DefaultSettle  = 2 * time.Minute
	minEvery       = 50 * time.Millisecond
	maxEvery       = 10 * time.Second
)

// Change is one line of Follow: what it waits for, the phone that
// appeared, each change of its state, the end.
type Change struct {
	Time  time.Time `json:"time"`
	MAC   phone.MAC `json:"mac,omitzero"`    // zero while waiting
	State string    `json:"state,omitempty"` // the fleet's state ("stuck", "up to date" …)
	Text  string    `json:"text"`
	Do    string    `json:"do,omitempty"` // stuck: what to do
}

// String is the change as the terminal shows it, in Width columns.
func (c Change) String() string {
	const indent = "          "
	head := c.Time.Local().Format("15:04:05") + "  "
	if c.MAC != (phone.MAC{}) {
		head += c.MAC.String() + "  "
	}
	s := wrap(c.Text, head, indent)
	if c.Do != "" {
		s += wrap("do: "+c.Do, indent, indent+"    ")
	}
	return strings.TrimSuffix(s, "\n")
}

// StuckError is the end of a Follow whose phone is stuck on an error
// finding that needs the admin.
type StuckError struct {
	MAC     phone.MAC
	Finding track.Finding
}

func (e *StuckError) Error() string {
	return fmt.Sprintf("recover --watch: %s is stuck (%s)", e.MAC, e.Finding.Rule)
}

// ErrTimeout is the end of a Follow that ran out of time; its last
// report says what it was waiting for.
var ErrTimeout = errors.New("timed out")

// Follow waits for the phone to boot from phoneboot and follows it until
// it is up to date (nil), stuck (*StuckError) or o.Timeout has passed
// (ErrTimeout). The phone is the one of o.MAC, else the first phone of
// o.Model, else the first phone whose model phoneboot does not know (a
// new phone, or one seen over TFTP only that begins a boot), seen after
// Follow started. It reads the store through fleet every o.Every and
// calls report once for what it waits for, once when the phone appears,
// once per change of its state, and once at a timeout. A phone stuck on
// a finding phoneboot is acting on (a loop breaker: the finding says
// what it did) is given o.Settle to get past it; one phoneboot does
// nothing about ends the follow at once.
func Follow(ctx context.Context, o Options, report func(Change)) error {
	m, mac, err := o.phone()
	if err != nil {
		return err
	}
	if o.Timeout < 0 || o.Every < 0 || o.Settle < 0 {
		return errors.New("recover: --timeout must be positive")
	}
	timeout := cmp.Or(o.Timeout, DefaultTimeout)
	every := min(max(cmp.Or(o.Every, DefaultEvery), minEvery), maxEvery)
	w := &watcher{o: o, model: m, mac: mac, start: o.now(), report: report, settle: cmp.Or(o.Settle, DefaultSettle)}
	defer w.close()
	report(Change{Time: w.start, Text: w.waiting(timeout)})
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(every)
	defer tick.Stop()
	polls := int(timeout/every) + 2 // bounded by the timeout, and counted
	for i := 0; i < polls && ctx.Err() == nil; i++ {
		done, err := w.poll(ctx)
		if ctx.Err() != nil {
			break
		}
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if parent.Err() != nil {
		return errors.New("recover --watch: stopped before the phone was up to date")
	}
	return w.timedOut(timeout)
}

// watcher is the state of one Follow.
type watcher struct {
	o      Options
	model  phone.Model
	mac    phone.MAC // the phone followed; zero until one appeared (without --mac)
	locked bool      // a phone appeared and is followed
	start  time.Time
	report func(Change)
	settle time.Duration

	fl     *fleet.Fleet
	before map[phone.MAC]bool // phones seen before the start
	last   string             // the state last reported (state and detail)
	said   string             // the same in words
	stuck  string             // the rule the phone is stuck on, "" when not
	since  time.Time          // since when it is stuck on it
}

func (w *watcher) close() {
	if w.fl != nil {
		w.fl.Close()
	}
}

// waiting says what Follow waits for.
func (w *watcher) waiting(timeout time.Duration) string {
	what := "a " + w.model.Name + ", or a phone phoneboot does not know the model of,"
	if w.mac != (phone.MAC{}) {
		what = w.mac.String()
	}
	return fmt.Sprintf("waiting up to %s for %s to boot from phoneboot (Ctrl-C to stop)", duration(timeout), what)
}

// timedOut reports why Follow ran out of time and what to look at, and
// returns the error that ends it (one short line; the report says more).
func (w *watcher) timedOut(timeout time.Duration) error {
	c := Change{Time: w.o.now(), MAC: w.mac}
	if !w.locked {
		what := "no " + w.model.Name + " and no phone of unknown model"
		if w.mac != (phone.MAC{}) {
			what = "it has not"
		}
		c.Text = fmt.Sprintf("timed out: %s booted from phoneboot within %s. Is the phone plugged in, and does DHCP give it option 150 pointing at phoneboot (step 1)? phoneboot phones lists every phone seen.", what, duration(timeout))
		w.report(c)
		return fmt.Errorf("recover --watch: %w: no phone came within %s", ErrTimeout, duration(timeout))
	}
	c.Text = fmt.Sprintf("timed out: not up to date after %s (last: %s); phoneboot phones show %s has its timeline.", duration(timeout), w.said, w.mac)
	w.report(c)
	return fmt.Errorf("recover --watch: %w: %s not up to date after %s", ErrTimeout, w.mac, duration(timeout))
}

// poll reads the store once; done when the follow has ended (err says
// how, nil: up to date).
func (w *watcher) poll(ctx context.Context) (bool, error) {
	if err := w.open(ctx); err != nil || w.fl == nil {
		return false, err
	}
	if !w.locked {
		mac, ok, err := w.appeared(ctx)
		if err != nil || !ok {
			return false, err
		}
		w.mac, w.locked = mac, true
	}
	v, err := w.fl.Phone(ctx, w.mac, 1)
	if errors.Is(err, fleet.ErrUnknown) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := w.o.now()
	key := v.State + "\x00" + v.Detail
	c := Change{Time: now, MAC: w.mac, State: v.State, Text: describe(v.Row)}
	var f track.Finding
	if v.State == track.PhaseStuck && len(v.Findings) > 0 {
		f = v.Findings[0]
		if f.Rule != w.stuck {
			w.stuck, w.since = f.Rule, now
		}
		c.Text, c.Do = "stuck: "+f.Symptom, f.Do
		if f.Did != "" {
			c.Text += fmt.Sprintf(" (phoneboot did: %s; it gets %s to move on)", f.Did, duration(w.settle))
		}
	} else {
		w.stuck = ""
	}
	if v.State == track.PhaseUpToDate {
		c.Text += ": recovered"
		if v.Target == "" && v.Model == "" {
			c.Text += fmt.Sprintf(". phoneboot does not know its model, so it names no load for it; phoneboot phones adopt %s --model %s walks it to the %s's target", w.mac, w.model.Name, w.model.Name)
		}
	}
	if key != w.last {
		w.last, w.said = key, describe(v.Row)
		w.report(c)
	}
	switch {
	case v.State == track.PhaseUpToDate:
		return true, nil
	case w.stuck != "" && (f.Did == "" || now.Sub(w.since) >= w.settle):
		return true, &StuckError{MAC: w.mac, Finding: f}
	}
	return false, nil
}

// open opens the store once it is there, and re-reads the config on
// every poll (keeping the last good one while it is being edited).
func (w *watcher) open(ctx context.Context) error {
	cfg, cfgErr := w.o.config()
	if w.fl != nil {
		if cfgErr == nil {
			w.fl.Config = cfg
		}
		return nil
	}
	if cfgErr != nil {
		return cfgErr
	}
	if !store.Exists(w.o.data(), cfg.Store.URL) {
		w.before = map[phone.MAC]bool{} // no store yet: every phone is new
		return nil
	}
	fl, err := fleet.Open(ctx, w.o.data(), cfg)
	if err != nil {
		return fmt.Errorf("recover --watch: %w", err)
	}
	w.fl = &fl
	if w.before == nil {
		rows, err := fl.Loads(ctx)
		if err != nil {
			return fmt.Errorf("recover --watch: %w", err)
		}
		w.before = map[phone.MAC]bool{}
		for _, r := range rows {
			if !r.LastSeen.IsZero() && !r.LastSeen.After(w.start) {
				w.before[r.MAC] = true
			}
		}
	}
	return nil
}

// appeared finds the phone to follow among those seen since the start:
// the MAC asked for; else a phone of the model; else a new phone of
// unknown model; else a phone of unknown model that began a boot. It
// reports it.
func (w *watcher) appeared(ctx context.Context) (phone.MAC, bool, error) {
	rows, err := w.fl.Loads(ctx)
	if err != nil {
		return phone.MAC{}, false, fmt.Errorf("recover --watch: %w", err)
	}
	best, rank := -1, 0
	for i, r := range rows {
		if !r.LastSeen.After(w.start) {
			continue
		}
		m, known := phone.ModelByName(r.Model)
		k := 0
		switch {
		case w.mac != (phone.MAC{}):
			if r.MAC == w.mac {
				k = 4
			}
		case known && m.Name == w.model.Name:
			k = 3
		case !known && !w.before[r.MAC]:
			k = 2
		case !known:
			k = 1
		}
		if k == 1 && rank < 1 {
			booted, err := w.bootedSince(ctx, r.MAC)
			if err != nil {
				return phone.MAC{}, false, err
			}
			if !booted {
				k = 0 // a phone seen before that only went on talking
			}
		}
		if k > rank {
			best, rank = i, k
		}
	}
	if best < 0 {
		return phone.MAC{}, false, nil
	}
	r := rows[best]
	how := "in the inventory"
	if r.Source == store.SourceAuto {
		how = "not in the inventory: auto-provisioned"
	}
	model := r.Model
	if model == "" {
		model = "model not known yet"
	}
	text := fmt.Sprintf("appeared at %s (%s, %s)", dash(r.IP), model, how)
	if w.mac == (phone.MAC{}) {
		text += "; following it (--mac follows another)"
	}
	w.report(Change{Time: w.o.now(), MAC: r.MAC, Text: text})
	return r.MAC, true, nil
}

// bootedSince reports whether the phone began a boot since the start: it
// asked for the first file of a boot (CTLSEP<MAC>.tlv, OS79XX.TXT,
// termNN.default.loads; cisco-79xx.md §1.2-§1.3).
func (w *watcher) bootedSince(ctx context.Context, mac phone.MAC) (bool, error) {
	evs, err := w.fl.Store.Events(ctx, mac, 50)
	if err != nil {
		return false, fmt.Errorf("recover --watch: %w", err)
	}
	for _, ev := range evs {
		if !ev.Time.After(w.start) || !ev.IsRequest() {
			continue
		}
		switch phone.ParseName(ev.File).Kind {
		case phone.KindCTL, phone.KindOSImage, phone.KindTermDefault:
			return true, nil
		}
	}
	return false, nil
}

// duration is d as people write it: 30m, 1h30m, 45s.
func duration(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(time.Second)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
