package phone

import (
	"slices"
	"testing"
)

func TestParseLoadID(t *testing.T) {
	type v struct {
		proto               string
		family              Family
		prefix              string
		loader              bool
		major, minor, maint int
		service, build      string
		str                 string
		ual                 bool
	}
	tests := []struct {
		in   string
		want v
	}{
		// Classic SCCP (§4.1).
		{"P00303030300", v{"SCCP", FamilyClassic, "", false, 3, 3, 3, "", "0", "SCCP 3.3(3)", false}},
		{"P00305000200", v{"SCCP", FamilyClassic, "", false, 5, 0, 2, "", "0", "SCCP 5.0(2)", false}},
		{"P00306000100", v{"SCCP", FamilyClassic, "", false, 6, 0, 1, "", "0", "SCCP 6.0(1)", true}},
		{"P00307020300", v{"SCCP", FamilyClassic, "", false, 7, 2, 3, "", "0", "SCCP 7.2(3)", true}},
		{"P00308010200", v{"SCCP", FamilyClassic, "", false, 8, 1, 2, "", "0", "SCCP 8.1(2)", true}},
		{"P0030801SR02", v{"SCCP", FamilyClassic, "", false, 8, 1, 2, "SR2", "", "SCCP 8.1(2)SR2", true}},
		{"P00308000100", v{"SCCP", FamilyClassic, "", false, 8, 0, 1, "", "0", "SCCP 8.0(1)", true}},
		// Classic SIP, both paddings.
		{"P0S3-04-4-00", v{"SIP", FamilyClassic, "", false, 4, 4, 0, "", "", "SIP 4.4", false}},
		{"P0S3-05-2-00", v{"SIP", FamilyClassic, "", false, 5, 2, 0, "", "", "SIP 5.2", false}},
		{"P0S3-06-0-00", v{"SIP", FamilyClassic, "", false, 6, 0, 0, "", "", "SIP 6.0", false}},
		{"P0S3-07-4-00", v{"SIP", FamilyClassic, "", false, 7, 4, 0, "", "", "SIP 7.4", true}},
		{"P0S3-08-11-00", v{"SIP", FamilyClassic, "", false, 8, 11, 0, "", "", "SIP 8.11", true}},
		{"P0S3-8-12-00", v{"SIP", FamilyClassic, "", false, 8, 12, 0, "", "", "SIP 8.12", true}},
		{"p0s3-8-12-00", v{"SIP", FamilyClassic, "", false, 8, 12, 0, "", "", "SIP 8.12", true}},
		{"P0S30203", v{"SIP", FamilyClassic, "", false, 2, 3, 0, "", "", "SIP 2.3", false}},
		{"P0M3-07-4-00", v{"MGCP", FamilyClassic, "", false, 7, 4, 0, "", "", "MGCP 7.4", false}},
		// The UAL of SIP packages (§3.3, §4.2).
		{"P003-8-12-00", v{"", FamilyClassic, "", true, 8, 12, 0, "", "", "loader 8.12", true}},
		{"P003-08-11-00", v{"", FamilyClassic, "", true, 8, 11, 0, "", "", "loader 8.11", true}},
		// Java (§4.1, §4.3).
		{"SCCP41.8-0-4ES4-0-1S", v{"SCCP", FamilyJava, "41", false, 8, 0, 4, "ES4", "0-1", "SCCP41 8.0(4)ES4", false}},
		{"SIP70.8-0-3S", v{"SIP", FamilyJava, "70", false, 8, 0, 3, "", "", "SIP70 8.0(3)", false}},
		{"TERM41.7-0-3-0S", v{"", FamilyJava, "41", false, 7, 0, 3, "", "0", "TERM41 7.0(3)", false}},
		{"SCCP41.9-4-2SR3-1S", v{"SCCP", FamilyJava, "41", false, 9, 4, 2, "SR3", "1", "SCCP41 9.4(2)SR3", false}},
		{"SIP41.9-4-2SR3-1S", v{"SIP", FamilyJava, "41", false, 9, 4, 2, "SR3", "1", "SIP41 9.4(2)SR3", false}},
		{"SCCP45.9-4-2SR4-3S", v{"SCCP", FamilyJava, "45", false, 9, 4, 2, "SR4", "3", "SCCP45 9.4(2)SR4", false}},
		{"SCCP70.8-5-2S", v{"SCCP", FamilyJava, "70", false, 8, 5, 2, "", "", "SCCP70 8.5(2)", false}},
		{"SIP70.8-2-1S", v{"SIP", FamilyJava, "70", false, 8, 2, 1, "", "", "SIP70 8.2(1)", false}},
		{"SCCP70.8-3-3SR2S", v{"SCCP", FamilyJava, "70", false, 8, 3, 3, "SR2", "", "SCCP70 8.3(3)SR2", false}},
		{"SCCP31.9-2-1S", v{"SCCP", FamilyJava, "31", false, 9, 2, 1, "", "", "SCCP31 9.2(1)", false}},
	}
	for _, tt := range tests {
		l, ok := ParseLoadID(tt.in)
		if !ok {
			t.Errorf("ParseLoadID(%q) failed", tt.in)
			continue
		}
		got := v{l.Protocol, l.Family, l.Prefix, l.Loader, l.Major, l.Minor, l.Maint, l.Service, l.Build, l.String(), l.UAL()}
		if got != tt.want {
			t.Errorf("ParseLoadID(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if l.Raw != tt.in {
			t.Errorf("ParseLoadID(%q).Raw = %q", tt.in, l.Raw)
		}
	}
	for _, s := range []string{
		"", "P003", "P0X3-8-12-00", "P0S3-8-12", "P0S3-8-12-00-1", "P0S3-8-x-00", "P003080102",
		"P00308010200.loads", "SCCP41", "SCCP41.", "SCCP41.9-4", "SCCP4.9-4-2S", "SCCPAB.9-4-2S",
		"FOO41.9-4-2S", "SIP41.9-4-2XX-1S", "SIP41.9-4-SR3-1S", "SIP41.9-4-2SR-1S", "SIP41.9-4-2SR3-aS",
		"cmterm_7936.3-3-21-0", "CP7912080000SIP060111A", "apps37sccp.1-4-5-7", "term61.default",
	} {
		if l, ok := ParseLoadID(s); ok {
			t.Errorf("ParseLoadID(%q) accepted: %+v", s, l)
		} else if l.Raw != s || l.String() != s {
			t.Errorf("ParseLoadID(%q) failed but Raw/String = %q/%q", s, l.Raw, l.String())
		}
	}
}

func TestLoadIDLess(t *testing.T) {
	// Ascending order.
	order := []string{
		"P00303030300", "P0S3-04-4-00", "P00305000200", "P0S3-06-0-00", "P00307020300",
		"P0S3-07-4-00", "P00308010200", "P0030801SR02", "P0S3-08-11-00", "P0S3-8-12-00",
		"SCCP41.9-4-2S", "SCCP41.9-4-2-1S", "SIP41.9-4-2ES4-0-1S", "SIP41.9-4-2SR3-1S", "SCCP45.9-4-2SR4-3S",
	}
	var loads []LoadID
	for _, s := range order {
		l, ok := ParseLoadID(s)
		if !ok {
			t.Fatalf("ParseLoadID(%q) failed", s)
		}
		loads = append(loads, l)
	}
	for i := range loads {
		for j := range loads {
			if got, want := loads[i].Less(loads[j]), i < j; got != want {
				t.Errorf("%s < %s = %v, want %v", order[i], order[j], got, want)
			}
		}
	}
	shuffled := slices.Clone(loads)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, func(a, b LoadID) int {
		switch {
		case a.Less(b):
			return -1
		case b.Less(a):
			return 1
		}
		return 0
	})
	for i := range shuffled {
		if shuffled[i].Raw != order[i] {
			t.Fatalf("sorted[%d] = %s, want %s", i, shuffled[i].Raw, order[i])
		}
	}
	// Padding does not change the version.
	a, _ := ParseLoadID("P0S3-08-12-00")
	b, _ := ParseLoadID("P0S3-8-12-00")
	if a.Less(b) || b.Less(a) {
		t.Error("P0S3-08-12-00 and P0S3-8-12-00 should be the same version")
	}
}

func FuzzParseLoadID(f *testing.F) {
	for _, s := range []string{
		"P00303030300", "P0030801SR02", "P0S3-8-12-00", "P003-8-12-00", "P0S30203",
		"SCCP41.8-0-4ES4-0-1S", "SIP41.9-4-2SR3-1S", "TERM41.7-0-3-0S", "SIP41.9-4-2SR999999999999-1S", "P0S3-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := ParseLoadID(s)
		_ = l.String()
		_ = l.UAL()
		if l.Less(l) {
			t.Fatalf("%q: Less is not irreflexive", s)
		}
		if !ok {
			return
		}
		if l.Family == 0 || l.Raw != s {
			t.Fatalf("%q: accepted with %+v", s, l)
		}
		// What parses once parses the same way again.
		again, ok := ParseLoadID(l.Raw)
		if !ok || again != l {
			t.Fatalf("%q: reparse gave %+v, %v", s, again, ok)
		}
	})
}
