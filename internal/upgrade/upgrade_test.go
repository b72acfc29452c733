package upgrade

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"phoneboot/internal/phone"
)

func model(t testing.TB, name string) phone.Model {
	t.Helper()
	m, ok := phone.ModelByName(name)
	if !ok {
		t.Fatalf("no model %s", name)
	}
	return m
}

// walkAll calls Next repeatedly, as a phone rebooting onto each Next would,
// until the plan is done, stays or is refused.
func walkAll(t *testing.T, m phone.Model, running, target string, avail []string) ([]string, Plan) {
	t.Helper()
	var seq []string
	for range 11 {
		p := Next(m, running, target, avail)
		if p.Done || p.Next == "" || p.Refused != "" {
			return seq, p
		}
		seq = append(seq, p.Next)
		running = p.Next
	}
	t.Fatalf("%s → %s: no end after %v", running, target, seq)
	return nil, Plan{}
}

var catalog = []string{
	"P0S3-05-3-00", "P0S3-06-0-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00", "P003-8-12-00",
	"P00305000200", "P00308010200",
	"SIP41.8-5-2S", "SIP41.9-4-2SR3-1S", "SCCP41.8-5-2S",
}

func without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(drop, s) })
}

func with(list []string, add ...string) []string { return append(slices.Clone(list), add...) }

func ruleNames(rs []Rule) []string {
	var n []string
	for _, r := range rs {
		n = append(n, r.Name)
	}
	return n
}

func TestWalks(t *testing.T) {
	tests := []struct {
		name                    string
		model, running, target  string
		avail                   []string
		seq                     []string // loads named, in order
		missing, refused, rules string   // substrings of the last plan; rules: of the first plan's rule names
		done                    bool
	}{
		{name: "issue: SIP 4.4 → 8.12 steps 5.3, 6.x (highest), 7.x", model: "7960", running: "P0S3-04-4-00", target: "P0S3-8-12-00",
			avail: catalog, seq: []string{"P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00"}, done: true, rules: "classic-sip-chain"},
		{name: "issue: SIP 4.4 → 8.12 without 7.x stops at 6.3", model: "7960", running: "P0S3-04-4-00", target: "P0S3-8-12-00",
			avail: without(catalog, "P0S3-07-2-00"), seq: []string{"P0S3-05-3-00", "P0S3-06-3-00"}, missing: "SIP 7.x, e.g. P0S3-07-x-xx"},
		{name: "SIP 2.x needs 4.4 first", model: "7940", running: "P0S30203", target: "P0S3-07-2-00",
			avail: with(catalog, "P0S3-04-4-00"), seq: []string{"P0S3-04-4-00", "P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00"}, done: true},
		{name: "SIP 5.0 goes through 5.3", model: "7960", running: "P0S3-05-0-00", target: "P0S3-06-0-00",
			avail: catalog, seq: []string{"P0S3-05-3-00", "P0S3-06-0-00"}, done: true},
		{name: "SIP 7.x → 8.x direct", model: "7960", running: "P0S3-07-4-00", target: "P0S3-8-12-00",
			avail: catalog, seq: []string{"P0S3-8-12-00"}, done: true},
		{name: "issue: 7961 8.3(2) → SIP 9.4 via 8.5(2), target's protocol first", model: "7961", running: "SIP41.8-3-2S", target: "SIP41.9-4-2SR3-1S",
			avail: catalog, seq: []string{"SIP41.8-5-2S", "SIP41.9-4-2SR3-1S"}, done: true, rules: "java-8.5(2)"},
		{name: "8.5(2) of the other protocol will do", model: "7961", running: "SIP41.8-3-2S", target: "SIP41.9-4-2SR3-1S",
			avail: without(catalog, "SIP41.8-5-2S"), seq: []string{"SCCP41.8-5-2S", "SIP41.9-4-2SR3-1S"}, done: true},
		{name: "8.5(2)SR1 is not the waypoint", model: "7961", running: "SCCP41.8-0-4ES4-0-1S", target: "SIP41.9-4-2SR3-1S",
			avail: []string{"SIP41.8-5-2SR1-1S", "SIP41.9-4-2SR3-1S"}, missing: "8.5(2), e.g. SCCP41.8-5-2S or SIP41.8-5-2S"},
		{name: "[S30] 7970 SIP 8.2(1) → SIP 9.4", model: "7970", running: "SIP70.8-2-1S", target: "SIP70.9-4-2SR1-1S",
			avail: []string{"SCCP70.8-5-2S", "SCCP70.8-5-3S", "SIP70.9-4-2SR1-1S"}, seq: []string{"SCCP70.8-5-2S", "SIP70.9-4-2SR1-1S"}, done: true},
		{name: "Java 8.3(3) → 9.4 direct", model: "7961", running: "SCCP41.8-3-3S", target: "SIP41.9-4-2SR3-1S",
			avail: catalog, seq: []string{"SIP41.9-4-2SR3-1S"}, done: true},
		{name: "issue: SCCP 3.x → SIP 8.12 via SCCP 5.x and SIP 7.x", model: "7960", running: "P00303030300", target: "P0S3-8-12-00",
			avail: catalog, seq: []string{"P00305000200", "P0S3-07-2-00", "P0S3-8-12-00"}, done: true, rules: "sccp-to-sip-via-5"},
		{name: "SCCP 3.x → SIP 7.x via SCCP 5.x", model: "7960", running: "P00303030300", target: "P0S3-07-2-00",
			avail: catalog, seq: []string{"P00305000200", "P0S3-07-2-00"}, done: true},
		{name: "SCCP 3.x → SIP 8.12 without SCCP 5.x", model: "7960", running: "P00303030300", target: "P0S3-8-12-00",
			avail: without(catalog, "P00305000200"), missing: "SCCP 5.x, e.g. P00305000200"},
		{name: "SCCP 8.x → SIP 8.12 direct", model: "7960", running: "P00308010200", target: "P0S3-8-12-00",
			avail: catalog, seq: []string{"P0S3-8-12-00"}, done: true},
		{name: "SIP 4.4 → SCCP via the SIP chain to 7.x", model: "7960", running: "P0S3-04-4-00", target: "P00308010200",
			avail: catalog, seq: []string{"P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00", "P00308010200"}, done: true, rules: "sip-to-sccp-via-7"},
		{name: "SIP 4.4 → SCCP without 7.x: steps up to it, then stay", model: "7960", running: "P0S3-04-4-00", target: "P00308010200",
			avail: without(catalog, "P0S3-07-2-00"), seq: []string{"P0S3-05-3-00", "P0S3-06-3-00"}, missing: "SIP 7.x"},
		{name: "unknown running SIP: start at 4.4", model: "7960", running: "", target: "P0S3-8-12-00",
			avail: with(catalog, "P0S3-04-4-00"), seq: []string{"P0S3-04-4-00", "P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00"}, done: true},
		{name: "unknown running SIP without 4.4: stay", model: "7960", running: "", target: "P0S3-8-12-00",
			avail: catalog, missing: "SIP 4.4, e.g. P0S3-04-4-00"},
		{name: "garbage running is unknown", model: "7960", running: "hello", target: "P0S3-8-12-00",
			avail: catalog, missing: "SIP 4.4"},
		{name: "unknown running SCCP target: direct", model: "7960", running: "", target: "P00308010200",
			avail: catalog, seq: []string{"P00308010200"}, done: true},
		{name: "unknown running Java: 8.5(2) first", model: "7961", running: "", target: "SIP41.9-4-2SR3-1S",
			avail: catalog, seq: []string{"SIP41.8-5-2S", "SIP41.9-4-2SR3-1S"}, done: true},
		{name: "unknown running Java without 8.5(2): the target", model: "7961", running: "", target: "SIP41.9-4-2SR3-1S",
			avail: without(catalog, "SIP41.8-5-2S", "SCCP41.8-5-2S"), seq: []string{"SIP41.9-4-2SR3-1S"}, done: true},
		{name: "already current", model: "7960", running: "p0s3-8-12-00", target: "P0S3-8-12-00", avail: catalog, done: true},
		{name: "issue: downgrade to unsigned refused", model: "7960", running: "P0S3-8-12-00", target: "P0S3-04-4-00",
			avail: with(catalog, "P0S3-04-4-00"), refused: "not allowed", rules: "no-unsigned-downgrade"},
		{name: "downgrade 8.x → 6.x via 7.x", model: "7960", running: "P0S3-8-12-00", target: "P0S3-06-0-00",
			avail: catalog, seq: []string{"P0S3-07-2-00", "P0S3-06-0-00"}, done: true, rules: "sip-downgrade-via-7"},
		{name: "downgrade 8.12 → 8.11 direct", model: "7960", running: "P0S3-8-12-00", target: "P0S3-08-11-00",
			avail: with(catalog, "P0S3-08-11-00"), seq: []string{"P0S3-08-11-00"}, done: true},
		{name: "SCCP 8.x → SIP 6.x refused", model: "7960", running: "P00308010200", target: "P0S3-06-3-00",
			avail: catalog, refused: "not allowed", rules: "sccp-ual-to-old-sip"},
		{name: "Java 9.4 → 8.3 refused", model: "7961", running: "SIP41.9-4-2SR3-1S", target: "SIP41.8-3-2S",
			avail: with(catalog, "SIP41.8-3-2S"), refused: "not allowed", rules: "java-no-downgrade-past-keys"},
		{name: "issue: classic load on a 7961", model: "7961", running: "SIP41.8-5-2S", target: "P0S3-8-12-00",
			avail: catalog, refused: "load P0S3-8-12-00 does not fit a 7961 (its loads start SCCP41/SIP41)", rules: "model-family"},
		{name: "7962 load on a 7961", model: "7961", running: "", target: "SIP42.9-4-2SR3-1S",
			avail: with(catalog, "SIP42.9-4-2SR3-1S"), refused: "(its loads start SCCP41/SIP41)", rules: "model-prefix"},
		{name: "Java load on a 7960", model: "7960", running: "", target: "SIP41.9-4-2SR3-1S",
			avail: catalog, refused: "does not fit a 7960 (its loads start P003/P0S3)", rules: "model-family"},
		{name: "loader as target", model: "7960", running: "P0S3-07-2-00", target: "P003-8-12-00",
			avail: catalog, refused: "loader", rules: "not-the-loader"},
		{name: "not a load name", model: "7960", running: "", target: "SEP000E84C060A6.cnf.xml",
			avail: catalog, refused: "does not fit", rules: "model-family"},
		{name: "classic load on a 7905", model: "7905", running: "", target: "P0S3-8-12-00",
			avail: catalog, refused: "a 7905 is entry", rules: "model-family"},
		{name: "7905: no rules, target named", model: "7905", running: "", target: "CP7905080003SIP060111A",
			avail: with(catalog, "CP7905080003SIP060111A"), seq: []string{"CP7905080003SIP060111A"}, done: true},
		{name: "issue: target not available", model: "7960", running: "P0S3-07-2-00", target: "P0S3-8-12-00",
			avail: without(catalog, "P0S3-8-12-00"), missing: "SIP 8.12 (P0S3-8-12-00)"},
		{name: "waypoints available, target not", model: "7960", running: "P0S3-06-3-00", target: "P0S3-8-12-00",
			avail: without(catalog, "P0S3-8-12-00"), seq: []string{"P0S3-07-2-00"}, missing: "(P0S3-8-12-00)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := model(t, tt.model)
			first := Next(m, tt.running, tt.target, tt.avail)
			seq, last := walkAll(t, m, tt.running, tt.target, tt.avail)
			if !slices.Equal(seq, tt.seq) {
				t.Errorf("walk = %v, want %v", seq, tt.seq)
			}
			if !tt.done && tt.refused == "" && !slices.Equal(first.Path, tt.seq) {
				// Stops short: the first plan already shows the steps up to the gap.
				t.Errorf("first Path = %v, want %v", first.Path, tt.seq)
			}
			if tt.done && tt.running != "" && len(tt.seq) > 0 && !slices.Equal(first.Path, tt.seq) {
				t.Errorf("first Path = %v, want %v", first.Path, tt.seq)
			}
			if last.Done != tt.done {
				t.Errorf("Done = %v, want %v (last plan %+v)", last.Done, tt.done, last)
			}
			if !strings.Contains(last.Missing, tt.missing) || (tt.missing == "") != (last.Missing == "") {
				t.Errorf("Missing = %q, want %q", last.Missing, tt.missing)
			}
			if !strings.Contains(last.Refused, tt.refused) || (tt.refused == "") != (last.Refused == "") {
				t.Errorf("Refused = %q, want %q", last.Refused, tt.refused)
			}
			if tt.rules != "" && !slices.Contains(ruleNames(first.Rules), tt.rules) {
				t.Errorf("Rules = %v, want %s among them", ruleNames(first.Rules), tt.rules)
			}
			if last.Done && (last.Next != "" || len(last.Path) != 0) {
				t.Errorf("done plan names %q / %v", last.Next, last.Path)
			}
		})
	}
}

func TestIssuePlans(t *testing.T) {
	m := model(t, "7960")
	p := Next(m, "P0S3-04-4-00", "P0S3-8-12-00", catalog)
	want := []string{"P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00"}
	if !slices.Equal(p.Path, want) || p.Next != want[0] || p.Missing != "" || p.Target != "P0S3-8-12-00" {
		t.Errorf("4.4 → 8.12: %+v", p)
	}
	p = Next(m, "P0S3-06-3-00", "P0S3-8-12-00", without(catalog, "P0S3-07-2-00"))
	if p.Next != "" || len(p.Path) != 0 || p.Missing != "SIP 7.x, e.g. P0S3-07-x-xx" {
		t.Errorf("6.3 → 8.12 without 7.x: %+v", p)
	}
}

func TestRulesComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if r.Name == "" || r.Text == "" || !strings.HasPrefix(r.Source, "docs/cisco-79xx.md §") || !strings.Contains(r.Source, "[S") {
			t.Errorf("rule %+v lacks Name, Text or Source", r)
		}
		if seen[r.Name] {
			t.Errorf("rule %s twice", r.Name)
		}
		seen[r.Name] = true
		if r.Fit == FitNone && r.Family == 0 {
			t.Errorf("rule %s has no family", r.Name)
		}
		if r.Fit == FitNone && r.Refuse == (len(r.Via) > 0) {
			t.Errorf("rule %s must either refuse or name waypoints", r.Name)
		}
		for _, w := range r.Via {
			if w.Label == "" || w.Example == "" {
				t.Errorf("rule %s: waypoint without label or example: %+v", r.Name, w)
			}
		}
	}
	for _, f := range []Fit{FitFamily, FitPrefix, FitLoader} {
		if fitRule(f).Name == "fit" {
			t.Errorf("no rule for fit %d", f)
		}
	}
}

// realistic is a pool of load names of several models, with loaders and
// names of no family mixed in.
var realistic = []string{
	"P0S30203", "P0S3-03-1-00", "P0S3-04-4-00", "P0S3-05-0-00", "P0S3-05-2-00", "P0S3-05-3-00",
	"P0S3-06-0-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-07-4-00", "P0S3-08-11-00", "P0S3-8-12-00",
	"P003-8-12-00", "P003-08-11-00", "P0M3-07-4-00",
	"P00303030300", "P00305000200", "P00306000100", "P00307020300", "P00308010200", "P0030801SR02",
	"TERM41.7-0-3-0S", "SCCP41.8-0-4ES4-0-1S", "SIP41.8-3-2S", "SCCP41.8-3-3S", "SCCP41.8-5-2S", "SIP41.8-5-2S",
	"SIP41.8-5-2SR1-1S", "SCCP41.8-5-3S", "SIP41.9-4-2SR3-1S", "SCCP41.9-4-2SR3-1S",
	"SIP70.8-2-1S", "SCCP70.8-5-2S", "SCCP70.8-5-3S", "SIP70.9-4-2SR1-1S", "SCCP42.9-4-2SR3-1S",
	"CP7905080003SIP060111A", "cmterm_7936.3-3-21-0", "",
}

func TestWalkProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(79, 60))
	models := []string{"7940", "7960", "7961", "7941", "7970", "7942", "7905", "7936"}
	for i := range 20000 {
		m := model(t, models[rng.IntN(len(models))])
		var avail []string
		for _, s := range realistic {
			if rng.IntN(2) == 0 {
				avail = append(avail, s)
			}
		}
		running := realistic[rng.IntN(len(realistic))]
		target := realistic[rng.IntN(len(realistic))]
		startKnown := running != ""
		for step := 0; ; step++ {
			p := Next(m, running, target, avail)
			if len(p.Path) > 10 {
				t.Fatalf("#%d %s %s → %s: path %v", i, m.Name, running, target, p.Path)
			}
			if p.Refused != "" && (p.Next != "" || len(p.Path) > 0 || p.Missing != "") {
				t.Fatalf("#%d refused plan names loads: %+v", i, p)
			}
			if p.Missing == "" && p.Refused == "" && !p.Done && (len(p.Path) == 0 || p.Path[len(p.Path)-1] != target) {
				t.Fatalf("#%d %s %s → %s: path %v does not end at the target", i, m.Name, running, target, p.Path)
			}
			if len(p.Rules) > 0 && p.Rules[0].Source == "" {
				t.Fatalf("#%d rule without source", i)
			}
			if p.Done || p.Next == "" {
				break
			}
			if step >= 10 {
				t.Fatalf("#%d %s → %s: more than 10 steps", i, running, target)
			}
			if p.Next != p.Path[0] {
				t.Fatalf("#%d Next %q is not Path[0] %v", i, p.Next, p.Path)
			}
			if !slices.ContainsFunc(avail, func(a string) bool { return strings.EqualFold(a, p.Next) }) {
				t.Fatalf("#%d %s → %s: names %s, not in %v", i, running, target, p.Next, avail)
			}
			if startKnown || step > 0 {
				if why := violates(m, running, p.Next); why != "" {
					t.Fatalf("#%d %s %s → %s: hop %s → %s %s", i, m.Name, running, target, running, p.Next, why)
				}
			}
			running = p.Next
		}
	}
}

// violates restates the §4.4 rules independently of the table, for a hop
// a phone on from makes to to.
func violates(m phone.Model, from, to string) string {
	a, okA := phone.ParseLoadID(from)
	b, okB := phone.ParseLoadID(to)
	if m.Family != phone.FamilyClassic && m.Family != phone.FamilyJava {
		if okB {
			return "names a classic/Java load on another family"
		}
		return ""
	}
	if !okB || b.Family != m.Family || (m.Family == phone.FamilyJava && b.Prefix != m.LoadPrefix) || b.Loader {
		return "names a load that does not fit the model"
	}
	if !okA || a.Family != m.Family || (m.Family == phone.FamilyJava && a.Prefix != m.LoadPrefix) || a.Loader {
		return "" // running load unknown: nothing to check
	}
	va, vb := versionOf(a), versionOf(b)
	below := func(v Version, major, minor int) bool { return v.compare(ver(major, minor, 0)) < 0 }
	if m.Family == phone.FamilyJava {
		if va.compare(ver(8, 3, 3)) < 0 && vb.compare(tagged(8, 5, 2)) >= 0 {
			return "jumps from below 8.3(3) past 8.5(2)"
		}
		if va.compare(tagged(8, 5, 2)) >= 0 && vb.compare(ver(8, 5, 2)) < 0 {
			return "goes back below 8.5(2)"
		}
		return ""
	}
	switch {
	case !below(va, 5, 0) && below(vb, 5, 0):
		return "downgrades to unsigned"
	case a.Protocol == "SIP" && b.Protocol == "SIP" && vb.compare(va) > 0:
		for _, stop := range [][4]int{{4, 4, 4, 5}, {5, 3, 5, 4}, {6, 0, 7, 0}, {7, 0, 8, 0}} {
			if below(va, stop[0], stop[1]) && !below(vb, stop[2], stop[3]) {
				return "skips a SIP chain stop"
			}
		}
	case a.Protocol == "SIP" && b.Protocol == "SIP" && !below(va, 8, 0) && below(vb, 7, 0):
		return "downgrades past 7.x"
	case a.Protocol == "SIP" && b.Protocol == "SCCP" && below(va, 7, 0):
		return "leaves SIP below 7.x for SCCP"
	case a.Protocol == "SCCP" && b.Protocol == "SIP" && below(va, 5, 0) && !below(vb, 7, 0):
		return "leaves SCCP below 5.x for SIP 7.x+"
	case a.Protocol == "SCCP" && b.Protocol == "SIP" && below(va, 6, 0) && !below(vb, 8, 0):
		return "leaves SCCP below 6.x for SIP past 7.x"
	case a.Protocol == "SCCP" && b.Protocol == "SIP" && !below(va, 6, 0) && below(vb, 7, 0):
		return "goes from UAL SCCP to pre-UAL SIP"
	}
	return ""
}

func FuzzNext(f *testing.F) {
	f.Add(1, "P0S3-04-4-00", "P0S3-8-12-00", strings.Join(catalog, ","))
	f.Add(2, "SIP41.8-3-2S", "SIP41.9-4-2SR3-1S", strings.Join(catalog, ","))
	f.Add(0, "", "P003-8-12-00", "P003-8-12-00")
	f.Add(17, "x", "SIP41.999-999-999SR999-999-999-999S", "SIP41.8-5-2S,,P0S3-99-99-99")
	f.Fuzz(func(t *testing.T, mi int, running, target, avail string) {
		m := phone.Model{Name: "none"}
		if mi >= 0 && mi < len(phone.Models) {
			m = phone.Models[mi]
		}
		list := strings.Split(avail, ",")
		p := Next(m, running, target, list)
		if len(p.Path) > 10 {
			t.Fatalf("path too long: %v", p.Path)
		}
		if p.Next != "" && !slices.ContainsFunc(list, func(a string) bool { return strings.EqualFold(a, p.Next) }) {
			t.Fatalf("names %q, not in %q", p.Next, list)
		}
	})
}

// TestNextSafe: a phone whose load is known only from its boot gets a
// step every load it may run can take, as far along as that allows.
func TestNextSafe(t *testing.T) {
	classic := model(t, "7960")
	java := model(t, "7961")
	catalog := []string{"P0S3-04-4-00", "P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00",
		"P00305000200", "P00308010200", "SIP41.8-5-2S", "SIP41.9-4-2SR3-1S"}
	for _, c := range []struct {
		name    string
		m       phone.Model
		boot    phone.Boot
		proto   string
		target  string
		next    string // "" with unsure
		minPath int
	}{
		{"old SIP: 5.3 is safe from 4.4, 5.x and 6.x", classic, phone.BootOS79XX, "SIP", "P0S3-8-12-00", "P0S3-05-3-00", 4},
		{"really old SIP: 4.4 first", classic, phone.Boot79XX, "SIP", "P0S3-8-12-00", "P0S3-04-4-00", 5},
		{"UAL SIP: straight to 8.12", classic, phone.BootUAL, "SIP", "P0S3-8-12-00", "P0S3-8-12-00", 1},
		{"UAL SCCP: straight to 8.1(2)", classic, phone.BootUAL, "SCCP", "P00308010200", "P00308010200", 1},
		{"Java: 8.5(2) first", java, phone.BootJava, "SIP", "SIP41.9-4-2SR3-1S", "SIP41.8-5-2S", 2},
		{"old and UAL together: nothing is safe", classic, phone.BootUnseen, "SIP", "P0S3-8-12-00", "", 0},
	} {
		could := Candidates(c.m, c.boot, c.proto)
		p := NextSafe(c.m, could, c.target, catalog)
		if p.Next != c.next || (c.next == "") != (p.Unsure != "") || len(p.Path) != c.minPath {
			t.Errorf("%s: next %q path %v unsure %q; want %q and a path of %d", c.name, p.Next, p.Path, p.Unsure, c.next, c.minPath)
			continue
		}
		// The property: every candidate may take the step at once.
		for _, from := range could {
			if c.next != "" && !direct(c.m, from, c.next, catalog) {
				t.Errorf("%s: %s cannot take %s at once", c.name, from, c.next)
			}
		}
	}
}
