// Package upgrade plans safe firmware upgrade paths for Cisco 79xx phones.
// The constraints of cisco-79xx.md §4.4 are data (Rules); Next walks them
// from the load a phone runs to the load it should end on, one reboot at a
// time, naming only loads the catalog has.
package upgrade

import (
	"cmp"
	"slices"

	"phoneboot/internal/phone"
)

// Version is a position in load order: major, minor, maintenance, and
// whether a service or engineering tag (SR, ES) follows, which puts a load
// after its untagged release as phone.LoadID.Less does. Build numbers are
// left out: no rule in §4.4 depends on them.
type Version struct {
	Major, Minor, Maint int
	Tagged              bool
}

func ver(major, minor, maint int) Version { return Version{major, minor, maint, false} }

// tagged is the first version after every untagged build of
// major.minor(maint): 8.5(2)SR1 is above it, 8.5(2) is not.
func tagged(major, minor, maint int) Version { return Version{major, minor, maint, true} }

func versionOf(l phone.LoadID) Version {
	return Version{l.Major, l.Minor, l.Maint, l.Service != ""}
}

func (a Version) compare(b Version) int {
	if c := cmp.Compare(a.Major, b.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Minor, b.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Maint, b.Maint); c != 0 {
		return c
	}
	switch {
	case a.Tagged == b.Tagged:
		return 0
	case b.Tagged:
		return -1
	}
	return 1
}

// Span is a set of loads: those of Protocols whose version v has
// Min ≤ v < Max.
type Span struct {
	Protocols []string // "SCCP", "SIP", "MGCP", "" for TERM loads; nil: any
	Min       Version  // inclusive
	Max       Version  // exclusive; the zero Version: no upper bound
}

func (s Span) protocol(l phone.LoadID) bool {
	return s.Protocols == nil || slices.Contains(s.Protocols, l.Protocol)
}

func (s Span) contains(l phone.LoadID) bool {
	v := versionOf(l)
	return s.protocol(l) && v.compare(s.Min) >= 0 && (s.Max == Version{} || v.compare(s.Max) < 0)
}

// Waypoint is a class of loads a phone must run before going on. Any load
// of the class will do; the planner takes the highest one available.
type Waypoint struct {
	Span
	Label   string // as people read it: "SIP 7.x"
	Example string // a name of the class for the catalog; NN is the model's LoadPrefix
}

// needed reports whether the hop cur → tgt must stop at w: neither end is
// in w, cur is below w (above it when down), and tgt is not on the near
// side of w. The last test only counts when tgt runs w's protocol: SIP 6.3
// → SCCP 6.0(1) still needs SIP 7.x, SIP 6.3 → SIP 6.0 does not.
func (w Waypoint) needed(cur, tgt phone.LoadID, down bool) bool {
	if w.contains(cur) || w.contains(tgt) {
		return false
	}
	c, t := versionOf(cur), versionOf(tgt)
	if down {
		return w.Max != Version{} && c.compare(w.Max) >= 0 && !(w.protocol(tgt) && t.compare(w.Max) >= 0)
	}
	return c.compare(w.Min) < 0 && !(w.protocol(tgt) && t.compare(w.Min) < 0)
}

// Fit marks rules about which loads a model can run at all rather than
// about hops between loads.
type Fit int

// Fit checks.
const (
	FitNone   Fit = iota
	FitFamily     // classic loads on 7940/7960 only, Java loads on Java phones only
	FitPrefix     // a Java load's Prefix must be the model's LoadPrefix
	FitLoader     // the P003-… loader of a SIP package is not a load to name
)

// Rule is one constraint from cisco-79xx.md §4.4 (and, for the Fit rules,
// §4.1–§4.3). A hop rule governs the hops whose running load is in From and
// whose target is in To, for phones of Family: either it refuses them, or
// it names waypoints the phone must run first.
type Rule struct {
	Name   string // "classic-sip-chain", …
	Text   string // one line for people
	Source string // "docs/cisco-79xx.md §4.4 [S10]"

	Family   phone.Family
	From, To Span
	// Via lists waypoints in walking order; the first one needed (see
	// Waypoint.needed) is where the phone goes next.
	Via []Waypoint
	// Down: Via is for walking downwards (a downgrade).
	Down bool
	// Refuse: a hop From → To is not allowed at all.
	Refuse bool
	Fit    Fit
}

var (
	sip  = []string{"SIP"}
	sccp = []string{"SCCP"}

	// The 7940/7960 SIP chain (§4.4 [S10]). SIP versions read major.minor:
	// P0S3-05-3-00 is 5.3.
	sip44 = Waypoint{Span{sip, ver(4, 4, 0), ver(4, 5, 0)}, "SIP 4.4", "P0S3-04-4-00"}
	sip53 = Waypoint{Span{sip, ver(5, 3, 0), ver(5, 4, 0)}, "SIP 5.3", "P0S3-05-3-00"}
	sip6  = Waypoint{Span{sip, ver(6, 0, 0), ver(7, 0, 0)}, "SIP 6.x", "P0S3-06-x-xx"}
	sip7  = Waypoint{Span{sip, ver(7, 0, 0), ver(8, 0, 0)}, "SIP 7.x", "P0S3-07-x-xx"}
	sccp5 = Waypoint{Span{sccp, ver(5, 0, 0), ver(6, 0, 0)}, "SCCP 5.x", "P00305000200"}
	// 8.5(2) of either protocol, without service release: [S30] saw a
	// direct jump to 8.5(2)SR1 fail with AUTH FAIL.
	java852 = Waypoint{Span{nil, ver(8, 5, 2), tagged(8, 5, 2)}, "8.5(2)", "SCCPNN.8-5-2S or SIPNN.8-5-2S"}
)

// Rules is the table the planner applies. Fit rules first, then refusals,
// then waypoint rules; among waypoint rules the first that applies wins,
// and the walk to its waypoint is planned by the same table again.
var Rules = []Rule{
	{
		Name: "model-family", Fit: FitFamily,
		Text:   "P003/P0S3/P0M3 loads run only on 7940/7960, SCCPnn/SIPnn/TERMnn loads only on 79x1/79x2/79x5/797x/7911/7906/7931",
		Source: "docs/cisco-79xx.md §4.1, §4.3 [S10][S3]",
	},
	{
		Name: "model-prefix", Fit: FitPrefix,
		Text:   "a Java phone runs only loads of its own type number (7961: SCCP41/SIP41)",
		Source: "docs/cisco-79xx.md §4.3 [S3]",
	},
	{
		Name: "not-the-loader", Fit: FitLoader,
		Text:   "P003-… in a SIP package is its loader, not a load to name; name the P0S3-… load",
		Source: "docs/cisco-79xx.md §4.2 [S9][S37]",
	},
	{
		// [S10] says this of SIP; that signed SCCP/MGCP loads also start
		// at 5.x is an inference.
		Name: "no-unsigned-downgrade", Family: phone.FamilyClassic, Refuse: true,
		From:   Span{Min: ver(5, 0, 0)},
		To:     Span{Max: ver(5, 0, 0)},
		Text:   "7940/7960 loads are signed from 5.x: once on 5.x or later, no downgrade to an unsigned load below 5.0",
		Source: "docs/cisco-79xx.md §4.4 [S10] (SCCP/MGCP: inference)",
	},
	{
		// Doc 5455 covers SCCP ≤ 5.x → SIP ≤ 6.x and SCCP ≥ 6.x → SIP
		// ≥ 7.x only; nothing says a UAL SCCP load can go back to a
		// pre-UAL SIP one.
		Name: "sccp-ual-to-old-sip", Family: phone.FamilyClassic, Refuse: true,
		From:   Span{Protocols: sccp, Min: ver(6, 0, 0)},
		To:     Span{Protocols: sip, Max: ver(7, 0, 0)},
		Text:   "7940/7960 on SCCP 6.x or later convert only to SIP 7.x or later (no documented way back to pre-UAL SIP)",
		Source: "docs/cisco-79xx.md §1.2 [S14] (inference)",
	},
	{
		// Not in the sources: 8.5(3) "carries new keys" [S30], so a phone
		// past 8.5(2) may not accept loads signed before the change.
		Name: "java-no-downgrade-past-keys", Family: phone.FamilyJava, Refuse: true,
		From:   Span{Min: tagged(8, 5, 2)},
		To:     Span{Max: ver(8, 5, 2)},
		Text:   "79x1/79x2/79x5/797x above 8.5(2) are not taken back below 8.5(2): the signing keys changed at 8.5(3)",
		Source: "docs/cisco-79xx.md §4.4 [S30] (inference)",
	},
	{
		Name: "classic-sip-chain", Family: phone.FamilyClassic,
		From:   Span{Protocols: sip},
		To:     Span{Protocols: sip},
		Via:    []Waypoint{sip44, sip53, sip6, sip7},
		Text:   "7940/7960 SIP must step 4.4 → 5.3 → 6.x → 7.x (no direct [234].x → 7.x); 7.x → 8.x is direct",
		Source: "docs/cisco-79xx.md §4.4 [S10]",
	},
	{
		Name: "sip-downgrade-via-7", Family: phone.FamilyClassic, Down: true,
		From:   Span{Protocols: sip, Min: ver(8, 0, 0)},
		To:     Span{Protocols: sip, Max: ver(7, 0, 0)},
		Via:    []Waypoint{sip7},
		Text:   "to downgrade a 7940/7960 SIP phone below 7.x, first go to 7.x",
		Source: "docs/cisco-79xx.md §4.4 [S10]",
	},
	{
		// CME: "SCCP firmware must be 5.x first; then SIP 7.4 via UAL".
		// The SIP 7.x stop before later SIP is an inference: every source
		// that leaves SCCP ≤ 5.x lands on SIP 7.x [S10][S14].
		Name: "sccp-to-sip-via-5", Family: phone.FamilyClassic,
		From:   Span{Protocols: sccp, Max: ver(6, 0, 0)},
		To:     Span{Protocols: sip, Min: ver(7, 0, 0)},
		Via:    []Waypoint{sccp5, sip7},
		Text:   "7940/7960 SCCP below 6.x must be on SCCP 5.x before SIP 7.x, and on SIP 7.x before later SIP",
		Source: "docs/cisco-79xx.md §4.4 [S10], §1.2 [S14] (SIP 7.x stop: inference)",
	},
	{
		Name: "sip-to-sccp-via-7", Family: phone.FamilyClassic,
		From:   Span{Protocols: sip, Max: ver(7, 0, 0)},
		To:     Span{Protocols: sccp},
		Via:    []Waypoint{sip7},
		Text:   "7940/7960 SIP must be on 7.x before converting to SCCP",
		Source: "docs/cisco-79xx.md §4.4 [S10][S15]",
	},
	{
		Name: "java-8.5(2)", Family: phone.FamilyJava,
		From:   Span{Max: ver(8, 3, 3)},
		To:     Span{Min: tagged(8, 5, 2)},
		Via:    []Waypoint{java852},
		Text:   "79x1/79x2/79x5/797x below 8.3(3) must go to 8.5(2) before anything above it (else boot loop / AUTH FAIL)",
		Source: "docs/cisco-79xx.md §4.4 [S1][S30]",
	},
}
