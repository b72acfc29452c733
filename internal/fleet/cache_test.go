package fleet

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

// reference is Phones as it was before the Cache: every phone's newest
// timelineLength events read on their own and analysed at Now.
func reference(t *testing.T, f Fleet) []Row {
	t.Helper()
	ctx := context.Background()
	rows, seen, err := f.rows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		p := seen[rows[i].MAC]
		if p.LastSeen.IsZero() {
			rows[i].State = NeverSeen
			continue
		}
		events, err := f.Store.Events(ctx, rows[i].MAC, timelineLength)
		if err != nil {
			t.Fatal(err)
		}
		judge(&rows[i], track.Analyze(track.Timeline{MAC: rows[i].MAC, LastSeen: p.LastSeen, Running: rows[i].Load,
			Target: rows[i].Target, Events: events, Now: f.now(), Settings: Settings(f.Config)}))
	}
	return rows
}

// same fails unless Phones, with the cache and without, gives what
// reference gives.
func same(t *testing.T, step string, f Fleet) {
	t.Helper()
	want := reference(t, f)
	for _, cache := range []*Cache{f.Cache, nil} {
		g := f
		g.Cache = cache
		got, err := g.Phones(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s (cache %v): %d rows, want %d", step, cache != nil, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%s (cache %v): row %d\n got %+v\nwant %+v", step, cache != nil, i, got[i], want[i])
				return
			}
		}
	}
}

// TestPhonesCache: a cached fleet view says what reading every timeline
// says, through new events, the clock moving on, prunes, evictions, and
// changes of the inventory and the config.
func TestPhonesCache(t *testing.T) {
	ctx := context.Background()
	const n = 300
	f := fillFleet(t, t.TempDir(), n)
	f.Cache = NewCache()
	now := fixtureNow
	f.Now = func() time.Time { return now }
	same(t, "first call", f)
	same(t, "nothing changed", f)

	// The clock: downloads that stopped become stuck, details count on.
	now = now.Add(7 * time.Minute)
	same(t, "7 minutes later", f)

	// New events: the stopped downloads go on (phone 2, 22, …), a phone
	// boots again, an event of no phone, a foreign request naming one.
	stranger := phone.MAC{0, 0x13, 0x7f, 0xee, 0, 1}
	var evs []event.Event
	for i := 2; i < n; i += 20 {
		evs = append(evs, event.Event{Time: now, MAC: fixtureMAC(i), Source: event.TFTP, Kind: event.Request,
			File: "dsp41.9-4-2ES26.sbn", Outcome: event.OK, Bytes: 1000})
	}
	evs = append(evs,
		event.Event{Time: now, MAC: fixtureMAC(4), Source: event.DHCP, Kind: event.DHCPDiscover},
		event.Event{Time: now, Source: event.TFTP, Kind: event.Request, File: "nobody.txt", Outcome: event.NotFound},
		event.Event{Time: now, MAC: fixtureMAC(6), Source: event.Provision, Kind: event.Foreign, File: "SEP.cnf.xml"},
		// Older than the phone's last event: arrives late, sorts early.
		event.Event{Time: fixtureNow.Add(-30 * time.Hour), MAC: fixtureMAC(8), Source: event.Syslog, Kind: event.SyslogLine, Detail: "late"},
		// A new phone of no known model, whose target is what an
		// upgrade-blocked event of a day ago said: until it is pruned.
		event.Event{Time: fixtureNow.Add(-30 * time.Hour), MAC: stranger, Source: event.Provision, Kind: event.UpgradeBlocked,
			Detail: "stays: the way needs SIP 7.x", Facts: event.Facts{Target: "P0S3-9-9-00", Missing: "SIP 7.x"}},
		event.Event{Time: now, MAC: stranger, Source: event.Syslog, Kind: event.SyslogLine, Detail: "hello"})
	if err := f.Store.Record(ctx, evs); err != nil {
		t.Fatal(err)
	}
	same(t, "new events", f)

	// A prune of the boots before fixtureNow-24h: every phone's first
	// boot goes.
	if _, err := f.Store.Prune(ctx, store.Retention{EventsMaxAge: time.Since(fixtureNow.Add(-24 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	same(t, "pruned by age", f)
	if v, err := f.Phone(ctx, stranger, 0); err != nil || v.Target != "" || len(v.Events) != 1 {
		t.Errorf("the stranger after the prune: target %q, %d events, %v", v.Target, len(v.Events), err)
	}

	// Unknown phones evicted, down to 50; one comes back with an event.
	if _, err := f.Store.CapUnknown(ctx, 50); err != nil {
		t.Fatal(err)
	}
	same(t, "evicted", f)
	if err := f.Store.Record(ctx, []event.Event{{Time: now, MAC: fixtureMAC(1), Source: event.TFTP, Kind: event.Request,
		File: "SEP" + fixtureMAC(1).Hex() + ".cnf.xml", Outcome: event.OK}}); err != nil {
		t.Fatal(err)
	}
	same(t, "evicted phone back", f)

	// The config: another target for the 7961s, a phone's running load
	// given, a phone added that was never seen, one removed.
	cfg := *f.Config
	cfg.Site.Loads = map[string]config.Load{}
	for k, v := range f.Config.Site.Loads {
		cfg.Site.Loads[k] = v
	}
	cfg.Site.Loads["7961"] = config.Load{ID: fixtureOldJava}
	cfg.Phones = append([]config.Phone{}, f.Config.Phones[1:]...)
	cfg.Phones[0].RunningLoad = fixtureOldJava
	cfg.Phones = append(cfg.Phones, config.Phone{MAC: phone.MAC{0, 0x1e, 0x4a, 0xff, 0xff, 0xff}, Label: "new"})
	cfg.Track.QuietAfter = time.Hour
	f.Config = &cfg
	same(t, "config changed", f)

	// Every event gone.
	if _, err := f.Store.Prune(ctx, store.Retention{EventsMax: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.Prune(ctx, store.Retention{EventsMaxAge: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	same(t, "no events", f)
}

// TestRulesParsedOnce: the findings of Analyze, whose rules share the
// requests it parsed once, are those of each rule run on its own.
func TestRulesParsedOnce(t *testing.T) {
	f := fillFleet(t, t.TempDir(), 200)
	ctx := context.Background()
	rank := map[string]int{track.SevError: 0, track.SevWarning: 1, track.SevInfo: 2}
	n := 0
	for i := range 200 {
		events, err := f.Store.Events(ctx, fixtureMAC(i), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Duration{0, 10 * time.Minute, 3 * time.Hour} {
			tl := track.Timeline{MAC: fixtureMAC(i), Events: events, Now: fixtureNow.Add(at), Settings: Settings(f.Config)}
			got := track.Analyze(tl).Findings
			var want []track.Finding
			for _, r := range track.Rules() {
				want = append(want, r(tl)...)
			}
			slices.SortStableFunc(want, func(a, b track.Finding) int { return rank[a.Severity] - rank[b.Severity] })
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("phone %d at +%s: Analyze\n%+v\nthe rules\n%+v", i, at, got, want)
			}
			n += len(got)
		}
	}
	if n == 0 {
		t.Fatal("no findings at all: the fixture tests nothing")
	}
}

// TestPhonesCacheConcurrent: fleet views sharing a Cache while events
// are written; once the writes stop, the next call is exact.
func TestPhonesCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	const n = 100
	f := fillFleet(t, t.TempDir(), n)
	f.Cache = NewCache()
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, err := f.Phones(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for round := range 20 {
		var evs []event.Event
		for k := range 10 {
			evs = append(evs, event.Event{Time: fixtureNow.Add(time.Duration(round) * time.Second), MAC: fixtureMAC((round*10 + k) % n),
				Source: event.TFTP, Kind: event.Request, File: "CTLSEP" + fixtureMAC(k).Hex() + ".tlv", Outcome: event.NotFound})
		}
		if err := f.Store.Record(ctx, evs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(done)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	same(t, "after concurrent calls", f)
}
