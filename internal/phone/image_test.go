package phone

import (
	"slices"
	"strings"
	"testing"
)

func TestImageExts(t *testing.T) {
	want := []string{".sbn", ".sb2", ".bin", ".zup", ".sbin"}
	if got := ImageExts(); !slices.Equal(got, want) {
		t.Fatalf("ImageExts = %v, want %v", got, want)
	}
	ImageExts()[0] = ".x" // a copy: callers cannot change the definition
	if !IsImageExt(".sbn") || IsImageExt(".x") {
		t.Fatal("ImageExts returned the definition itself")
	}
	for _, ext := range []string{".sbn", ".SBN", ".Sbn", ".sb2", ".SB2", ".bin", ".BIN", ".zup", ".ZUP", ".sbin", ".SBIN"} {
		if !IsImageExt(ext) {
			t.Errorf("IsImageExt(%q) = false", ext)
		}
	}
	for _, ext := range []string{"", ".", "sbn", ".loads", ".LOADS", ".cnf", ".xml", ".raw", ".tlv", ".zip", ".cop", ".sgn", ".sb", ".bi", ".sbnx"} {
		if IsImageExt(ext) {
			t.Errorf("IsImageExt(%q) = true", ext)
		}
	}
}

func TestParseImage(t *testing.T) {
	type v struct {
		stem, ext        string
		family           Family
		loader, old      bool
		comp, pfx, proto string
		id               bool // the stem parses as a load ID
	}
	const (
		classic = FamilyClassic
		java    = FamilyJava
	)
	tests := []struct {
		in   string
		want v
	}{
		// Every extension, in the cases packages spell them (§1.4, §4.1-§4.3).
		{"P0S3-8-12-00.sb2", v{"P0S3-8-12-00", ".sb2", classic, false, false, "", "", "", true}},
		{"P003-8-12-00.sbn", v{"P003-8-12-00", ".sbn", classic, true, false, "", "", "", true}},
		{"P003-8-12-00.bin", v{"P003-8-12-00", ".bin", classic, true, false, "", "", "", true}},
		{"p003-8-12-00.BIN", v{"p003-8-12-00", ".bin", classic, true, false, "", "", "", true}},
		{"P003-08-11-00.SBN", v{"P003-08-11-00", ".sbn", classic, true, false, "", "", "", true}},
		{"CP7912080000SIP060111A.zup", v{"CP7912080000SIP060111A", ".zup", 0, false, false, "", "", "", false}},
		{"CP7912080000SIP060111A.sbin", v{"CP7912080000SIP060111A", ".sbin", 0, false, false, "", "", "", false}},
		{"CP7912080000SIP060111A.SBIN", v{"CP7912080000SIP060111A", ".sbin", 0, false, false, "", "", "", false}},
		// 7940/7960 SIP: the UAL package's application and loader (§4.2),
		// old images that are a load by themselves (§1.2.3, §4.1).
		{"P0S3-08-11-00.sb2", v{"P0S3-08-11-00", ".sb2", classic, false, false, "", "", "", true}},
		{"P0S3-07-2-00.sb2", v{"P0S3-07-2-00", ".sb2", classic, false, false, "", "", "", true}},
		{"P0S3-04-4-00.bin", v{"P0S3-04-4-00", ".bin", classic, false, true, "", "", "", true}},
		{"P0S3-05-3-00.sbn", v{"P0S3-05-3-00", ".sbn", classic, false, true, "", "", "", true}},
		{"P0S3-06-3-00.BIN", v{"P0S3-06-3-00", ".bin", classic, false, true, "", "", "", true}},
		{"P0S30203.bin", v{"P0S30203", ".bin", classic, false, true, "", "", "", true}},
		{"P0S3-06-3-00.sb2", v{"P0S3-06-3-00", ".sb2", classic, false, false, "", "", "", true}},
		// A UAL load's own image is neither loader nor a load by itself:
		// it needs its .loads.
		{"P0S3-8-12-00.bin", v{"P0S3-8-12-00", ".bin", classic, false, false, "", "", "", true}},
		// 7940/7960 SCCP: UAL packages have a .bin/.sbn loader and a .sb2
		// application (§4.2); older SCCP images are whole loads.
		{"P00307020300.bin", v{"P00307020300", ".bin", classic, true, false, "", "", "", true}},
		{"P00307020300.sbn", v{"P00307020300", ".sbn", classic, true, false, "", "", "", true}},
		{"P00307020300.sb2", v{"P00307020300", ".sb2", classic, false, false, "", "", "", true}},
		{"P0030801SR02.sbn", v{"P0030801SR02", ".sbn", classic, true, false, "", "", "", true}},
		{"P00306000100.bin", v{"P00306000100", ".bin", classic, true, false, "", "", "", true}},
		{"P00305000200.bin", v{"P00305000200", ".bin", classic, false, true, "", "", "", true}},
		{"P00303030300.sbn", v{"P00303030300", ".sbn", classic, false, true, "", "", "", true}},
		// MGCP: no source says where it switched to the UAL.
		{"P0M3-07-4-00.bin", v{"P0M3-07-4-00", ".bin", classic, false, true, "", "", "", true}},
		// Java components (§1.3, §4.3): no load IDs, the name says type
		// and, for jar and cvm, protocol.
		{"jar41sip.9-4-2ES26.sbn", v{"jar41sip.9-4-2ES26", ".sbn", java, false, false, "jar", "41", "SIP", false}},
		{"Jar41sip.8-3-0-50.sbn", v{"Jar41sip.8-3-0-50", ".sbn", java, false, false, "jar", "41", "SIP", false}},
		{"jar41sccp.9-4-2ES26.sbn", v{"jar41sccp.9-4-2ES26", ".sbn", java, false, false, "jar", "41", "SCCP", false}},
		{"cnu41.9-4-2-26.sbn", v{"cnu41.9-4-2-26", ".sbn", java, false, false, "cnu", "41", "", false}},
		{"cnu41.9-4-2ES26.SBN", v{"cnu41.9-4-2ES26", ".sbn", java, false, false, "cnu", "41", "", false}},
		{"apps41.9-4-2ES26.sbn", v{"apps41.9-4-2ES26", ".sbn", java, false, false, "apps", "41", "", false}},
		{"dsp41.9-4-2ES26.sbn", v{"dsp41.9-4-2ES26", ".sbn", java, false, false, "dsp", "41", "", false}},
		{"cvm41sip.9-4-2ES26.sbn", v{"cvm41sip.9-4-2ES26", ".sbn", java, false, false, "cvm", "41", "SIP", false}},
		{"cvm41sccp.9-4-2ES26.sbn", v{"cvm41sccp.9-4-2ES26", ".sbn", java, false, false, "cvm", "41", "SCCP", false}},
		{"apps70.9-4-2ES26.sbn", v{"apps70.9-4-2ES26", ".sbn", java, false, false, "apps", "70", "", false}},
		{"jar45sccp.9-4-2-1-1ES3.sbn", v{"jar45sccp.9-4-2-1-1ES3", ".sbn", java, false, false, "jar", "45", "SCCP", false}},
		{"apps37sccp.1-4-5-7.bin", v{"apps37sccp.1-4-5-7", ".bin", java, false, false, "apps", "37", "SCCP", false}},
		// Java loads as images (IDs of their own).
		{"SCCP41.9-4-2SR3-1S.sbn", v{"SCCP41.9-4-2SR3-1S", ".sbn", java, false, false, "", "", "", true}},
		// Other images the reference lists: the phone does not say its family.
		{"B015-1-0-4-2.SBN", v{"B015-1-0-4-2", ".sbn", 0, false, false, "", "", "", false}},
		{"S00105000400.sbn", v{"S00105000400", ".sbn", 0, false, false, "", "", "", false}},
		{"cmterm_7936.3-3-21-0.bin", v{"cmterm_7936.3-3-21-0", ".bin", 0, false, false, "", "", "", false}},
		{"P00405000700.bin", v{"P00405000700", ".bin", 0, false, false, "", "", "", false}},
		// Not quite Java components.
		{"jar4sip.9-4-2ES26.sbn", v{"jar4sip.9-4-2ES26", ".sbn", 0, false, false, "", "", "", false}},
		{"jar41xyz.9-4-2ES26.sbn", v{"jar41xyz.9-4-2ES26", ".sbn", 0, false, false, "", "", "", false}},
		{"foo41sip.9-4-2ES26.sbn", v{"foo41sip.9-4-2ES26", ".sbn", 0, false, false, "", "", "", false}},
		{"fw.bin", v{"fw", ".bin", 0, false, false, "", "", "", false}},
	}
	for _, tt := range tests {
		im, ok := ParseImage(tt.in)
		if !ok {
			t.Errorf("ParseImage(%q) failed", tt.in)
			continue
		}
		got := v{im.Stem, im.Ext, im.Family(), im.Loader(), im.OldImage(), im.Component, im.Prefix, im.Protocol, im.ID.Family != 0}
		if got != tt.want {
			t.Errorf("ParseImage(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if im.Name != tt.in {
			t.Errorf("ParseImage(%q).Name = %q", tt.in, im.Name)
		}
		if id, ok := ParseLoadID(im.Stem); ok && id != im.ID {
			t.Errorf("ParseImage(%q).ID = %+v, want ParseLoadID's %+v", tt.in, im.ID, id)
		}
		// ParseName says the same: a firmware image, its stem the load.
		if n := ParseName(tt.in); n.Kind != KindImage || n.Load != im.Stem {
			t.Errorf("ParseName(%q) = %+v, want a firmware image of load %q", tt.in, n, im.Stem)
		}
	}
	for _, s := range []string{
		"", ".sbn", ".SBN", "sbn", "P0S3-8-12-00", "P0S3-8-12-00.loads", "term41.default.loads",
		"SIP41.9-4-2SR3-1S.loads", "P0S3-8-12-00.sb2.zip", "cmterm-7960-sip.8-12-00.zip",
		"cmterm-7941_7961-sip.9-4-2SR3-1.cop.sgn", "P0S3-8-12-00.sbn.txt", "OS79XX.TXT", "SIPDefault.cnf",
		"SEP000E84C060A6.cnf.xml", "RINGLIST.DAT", "Piano1.raw", "P0S3-8-12-00.sb", "readme.txt",
	} {
		if im, ok := ParseImage(s); ok {
			t.Errorf("ParseImage(%q) accepted: %+v", s, im)
		}
		if n := ParseName(s); n.Kind == KindImage {
			t.Errorf("ParseName(%q) = %+v, a firmware image", s, n)
		}
	}
}

func TestLoadFamily(t *testing.T) {
	tests := []struct {
		id   string
		want Family
	}{
		{"P0S3-8-12-00", FamilyClassic},
		{"p0s3-8-12-00", FamilyClassic},
		{"P0S3-04-4-00", FamilyClassic},
		{"P003-8-12-00", FamilyClassic}, // the loader runs on 7940/7960 too
		{"P00308010200", FamilyClassic},
		{"P0030801SR02", FamilyClassic},
		{"P0M3-07-4-00", FamilyClassic},
		{"SIP41.9-4-2SR3-1S", FamilyJava},
		{"SCCP70.8-5-2S", FamilyJava},
		{"TERM41.7-0-3-0S", FamilyJava},
		{"jar41sip.9-4-2ES26", 0}, // a component, not a load
		{"CP7912080000SIP060111A", 0},
		{"P00405000700", 0}, // 7910
		{"", 0},
	}
	for _, tt := range tests {
		if got := LoadFamily(tt.id); got != tt.want {
			t.Errorf("LoadFamily(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"P0S3-8-12-00.sb2", "P003-8-12-00.BIN", "jar41sip.9-4-2ES26.sbn", "cnu41.9-4-2-26.sbn", ".sbn", "x.sbin", "a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		im, ok := ParseImage(s)
		n := ParseName(s)
		if !ok {
			if n.Kind == KindImage {
				t.Fatalf("%q: ParseName says image, ParseImage does not", s)
			}
			return
		}
		if im.Stem == "" || im.Name != s || im.Ext != strings.ToLower(s[len(im.Stem):]) || !IsImageExt(im.Ext) {
			t.Fatalf("%q: parsed as %+v", s, im)
		}
		if im.Loader() && im.OldImage() {
			t.Fatalf("%q: both loader and old image", s)
		}
		if (im.Loader() || im.OldImage()) && im.Family() != FamilyClassic {
			t.Fatalf("%q: a loader or old image of family %v", s, im.Family())
		}
	})
}
