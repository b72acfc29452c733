package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"phoneboot/internal/phone"
)

// Plan is the way from a phone's running load to its target.
type Plan struct {
	Target string // as given
	// Next is the load to name in the phone's config now; "" = name none
	// (stay).
	Next string
	// Path is every load still to go through, Next first, Target last;
	// empty when already there. It stops before a missing load.
	Path []string
	// Missing is a load the catalog lacks, as people should read it
	// ("SIP 7.x, e.g. P0S3-07-x-xx", or the target itself), "" if none.
	Missing string
	// Refused says why the target is not allowed at all, "" if allowed.
	Refused string
	// Unsure says why no step is named for a phone whose load is known
	// only as a set of possibilities (NextSafe), "" otherwise.
	Unsure string
	Rules  []Rule // rules that shaped the path (for the finding's "source")
	Done   bool   // running == target
}

// maxDepth bounds the recursion of walk. The longest real walk, SIP 2.x →
// SCCP through 4.4, 5.3, 6.x and 7.x, nests six deep.
const maxDepth = 16

// Next plans the way from running to target using only loads in available
// (load IDs in the catalog that are complete). running may be "" when
// unknown; so is a name that does not parse or does not fit m.
//
// A waypoint is satisfied by the highest available load of its class; the
// classes are bounded, so that load is always short of the next waypoint or
// target. When a waypoint has no available load, Path holds the steps up
// to it, Missing names it, and Next is Path[0] or "" (stay).
//
// Unknown running load: the phone is assumed to run the target's protocol
// at the lowest version. For a 7940/7960 on SIP that starts the walk at the
// first waypoint, SIP 4.4, because the phone may be on anything from 2.x; a
// phone already on signed 5.x+ should refuse the unsigned 4.4 (§4.4 [S10];
// inference) and stay where it is until its load is known. For Java phones
// the 8.5(2) waypoint is named first when available, else the target, so
// that a catalog without 8.5(2) does not hold back every phone whose load
// is unknown (a choice; the sources are silent).
//
// 7902/7905/7912 and other models have no rules here (their CP… names are
// not parsed by phone.ParseLoadID); their target is named as is.
func Next(m phone.Model, running, target string, available []string) Plan {
	p := Plan{Target: target}
	if target == "" {
		p.Refused = "no target load given"
		return p
	}
	tgt, ok := phone.ParseLoadID(target)
	if r, why := misfit(m, target, tgt, ok); why != "" {
		p.Refused, p.Rules = why, []Rule{r}
		return p
	}
	if running != "" && strings.EqualFold(running, target) {
		p.Done = true
		return p
	}
	inCatalog := slices.ContainsFunc(available, func(a string) bool { return strings.EqualFold(a, target) })
	if m.Family != phone.FamilyClassic && m.Family != phone.FamilyJava {
		if inCatalog {
			p.Next, p.Path = target, []string{target}
		} else {
			p.Missing = target
		}
		return p
	}

	w := walker{family: m.Family}
	for _, a := range available {
		if l, ok := phone.ParseLoadID(a); ok && fits(m, l) && !l.Loader {
			w.avail = append(w.avail, l)
		}
	}
	cur, known := phone.ParseLoadID(running)
	if !known || !fits(m, cur) || cur.Loader {
		known = false
		cur = phone.LoadID{Family: m.Family, Prefix: m.LoadPrefix, Protocol: tgt.Protocol}
	}
	lenient := !known && m.Family == phone.FamilyJava
	path, missing, refused := w.walk(cur, tgt, lenient, 0)
	p.Rules = w.used
	if refused != "" {
		p.Refused = refused
		return p
	}
	if missing == "" && !inCatalog {
		path = path[:len(path)-1]
		missing = fmt.Sprintf("%s (%s)", tgt, target)
	}
	for _, l := range path {
		p.Path = append(p.Path, l.Raw)
	}
	if len(p.Path) > 0 {
		p.Next = p.Path[0]
	}
	p.Missing = missing
	return p
}

type walker struct {
	family phone.Family
	avail  []phone.LoadID // parsed, fitting the model, no loaders
	used   []Rule
}

// walk returns the loads from cur (exclusive) to tgt (inclusive), each a
// hop no rule forbids or interrupts. It stops early with missing set when a
// waypoint has no available load, and returns refused when a hop is not
// allowed. lenient skips waypoints that have no available load (unknown
// running load on a Java phone). tgt's availability is the caller's matter.
func (w *walker) walk(cur, tgt phone.LoadID, lenient bool, depth int) (path []phone.LoadID, missing, refused string) {
	if depth > maxDepth {
		return nil, "", "no safe path found: the rules do not converge"
	}
	if r, ok := w.find(func(r Rule) bool { return r.Refuse && r.From.contains(cur) && r.To.contains(tgt) }); ok {
		w.use(r)
		return nil, "", fmt.Sprintf("%s → %s is not allowed: %s", cur, tgt, r.Text)
	}
	var wp Waypoint
	r, ok := w.find(func(r Rule) bool {
		if r.Refuse || !r.From.contains(cur) || !r.To.contains(tgt) {
			return false
		}
		for _, v := range r.Via {
			if v.needed(cur, tgt, r.Down) {
				wp = v
				return true
			}
		}
		return false
	})
	if !ok {
		return []phone.LoadID{tgt}, "", ""
	}
	via, found := w.best(wp, tgt.Protocol)
	if !found && lenient {
		return []phone.LoadID{tgt}, "", ""
	}
	w.use(r)
	if !found {
		// Plan to a stand-in for the class to learn the steps up to it:
		// SIP 4.4 → SCCP needs SIP 7.x, but 5.3 and 6.x can come first.
		stand := phone.LoadID{Family: cur.Family, Prefix: cur.Prefix, Protocol: tgt.Protocol,
			Major: wp.Min.Major, Minor: wp.Min.Minor, Maint: wp.Min.Maint}
		if wp.Protocols != nil {
			stand.Protocol = wp.Protocols[0]
		}
		path, missing, refused = w.walk(cur, stand, lenient, depth+1)
		if missing != "" || refused != "" {
			return path, missing, refused
		}
		return path[:len(path)-1], wp.Label + ", e.g. " + strings.ReplaceAll(wp.Example, "NN", cur.Prefix), ""
	}
	path, missing, refused = w.walk(cur, via, lenient, depth+1)
	if missing != "" || refused != "" {
		return path, missing, refused
	}
	rest, missing, refused := w.walk(via, tgt, false, depth+1)
	if refused != "" {
		return nil, "", refused
	}
	return append(path, rest...), missing, refused
}

// find returns the first rule of the phone's family that match accepts.
func (w *walker) find(match func(Rule) bool) (Rule, bool) {
	for _, r := range Rules {
		if r.Family == w.family && r.Fit == FitNone && match(r) {
			return r, true
		}
	}
	return Rule{}, false
}

func (w *walker) use(r Rule) {
	if !slices.ContainsFunc(w.used, func(u Rule) bool { return u.Name == r.Name }) {
		w.used = append(w.used, r)
	}
}

// best is the available load that satisfies wp: the target's protocol
// first (§4.4 [S30] went SIP → SCCP 8.5(2) → SIP, so either will do), then
// the highest version, then the name, so that the choice is stable.
func (w *walker) best(wp Waypoint, proto string) (phone.LoadID, bool) {
	var best phone.LoadID
	found := false
	for _, l := range w.avail {
		if !wp.contains(l) {
			continue
		}
		if !found || better(l, best, proto) {
			best, found = l, true
		}
	}
	return best, found
}

func better(a, b phone.LoadID, proto string) bool {
	if (a.Protocol == proto) != (b.Protocol == proto) {
		return a.Protocol == proto
	}
	if a.Less(b) || b.Less(a) {
		return b.Less(a)
	}
	return a.Raw < b.Raw
}

// fits reports whether a parsed load is of m's family and, for Java
// phones, of m's type number.
func fits(m phone.Model, l phone.LoadID) bool {
	return l.Family == m.Family && (l.Family != phone.FamilyJava || l.Prefix == m.LoadPrefix)
}

// misfit checks the Fit rules on the target; why is "" when it fits.
func misfit(m phone.Model, target string, l phone.LoadID, parsed bool) (Rule, string) {
	switch {
	case m.Family == 0:
		return fitRule(FitFamily), fmt.Sprintf("unknown phone model: cannot tell whether load %s fits it", target)
	case m.Family != phone.FamilyClassic && m.Family != phone.FamilyJava:
		if parsed {
			return fitRule(FitFamily), fmt.Sprintf("load %s is a %s load; a %s is %s", target, l.Family, m.Name, m.Family)
		}
		return Rule{}, ""
	case !fits(m, l) || !parsed:
		r := fitRule(FitFamily)
		if parsed && l.Family == m.Family {
			r = fitRule(FitPrefix)
		}
		starts := "P003/P0S3"
		if m.Family == phone.FamilyJava {
			starts = "SCCP" + m.LoadPrefix + "/SIP" + m.LoadPrefix
		}
		return r, fmt.Sprintf("load %s does not fit a %s (its loads start %s)", target, m.Name, starts)
	case l.Loader:
		return fitRule(FitLoader), fmt.Sprintf("load %s is the loader of a SIP package, not a load to name (name its P0S3-… load)", target)
	}
	return Rule{}, ""
}

func fitRule(f Fit) Rule {
	for _, r := range Rules {
		if r.Fit == f {
			return r
		}
	}
	return Rule{Name: "fit", Text: "load does not fit the model", Source: "docs/cisco-79xx.md §4.3"}
}
