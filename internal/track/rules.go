package track

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// ForeignMinRequests is how many requests of the last Window, none naming
// the phone's MAC, make ForeignTFTP suspect another TFTP server.
const ForeignMinRequests = 3

// persistentSwitches loop-breaker switches in one loop (both remedies,
// twice) and the phone still asks: something else is wrong with it.
const persistentSwitches = 4

// The factory reset of 7940/7960/79x1 phones (seed page, Nov 2005 note).
const factoryReset = "factory-reset the phone (hold # while it powers up, then dial 123456789*0#) with DHCP option 150 pointing at phoneboot"

// CTLLoop: the same CTLSEP/ITLSEP<MAC>.tlv asked CTLLoopRequests times in
// a row (other trust lists in between), or provision's loop breaker acted.
// An error while the phone still loops; info once it moved on.
func CTLLoop(tl Timeline) []Finding {
	trust := func(r req) bool { return r.n.Kind == phone.KindCTL || r.n.Kind == phone.KindITL }
	l, ok := lastLoop(tl, tl.Settings.CTLLoopRequests, trust, kinds(phone.KindTrustFile), event.LoopBreaker)
	if !ok {
		return nil
	}
	f := Finding{Rule: "ctl-loop", Source: "seed page; docs/cisco-79xx.md §1.6 (CTL loop)", At: l.last, Did: strings.Join(l.did, "; "),
		Cause: "after the Universal Application Loader, a 7940/7960 can loop on its CTL file (seed page); a phone whose config asks for an Authenticated or Encrypted security mode and gets no CTL file keeps trying (§1.6)"}
	if l.ended {
		f.Severity = SevInfo
		f.Symptom = fmt.Sprintf("the phone asked for %s over and over (%d times in a row), then moved on", l.name, l.count)
		f.Do = "nothing now: phoneboot keeps serving this phone what got it moving"
		return []Finding{f}
	}
	f.Severity = SevError
	f.Symptom = fmt.Sprintf("the phone asks for %s over and over (%d times in a row)", l.name, l.count)
	switch {
	case len(l.did) >= persistentSwitches:
		f.Do = fmt.Sprintf("phoneboot switched its answer %d times in this loop and the phone still asks: %s", len(l.did), factoryReset)
	case len(l.did) > 0:
		f.Do = "wait a few requests: the loop breaker keeps switching (empty file, then \"not found\" again) while the loop goes on; if the phone never moves on, " + factoryReset
	default:
		f.Do = "let phoneboot answer it: its loop breaker serves an empty file after provision.ctl_loop_requests requests, then \"not found\" again (seed page); remove a CTLSEP file of your own from the TFTP root and keep <deviceSecurityMode>1</deviceSecurityMode> in the phone's config (§1.6)"
	}
	return []Finding{f}
}

// ConfigLoop: SEP<MAC>.cnf.xml asked ConfigLoopRequests times in a row
// (trust lists and ring tones in between, as a 79x1 asks them, §1.3), or
// provision reported a config loop. An error while it goes on.
func ConfigLoop(tl Timeline) []Finding {
	sep := func(r req) bool { return r.n.Kind == phone.KindDeviceConfig && !r.n.Signed }
	between := kinds(phone.KindCTL, phone.KindITL, phone.KindTrustFile, phone.KindRingTone, phone.KindDeviceConfig)
	l, ok := lastLoop(tl, tl.Settings.ConfigLoopRequests, sep, between, event.ConfigLoop)
	if !ok {
		return nil
	}
	f := Finding{Rule: "config-loop", Source: "seed page; docs/cisco-79xx.md §1.3, §1.6 (SEP cnf.xml poll loop)", At: l.last, Did: strings.Join(l.did, "; ")}
	if l.outcome == event.NotFound {
		f.Cause = "there is no such file for it: a 79x1 on SIP shows \"Unprovisioned\" and keeps asking until the file is there, then reboots (§1.3 [S22])"
		f.Do = "serve it a SEP<MAC>.cnf.xml: let phoneboot answer for this TFTP root (it generates one for every phone; add the phone to phoneboot.toml for its lines) or put the file in the root"
	} else {
		f.Cause = "it gets a file it cannot use: on the seed page an empty SEP<mac>.cnf.xml \"did not help\" and the phone looped until a <Default> document naming its load was served; on the bare loader this ends in \"Protocol Application Invalid\" (§1.6)"
		f.Do = "look at the file it gets: a SEP<MAC>.cnf.xml of your own in the TFTP root wins over phoneboot's generated one; remove it if it is empty or broken"
	}
	if l.ended {
		f.Severity = SevInfo
		f.Symptom = fmt.Sprintf("the phone asked for %s over and over (%d times), then moved on", l.name, l.count)
		f.Do = "nothing now"
		return []Finding{f}
	}
	f.Severity = SevError
	f.Symptom = fmt.Sprintf("the phone asks for %s over and over (%d times)", l.name, l.count)
	return []Finding{f}
}

// MissingFile: a .loads or firmware image "not found", not fetched since
// and no new load run since. The .loads of the load the phone already
// runs is left out: a 7940/7960 asks for it on every boot (§1.2.1).
func MissingFile(tl Timeline) []Finding {
	evs := recent(tl.Events)
	reqs := tl.recentRequests()
	run := tl.Running
	var out []Finding
	seen := map[string]bool{}
	for i, r := range slices.Backward(reqs) {
		key := strings.ToLower(r.name)
		if r.ev.Outcome != event.NotFound || (r.n.Kind != phone.KindLoadList && r.n.Kind != phone.KindImage) || seen[key] {
			continue
		}
		seen[key] = true
		if r.n.Kind == phone.KindLoadList && strings.EqualFold(r.n.Load, run) || resolved(evs, reqs[i+1:], r) {
			continue
		}
		f := Finding{Rule: "missing-file", Severity: SevError, At: r.ev.Time, Source: "docs/cisco-79xx.md §8 (File not found), §1.6",
			Do: "import the load's package again (phoneboot firmware import PACKAGE) or copy the file into the TFTP root; phoneboot check names the files missing from the loads phoneboot.toml targets"}
		if r.n.Kind == phone.KindLoadList {
			f.Symptom = fmt.Sprintf("%s is not on the server: the phone shows \"File not found\" and keeps its old load", r.name)
			f.Cause = fmt.Sprintf("its config names load %s, whose load list is neither in the TFTP root nor in the firmware catalog (§8)", r.n.Load)
		} else {
			f.Symptom = fmt.Sprintf("%s is not on the server: the phone shows \"TFTP file not found\" and keeps its old load", r.name)
			list := "its load list"
			for _, p := range slices.Backward(reqs[:i]) {
				if p.n.Kind == phone.KindLoadList || p.n.Kind == phone.KindTermDefault {
					list = p.name
					break
				}
			}
			f.Cause = fmt.Sprintf("%s lists it, but it is missing: the package was unpacked or copied in part, or the file was removed (§4.2, §4.3)", list)
		}
		out = append(out, f)
	}
	slices.Reverse(out)
	return out
}

// resolved: after r, the same load was fetched, or the phone runs a new
// load.
func resolved(evs []event.Event, after []req, r req) bool {
	for _, a := range after {
		if a.ev.Outcome == event.OK && isFirmware(a.n.Kind) && strings.EqualFold(a.n.Load, r.n.Load) && a.n.Kind != phone.KindTermDefault {
			return true
		}
	}
	for _, ev := range evs {
		if ev.Is(event.Provision, event.Load) && ev.Time.After(r.ev.Time) {
			return true
		}
	}
	return false
}

// MissingTermFile: a Java phone after a factory reset asked for
// termNN.default.loads, and the last time it asked the file was not there.
func MissingTermFile(tl Timeline) []Finding {
	reqs := tl.recentRequests()
	for _, r := range slices.Backward(reqs) {
		if r.n.Kind != phone.KindTermDefault {
			continue
		}
		if r.ev.Outcome != event.NotFound {
			return nil // the last one was served
		}
		return []Finding{{Rule: "missing-term-file", Severity: SevError, At: r.ev.Time,
			Symptom: fmt.Sprintf("after a factory reset the phone asks for %s, which is not there", r.name),
			Cause:   "a 79x1/79x2/79x5/797x recovers its load after a factory reset from termNN.default.loads (NN: 41 for 7941, 61 for 7961, …); without it the reset cannot reload (§1.3; seed page: \"7961 default.61 file missing\")",
			Do:      "give the model a target in [site.loads] and import that load's package: phoneboot serves the term file of the target's package; or copy the termNN.default.loads of the protocol you want into the TFTP root, never SCCP and SIP ones mixed (§4.3)",
			Source:  "seed page; docs/cisco-79xx.md §1.3, §4.3"}}
	}
	return nil
}

// DownloadRestarts: a firmware file whose transfer was cut off (timeout,
// aborted, failed), or a component downloaded more than once, with the
// retransmissions the server counted.
// An error when it was cut off 3 times or more and its last attempt was
// cut off too; else a warning (the phone retries by itself).
func DownloadRestarts(tl Timeline) []Finding {
	type tries struct {
		last                     req
		n, ok, failed, retrans   int
		outcomes                 []string
		lastFailed, isComponents bool
	}
	by := map[string]*tries{}
	var order []string
	for _, r := range tl.recentRequests() {
		if !isFirmware(r.n.Kind) {
			continue
		}
		key := strings.ToLower(r.name)
		t := by[key]
		if t == nil {
			t = &tries{isComponents: r.n.Kind == phone.KindImage}
			by[key] = t
			order = append(order, key)
		}
		t.n++
		t.last = r
		t.retrans += r.ev.Facts.Retransmits
		switch {
		case r.ev.Outcome == event.OK:
			t.ok++
			t.lastFailed = false
		case r.ev.Outcome.CutOff():
			t.failed++
			t.lastFailed = true
			if o := string(r.ev.Outcome); !slices.Contains(t.outcomes, o) {
				t.outcomes = append(t.outcomes, o)
			}
		}
	}
	var out []Finding
	for _, key := range order {
		t := by[key]
		if t.failed == 0 && !(t.isComponents && t.ok >= 2) {
			continue
		}
		var parts []string
		if t.failed > 0 {
			parts = append(parts, fmt.Sprintf("%d cut off: %s", t.failed, strings.Join(t.outcomes, ", ")))
		}
		parts = append(parts, fmt.Sprintf("%d complete", t.ok))
		if t.retrans > 0 {
			parts = append(parts, fmt.Sprintf("%d retransmits", t.retrans))
		}
		f := Finding{Rule: "download-restarts", Severity: SevWarning, At: t.last.ev.Time, Source: "docs/cisco-79xx.md §8 (TFTP Timeout)",
			Symptom: fmt.Sprintf("the phone fetched %s %d times (%s)", t.last.name, t.n, strings.Join(parts, ", "))}
		if t.failed >= 3 && t.lastFailed {
			f.Severity = SevError
		}
		if t.retrans > 0 {
			f.Did = fmt.Sprintf("resent %d packets the phone did not acknowledge in time", t.retrans)
		}
		if t.failed > 0 {
			f.Cause = "the transfer stopped before its end: packets were lost between the phone and phoneboot, or the phone gave up; its screen says \"TFTP Timeout\" or \"TFTP Error\" (§8)"
			f.Do = "check the path between the phone and phoneboot (switch port errors, duplex mismatch, a congested uplink); the phone retries by itself"
		} else {
			f.Cause = "it went through the same upgrade again: it restarted before flashing, or rejected the load (\"Load rejected HC\", \"AUTH FAIL\", §8, §1.6)"
			f.Do = "watch its screen during the next download; after AUTH FAIL, upgrade through the intermediate load (§4.4)"
		}
		out = append(out, f)
	}
	return out
}

// OldSIPOS79XX: the phone asked for OS79XX.TXT (or 79XX.TXT), which only
// 7940/7960 images older than the Universal Application Loader do (§1.2),
// and has not booted a UAL load since (a CTLSEP request, §1.2.1).
func OldSIPOS79XX(tl Timeline) []Finding {
	evs := recent(tl.Events)
	reqs := tl.recentRequests()
	at := -1
	for i, r := range reqs {
		switch {
		case r.n.Kind == phone.KindOSImage || strings.EqualFold(r.name, "79XX.TXT"):
			at = i
		case r.n.Kind == phone.KindCTL:
			at = -1
		}
	}
	if at < 0 {
		return nil
	}
	r := reqs[at]
	f := Finding{Rule: "old-sip-os79xx", Severity: SevWarning, At: r.ev.Time,
		Symptom: fmt.Sprintf("the phone asks for %s: it runs a 7940/7960 image older than the Universal Application Loader (SIP < 7, SCCP < 6)", r.name),
		Cause:   "old images choose the image to boot from OS79XX.TXT (§1.2, §1.2.3); really old SIP images ask for 79XX.TXT (seed page comment). From them the way up is in steps, SIP 4.4 → 5.3 → 6.x → 7.x, never straight to 7.x or later (§4.4)",
		Do:      "give the model a target in [site.loads] and import every intermediate load (phoneboot firmware import); phoneboot names one step per boot",
		Source:  "seed page (comment on old SIP firmware); docs/cisco-79xx.md §1.2, §4.4"}
	if run := tl.Running; run != "" {
		f.Cause = "it runs " + run + "; " + f.Cause
	}
	if ev, ok := lastPlan(evs); ok {
		f.Did = string(ev.Kind) + ": " + ev.Detail
	}
	return []Finding{f}
}

// ForeignTFTP is a heuristic for a phone (or address) that talks to
// phoneboot but takes its config elsewhere. It fires when, in the last
// Window:
//   - a request from the phone's address (Events and Neighbours) names a
//     MAC other than the phone's, or
//   - the phone made ForeignMinRequests or more requests, none naming
//     its MAC (CTLSEP/ITLSEP/SEP/SIP<MAC>…), and no factory-reset
//     download (termNN.default.loads comes before any MAC-named file,
//     §1.3).
func ForeignTFTP(tl Timeline) []Finding {
	mac := tl.MAC
	if mac == (phone.MAC{}) {
		return nil
	}
	reqs := tl.recentRequests()
	own, term := false, false
	for _, r := range reqs {
		own = own || r.n.HasMAC && r.n.MAC == mac
		term = term || r.n.Kind == phone.KindTermDefault
	}
	all := tl.Events // sorted by Prepare
	if len(tl.Neighbours) > 0 || !tl.parsed {
		all = append(slices.Clone(tl.Events), tl.Neighbours...)
		slices.SortStableFunc(all, byTime)
	}
	var others []string
	var at time.Time
	var from netip.Addr
	// A request naming another phone is that phone's event.Foreign (its
	// address is another) or, when it had no address yet, a request of it.
	named := func(ev *event.Event) bool { return ev.IsRequest() || ev.Is(event.Provision, event.Foreign) }
	for _, r := range requestsWhere(recent(all), named) {
		if r.n.HasMAC && r.n.MAC != mac {
			if !slices.Contains(others, r.name) {
				others = append(others, r.name)
			}
			at, from = r.ev.Time, r.ev.IP
		}
	}
	f := Finding{Rule: "foreign-tftp", Severity: SevWarning, Source: "seed page (\"the phone will retain settings for TFTP server\")"}
	switch {
	case len(others) > 0:
		if len(others) > 3 {
			others = append(others[:3], "…")
		}
		f.At = at
		f.Symptom = fmt.Sprintf("requests from %s name another phone: %s", from, strings.Join(others, ", "))
		f.Cause = "something at this phone's address asks for another device's files: two phones behind one address, a phone whose device name was set by hand, or a PC with a TFTP client (heuristic: a file named after another MAC from the same address)"
		f.Do = fmt.Sprintf("find the device at %s (tcpdump shows what it asks, seed page); on a phone, compare the MAC on its label with the name in Settings → Network Configuration", from)
	case !own && !term && len(reqs) >= ForeignMinRequests:
		f.At = reqs[len(reqs)-1].ev.Time
		f.Symptom = fmt.Sprintf("the phone asked for %d files here, none of them its own (CTLSEP/SEP/SIP%s…)", len(reqs), mac.Hex())
		f.Cause = fmt.Sprintf("it probably takes its config from another TFTP server: a phone keeps a TFTP server set by hand, and one flashed with the loader keeps its old settings (seed page) (heuristic: %d or more requests in %s, none naming its MAC, no factory-reset download)", ForeignMinRequests, Window)
		f.Do = "on the phone, look at Settings → Network Configuration → TFTP Server 1 / Alternate TFTP and turn the alternate server off, or " + factoryReset
	default:
		return nil
	}
	return []Finding{f}
}

// Impostor: requests naming this phone came from an address that is not
// its own (event.Foreign); they changed nothing of it, and its own files
// went only to its address.
func Impostor(tl Timeline) []Finding {
	var last event.Event
	var from []string
	served := false
	for _, ev := range recent(tl.Events) {
		// With Facts.Other the phone's own address asked for another
		// phone's file: ForeignTFTP's finding.
		if ev.Is(event.Provision, event.Foreign) && ev.Facts.Other == (phone.MAC{}) {
			last, served = ev, served || ev.Outcome == event.OK
			if a := ev.IP.String(); !slices.Contains(from, a) {
				from = append(from, a)
			}
		}
	}
	if len(from) == 0 {
		return nil
	}
	if len(from) > 3 {
		from = append(from[:3], "…")
	}
	f := Finding{Rule: "impostor", Severity: SevWarning, At: last.Time, Source: "docs/security.md",
		Symptom: fmt.Sprintf("requests naming this phone came from %s, not from its address %s (%s)", strings.Join(from, ", "), last.Facts.Bound, last.Facts.Binding),
		Cause:   "another device asks for this phone's files: a PC with a TFTP client, a phone whose device name was set by hand, or this phone at a new address while its old one is still held (first sight holds an address for an hour after the phone's last request)",
		Did:     "answered as for a phone phoneboot does not know, kept this phone's passwords from it and changed nothing of this phone",
		Do:      "find the device at that address; if it is this phone at a new address, reserve the address in the inventory (ip = …) or let phoneboot's DHCP server lease it"}
	if served {
		f.Did = "served this phone's files to it (security.phone_files = \"anyone\") but changed nothing of this phone"
	}
	return []Finding{f}
}

// QuietMidUpgrade: the last request was part of a download (or the phone
// flashed a new load and did not come back), and nothing happened for
// longer than QuietAfter.
func QuietMidUpgrade(tl Timeline) []Finding { return at(quietMidUpgrade)(tl) }

func quietMidUpgrade(tl Timeline) func(time.Time) []Finding {
	reqs := tl.allRequests()
	if len(reqs) == 0 {
		return nil
	}
	last, lastEv := reqs[len(reqs)-1], tl.Events[len(tl.Events)-1]
	flashed := lastEv.Is(event.Provision, event.Load) && last.n.Kind == phone.KindImage
	if !flashed && !downloading(last, tl.Running) {
		return nil
	}
	f := Finding{Rule: "quiet-mid-upgrade", Severity: SevError, At: lastEv.Time, Source: "docs/cisco-79xx.md §1.6 (Protocol Application Invalid); seed page",
		Cause: "the phone lost power while flashing, or the upgrade went half way: once the loader is upgraded the phone forgets its network settings and, without a TFTP server from DHCP, comes up with \"Protocol Application Invalid\" (§1.6 [S28])",
		Do:    "look at the phone; make sure DHCP gives option 150 (or 66) pointing at phoneboot and power-cycle it; if it still does not ask for files, " + factoryReset}
	if l, ok := phone.ParseLoadID(last.n.Load); ok && l.Loader {
		f.Cause = "its last file was the loader " + last.name + "; " + f.Cause
	}
	name, flashedLoad, quiet := last.name, lastEv.Facts.Running, tl.Settings.QuietAfter
	return func(now time.Time) []Finding {
		gap := now.Sub(f.At)
		if gap <= quiet {
			return nil
		}
		f := f
		f.Symptom = fmt.Sprintf("stopped mid-upgrade: nothing since %s, %s ago", name, gap.Round(time.Second))
		if flashed {
			f.Symptom = fmt.Sprintf("stopped mid-upgrade: the phone flashed %s and has not come back for %s", flashedLoad, gap.Round(time.Second))
		}
		return []Finding{f}
	}
}

// UpgradeBlocked relays provision's "upgrade-blocked" event while it is
// the last word on the phone's upgrade: no "upgrade" step since, and the
// phone does not run the target.
func UpgradeBlocked(tl Timeline) []Finding {
	tgt, run := tl.Target, tl.Running
	ev, ok := lastPlan(tl.Events)
	if !ok || ev.Kind == event.Upgrade || tgt != "" && strings.EqualFold(run, tgt) {
		return nil
	}
	f := Finding{Rule: "upgrade-blocked", Severity: SevError, At: ev.Time, Source: "provision; docs/cisco-79xx.md §4.4",
		Symptom: fmt.Sprintf("the phone stays on %s and does not get to %s", orUnknown(run), orText(tgt, "its target")),
		Cause:   ev.Detail,
		Did:     "named no new load in its config, so it keeps the one it has rather than take a step the upgrade rules forbid (§4.4)",
		Do:      "fix the phone's target in phoneboot.toml ([site.loads] or the phone's load)"}
	if ev.Facts.Missing != "" {
		f.Do = fmt.Sprintf("import %s (phoneboot firmware import PACKAGE); the phone gets its next step when it next asks for its config", ev.Facts.Missing)
	}
	return []Finding{f}
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func kinds(ks ...phone.Kind) func(req) bool {
	return func(r req) bool { return slices.Contains(ks, r.n.Kind) }
}

// loop is a stretch of requests in which one file was asked again and
// again.
type loop struct {
	name        string // the file asked most
	count       int
	counts      map[string]int
	last        time.Time
	outcome     event.Outcome // of its last request
	did         []string      // provision's events about it
	ended       bool          // the phone asked for something else afterwards
	lastRequest time.Time
}

// lastLoop finds the last stretch of recent requests matching looped,
// with only between in between and no two looped requests further apart
// than the loop gap, in which one file was asked threshold times or that
// provision reported (its events of the kinds reported).
func lastLoop(tl Timeline, threshold int, looped, between func(req) bool, reported ...event.Kind) (loop, bool) {
	threshold = max(threshold, 2) // one request is no loop, whatever the settings
	var found loop
	ok := false
	var cur *loop
	closeCur := func(ended bool) {
		if cur == nil {
			return
		}
		cur.ended = ended
		if cur.count >= threshold || len(cur.did) > 0 {
			found, ok = *cur, true
		}
		cur = nil
	}
	evs := recent(tl.Events)
	from, reqs := len(tl.Events)-len(evs), tl.recentRequests()
	for i, ev := range evs {
		if ev.Is(event.Provision, reported...) {
			if cur == nil {
				cur = &loop{name: ev.File, counts: map[string]int{}}
			}
			cur.did = append(cur.did, ev.Detail)
			continue
		}
		// The requests are those of evs, in the same order.
		if len(reqs) == 0 || reqs[0].at != from+i {
			continue
		}
		r := reqs[0]
		reqs = reqs[1:]
		switch {
		case looped(r):
			if cur != nil && !cur.lastRequest.IsZero() && r.ev.Time.Sub(cur.lastRequest) > tl.Settings.LoopGap {
				closeCur(false)
			}
			if cur == nil {
				cur = &loop{counts: map[string]int{}}
			}
			key := strings.ToLower(r.name)
			cur.counts[key]++
			if n := cur.counts[key]; n > cur.count || strings.EqualFold(cur.name, r.name) {
				cur.name, cur.count = r.name, n
			}
			cur.last, cur.lastRequest, cur.outcome = r.ev.Time, r.ev.Time, r.ev.Outcome
		case between(r):
		default:
			closeCur(true)
		}
	}
	closeCur(false)
	return found, ok
}
