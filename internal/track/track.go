// Package track derives what each phone is doing, and what is wrong with a
// stuck one, from its timeline: the files it asked for, its DHCP and
// syslog, and the decisions provision took about it (event.Event). It
// reads the events' typed facts, never their detail sentences. Everything
// here is a pure function of a Timeline: the same timeline always gives
// the same State, whoever shows it.
package track

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// Finding is a diagnosis: what is wrong, why, what phoneboot did, what to do.
type Finding struct {
	Rule     string    `json:"rule"`     // "ctl-loop", "config-loop", "missing-file", … (see Rules)
	Severity string    `json:"severity"` // SevError, SevWarning, SevInfo
	Symptom  string    `json:"symptom"`  // what the admin sees
	Cause    string    `json:"cause"`
	Did      string    `json:"did,omitempty"` // what phoneboot did about it ("" if nothing)
	Do       string    `json:"do"`            // what the admin should do
	Source   string    `json:"source"`        // "seed page", "docs/cisco-79xx.md §1.6", …
	At       time.Time `json:"at"`
}

// Severities, most severe first. An error means the phone will not get
// where it should without the admin.
const (
	SevError   = "error"
	SevWarning = "warning"
	SevInfo    = "info"
)

// Phases of State.
const (
	PhaseBooting  = "booting"
	PhaseConfig   = "fetching config"
	PhaseUpgrade  = "upgrading"
	PhaseReboot   = "rebooting"
	PhaseUpToDate = "up to date"
	PhaseStuck    = "stuck"
	PhaseQuiet    = "quiet"
	PhaseUnknown  = "unknown"
)

// State is what a phone is doing, derived from its timeline.
type State struct {
	Phase   string
	Detail  string // "upgrading 2/4 P0S3-07-2-00: 3 of 5 files", "fetching config (SEP….cnf.xml)"
	Running string // load it runs, "" unknown
	Target  string // load it should run, "" unknown
	// Download is set while the phone's last boot is fetching a load's
	// files (also when it got stuck doing so).
	Download *Progress
	Findings []Finding // most severe first
	LastSeen time.Time
}

// Progress is a firmware download: Load's list and components.
type Progress struct {
	Load      string `json:"load"`
	Files     int    `json:"files"` // 0: unknown
	FilesDone int    `json:"files_done"`
	Bytes     int64  `json:"bytes"` // 0: unknown (Timeline.Loads gives sizes)
	BytesDone int64  `json:"bytes_done"`
}

// File is a component of a load.
type File struct {
	Name string
	Size int64
}

// Timeline is one phone and what happened to it.
type Timeline struct {
	MAC phone.MAC
	// LastSeen is when the phone was last seen, if later than its last event.
	LastSeen time.Time
	// Running is the load the phone runs as its record says ("" unknown);
	// the last "load" event's, when unset.
	Running string
	// Target is the load the phone is to run; "" takes the target of
	// provision's last upgrade plan.
	Target string
	// Events are the phone's events, oldest first (Analyze sorts a copy).
	Events []event.Event
	// Neighbours are, optionally, the other events seen from the phone's
	// address: attributed to no phone or to another one. Only foreign-tftp
	// looks at them.
	Neighbours []event.Event
	Now        time.Time
	// Loads lists, by load ID, the components of loads the caller knows
	// (the firmware catalog), for the sizes in Progress. Optional.
	Loads map[string][]File
	// Settings are the rules' thresholds.
	Settings Settings

	// reqs are the requests of Events, sorted, when parsed (Prepare).
	reqs   []req
	parsed bool
}

// Settings are the thresholds of the rules, from the config.
type Settings struct {
	// QuietAfter is how long without an event makes a phone "quiet", and
	// a download that stopped a "quiet-mid-upgrade". A 7940/7960 pauses
	// ~24 s between .loads and its configs (cisco-79xx.md §1.2.1); a 79x1
	// flashing a component for a minute or two is normal.
	QuietAfter time.Duration
	// CTLLoopRequests and ConfigLoopRequests in a row of the same CTL/ITL
	// or SEP<MAC>.cnf.xml file make a loop, as provision counts them.
	CTLLoopRequests, ConfigLoopRequests int
	// LoopGap: requests further apart than this are not one loop
	// (provision's loop window; an unprovisioned 79x1 asks every 1–2 min,
	// cisco-79xx.md §1.3).
	LoopGap time.Duration
}

// Window is how far back from its last event the rules look.
const Window = time.Hour

// Rule is one diagnosis, a pure function of the timeline (its events
// sorted oldest first).
type Rule func(tl Timeline) []Finding

// A timed rule is one whose finding depends on how long ago something
// happened: it reads the timeline once and returns what it finds at a
// given time (nil: nothing, whatever the time).
type timedRule func(tl Timeline) func(now time.Time) []Finding

// rule is one of Rules: plain, or timed.
type rule struct {
	plain Rule
	timed timedRule
}

// rules are run by Analyze, in this order (the order of findings of the
// same severity).
var rules = []rule{
	{plain: CTLLoop}, {plain: ConfigLoop}, {plain: MissingFile}, {plain: MissingTermFile}, {plain: DownloadRestarts},
	{plain: OldSIPOS79XX}, {plain: ForeignTFTP}, {plain: Impostor}, {timed: quietMidUpgrade}, {plain: UpgradeBlocked},
	{plain: DHCPDiscoverLoop}, {timed: dhcpNoTFTP}, {plain: DHCPDecline}, {plain: UnansweredARP}, {plain: StaleServer},
}

// Rules are run by Analyze, in this order (the order of findings of the
// same severity).
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = r.plain
		if r.timed != nil {
			out[i] = at(r.timed)
		}
	}
	return out
}

// at is a timed rule judged at the timeline's Now.
func at(r timedRule) Rule {
	return func(tl Timeline) []Finding {
		if found := r(tl); found != nil {
			return found(tl.Now)
		}
		return nil
	}
}

// Analyze derives the state and runs every rule: Prepare(tl).At(tl.Now).
func Analyze(tl Timeline) State { return Prepare(tl).At(tl.Now) }

// Analysis is a timeline read through: all of what Analyze derives from
// it, except what depends on the time it is judged at (how long the
// phone has been silent). Prepare does the work; At is cheap, so a caller
// that keeps the Analysis of each phone (internal/fleet) judges thousands
// of phones at the current time without reading their events again. It
// keeps no event.
type Analysis struct {
	st    State     // Phase, Detail, Download as the requests say; no Findings
	found []finding // of the rules, in their order
	quiet time.Duration
}

// finding is what one rule found: fixed, or (at set) depending on the time.
type finding struct {
	fixed []Finding
	at    func(now time.Time) []Finding
}

// Prepare reads the timeline for At; tl.Now is not used.
func Prepare(tl Timeline) Analysis {
	tl.Events = slices.Clone(tl.Events)
	slices.SortStableFunc(tl.Events, byTime)
	tl.reqs, tl.parsed = requests(tl.Events), true
	tl.Running, tl.Target = running(tl), target(tl)
	a := Analysis{st: State{Running: tl.Running, Target: tl.Target, LastSeen: tl.LastSeen}, quiet: tl.Settings.QuietAfter}
	if n := len(tl.Events); n > 0 && tl.Events[n-1].Time.After(a.st.LastSeen) {
		a.st.LastSeen = tl.Events[n-1].Time
	}
	for _, r := range rules {
		if r.timed != nil {
			if at := r.timed(tl); at != nil {
				a.found = append(a.found, finding{at: at})
			}
		} else if fs := r.plain(tl); len(fs) > 0 {
			a.found = append(a.found, finding{fixed: fs})
		}
	}
	a.st.Phase, a.st.Detail, a.st.Download = phase(tl, a.st.Running, a.st.Target)
	return a
}

// At is the state of the phone at now: Analyze's, for a timeline whose
// Now is now. Its Findings and Download are the caller's to change.
func (a Analysis) At(now time.Time) State {
	st := a.st
	for _, f := range a.found {
		if f.at != nil {
			st.Findings = append(st.Findings, f.at(now)...)
		} else {
			st.Findings = append(st.Findings, f.fixed...)
		}
	}
	slices.SortStableFunc(st.Findings, func(a, b Finding) int { return cmp.Compare(rank(a.Severity), rank(b.Severity)) })
	if st.Download != nil {
		p := *st.Download
		st.Download = &p
	}
	// An error outranks what the requests look like; a phone that went
	// silent before it was done is "quiet". One that is done is expected
	// to go silent: it talks to its call control now (§1.1 stage 7).
	switch {
	case len(st.Findings) > 0 && st.Findings[0].Severity == SevError:
		st.Phase, st.Detail = PhaseStuck, st.Findings[0].Symptom
	case st.Phase != PhaseUpToDate && st.Phase != PhaseUnknown && now.Sub(st.LastSeen) > a.quiet:
		st.Phase, st.Detail = PhaseQuiet, fmt.Sprintf("nothing for %s; last: %s", now.Sub(st.LastSeen).Round(time.Second), st.Detail)
	}
	return st
}

func rank(sev string) int {
	switch sev {
	case SevError:
		return 0
	case SevWarning:
		return 1
	}
	return 2
}

func byTime(a, b event.Event) int { return a.Time.Compare(b.Time) }

// phase is what the requests of the phone's last boot say, before
// findings and silence are taken into account.
func phase(tl Timeline, run, tgt string) (string, string, *Progress) {
	reqs := tl.allRequests()
	if len(reqs) == 0 {
		if len(tl.Events) == 0 {
			return PhaseUnknown, "no events", nil
		}
		return PhaseUnknown, "no TFTP request seen", nil
	}
	last := reqs[len(reqs)-1]
	lastEv := tl.Events[len(tl.Events)-1]
	// A "load" event after a component: the phone flashed its new load
	// and restarts with it (§1.2-§1.3); its next boot begins with a new
	// CTLSEP/OS79XX.TXT request.
	if lastEv.Is(event.Provision, event.Load) && last.n.Kind == phone.KindImage {
		return PhaseReboot, "rebooting into " + lastEv.Facts.Running, nil
	}
	boot := reqs[bootStart(reqs):]
	if downloading(last, run) {
		p := progress(tl, boot, run)
		return PhaseUpgrade, upgradeDetail(tl, p), p
	}
	if configDone(boot, tl.MAC, run) {
		if tgt == "" || strings.EqualFold(run, tgt) {
			return PhaseUpToDate, "up to date on " + orUnknown(run), nil
		}
		return PhaseConfig, fmt.Sprintf("fetching config (on %s, target %s)", orUnknown(run), tgt), nil
	}
	switch last.n.Kind {
	case phone.KindCTL, phone.KindITL, phone.KindTrustFile, phone.KindOSImage:
		return PhaseBooting, "booting (" + last.name + ")", nil
	}
	return PhaseConfig, "fetching config (" + last.name + ")", nil
}

func orUnknown(load string) string {
	if load == "" {
		return "an unknown load"
	}
	return load
}

// bootStart is the index of the request that began the last boot: the
// first request of a boot is CTLSEP<MAC>.tlv (UAL and Java loads),
// OS79XX.TXT (old 7940/7960 loads) or termNN.default.loads (a Java phone
// after a factory reset) (cisco-79xx.md §1.2-§1.3). The same file asked
// again right away is a loop in the same boot, not a new one.
func bootStart(reqs []req) int {
	for i := len(reqs) - 1; i > 0; i-- {
		if starts(reqs[i].n.Kind) && !starts(reqs[i-1].n.Kind) {
			return i
		}
	}
	return 0
}

func starts(k phone.Kind) bool {
	return k == phone.KindCTL || k == phone.KindOSImage || k == phone.KindTermDefault
}

// downloading: the last request is part of fetching a load: a component,
// or a load list that was served. A 7940/7960 fetches the .loads of the
// load it runs on every boot (§1.2.1): that one is config, not a download.
func downloading(r req, run string) bool {
	switch r.n.Kind {
	case phone.KindImage:
		return true
	case phone.KindTermDefault:
		return r.ev.Outcome == event.OK
	case phone.KindLoadList:
		return r.ev.Outcome == event.OK && !strings.EqualFold(r.n.Load, run)
	}
	return false
}

// configDone: the boot got the phone's own config, the last file before
// call control: SIP<MAC>.cnf on a 7940/7960 SIP load (§1.2.1),
// SEP<MAC>.cnf.xml (or XMLDefault.cnf.xml) otherwise (§1.2.2, §1.3).
func configDone(boot []req, mac phone.MAC, run string) bool {
	l, _ := phone.ParseLoadID(run)
	classicSIP := l.Family == phone.FamilyClassic && l.Protocol == "SIP"
	for _, r := range boot {
		if r.ev.Outcome != event.OK {
			continue
		}
		switch r.n.Kind {
		case phone.KindSIPDefault:
			classicSIP = true
		case phone.KindSIPConfig:
			if r.n.MAC == mac {
				return true
			}
		}
	}
	if classicSIP {
		return false
	}
	for _, r := range boot {
		if r.ev.Outcome == event.OK && ((r.n.Kind == phone.KindDeviceConfig && r.n.MAC == mac) || r.n.Kind == phone.KindDefaultConfig) {
			return true
		}
	}
	return false
}

// progress counts the download the boot is in: from its last load list
// (<L>.loads or termNN.default.loads) on.
func progress(tl Timeline, boot []req, run string) *Progress {
	from := -1
	for i, r := range boot {
		if r.n.Kind == phone.KindTermDefault || r.n.Kind == phone.KindLoadList && !strings.EqualFold(r.n.Load, run) {
			from = i
		}
	}
	p := &Progress{}
	if from < 0 {
		return p // components without their list in this boot
	}
	list := boot[from]
	p.Load = strings.TrimSuffix(list.name, ".loads")
	if list.n.Kind == phone.KindLoadList {
		p.Load = list.n.Load
	}
	if files, ok := lookupFold(tl.Loads, p.Load); ok {
		p.Files = len(files)
		for _, f := range files {
			p.Bytes += f.Size
		}
	} else {
		// The usual lists: .sbn loader + .sb2 application for a
		// 7940/7960 (§4.2); jar, cnu, apps, dsp, cvm for the others (§4.3).
		l, ok := phone.ParseLoadID(p.Load)
		switch {
		case list.n.Kind == phone.KindTermDefault || ok && l.Family == phone.FamilyJava:
			p.Files = 5
		case ok && l.Family == phone.FamilyClassic:
			p.Files = 2
		}
	}
	done := map[string]bool{}
	for _, r := range boot[from+1:] {
		if r.n.Kind == phone.KindImage && r.ev.Outcome == event.OK && !done[strings.ToLower(r.name)] {
			done[strings.ToLower(r.name)] = true
			p.FilesDone++
			p.BytesDone += r.ev.Bytes
		}
	}
	return p
}

func lookupFold(m map[string][]File, id string) ([]File, bool) {
	for k, v := range m {
		if strings.EqualFold(k, id) {
			return v, true
		}
	}
	return nil, false
}

// upgradeDetail: "upgrading 2/4 P0S3-07-2-00: 3 of 5 files", the step
// from provision's "upgrade" events when they name the path.
func upgradeDetail(tl Timeline, p *Progress) string {
	s := "upgrading "
	if st, ok := steps(tl.Events)[strings.ToLower(p.Load)]; ok {
		s += fmt.Sprintf("%d/%d ", st[0], st[1])
	}
	s += cmp.Or(p.Load, "firmware") + ": "
	if p.Files > 0 {
		return s + fmt.Sprintf("%d of %d files", p.FilesDone, p.Files)
	}
	return s + fmt.Sprintf("%d files", p.FilesDone)
}

// steps numbers the upgrade steps provision gave, by lower-case load ID:
// {i, n}. Each "upgrade" event's Path is what is left of the walk; a path
// that is the tail of the one before continues the same walk.
func steps(evs []event.Event) map[string][2]int {
	out := map[string][2]int{}
	var walk []string
	for _, ev := range evs {
		path := ev.Facts.Path
		if !ev.Is(event.Provision, event.Upgrade) || len(path) == 0 {
			continue
		}
		if len(path) > len(walk) || !slices.EqualFunc(walk[len(walk)-len(path):], path, strings.EqualFold) {
			walk = path
		}
		out[strings.ToLower(path[0])] = [2]int{len(walk) - len(path) + 1, len(walk)}
	}
	return out
}

// running is the load the phone runs: its record's, else the last
// "load" event's.
func running(tl Timeline) string {
	if tl.Running != "" {
		return tl.Running
	}
	for _, ev := range slices.Backward(tl.Events) {
		if ev.Is(event.Provision, event.Load) {
			return ev.Facts.Running
		}
	}
	return ""
}

// target is Timeline.Target, else the target of provision's last plan.
func target(tl Timeline) string {
	if tl.Target != "" {
		return tl.Target
	}
	if ev, ok := lastPlan(tl.Events); ok {
		return ev.Facts.Target
	}
	return ""
}

// lastPlan is provision's last "upgrade" or "upgrade-blocked" event.
func lastPlan(evs []event.Event) (event.Event, bool) {
	for _, ev := range slices.Backward(evs) {
		if ev.Is(event.Provision, event.Upgrade, event.UpgradeBlocked) {
			return ev, true
		}
	}
	return event.Event{}, false
}

// req is a file request of the timeline, its name parsed.
type req struct {
	ev   *event.Event
	at   int    // ev's index in the events it was found in
	name string // as asked, without a leading "/" or "./"
	n    phone.Name
}

// requests are the file requests among evs.
func requests(evs []event.Event) []req { return requestsWhere(evs, (*event.Event).IsRequest) }

// requestsWhere are the events keep keeps, as requests.
func requestsWhere(evs []event.Event, keep func(*event.Event) bool) []req {
	var out []req
	for i := range evs {
		ev := &evs[i]
		if !keep(ev) {
			continue
		}
		name := strings.TrimLeft(strings.ReplaceAll(ev.File, `\`, "/"), "/")
		name = strings.TrimPrefix(name, "./")
		out = append(out, req{ev: ev, at: i, name: name, n: phone.ParseName(name)})
	}
	return out
}

// allRequests are the requests of tl.Events: parsed once by Prepare for
// every rule, else here.
func (tl Timeline) allRequests() []req {
	if tl.parsed {
		return tl.reqs
	}
	return requests(tl.Events)
}

// recentRequests are the requests of recent(tl.Events).
func (tl Timeline) recentRequests() []req {
	all := tl.allRequests()
	from := len(tl.Events) - len(recent(tl.Events))
	k, _ := slices.BinarySearchFunc(all, from, func(r req, i int) int { return cmp.Compare(r.at, i) })
	return all[k:]
}

// recent are the events of the last Window before the last event.
func recent(evs []event.Event) []event.Event {
	if len(evs) == 0 {
		return nil
	}
	from := evs[len(evs)-1].Time.Add(-Window)
	i, _ := slices.BinarySearchFunc(evs, from, func(ev event.Event, t time.Time) int { return ev.Time.Compare(t) })
	return evs[i:]
}

func isFirmware(k phone.Kind) bool {
	return k == phone.KindLoadList || k == phone.KindTermDefault || k == phone.KindImage
}
