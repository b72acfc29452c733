package phone

import (
	"strings"
	"testing"
)

func TestParseMAC(t *testing.T) {
	want := MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}
	for _, s := range []string{
		"00:13:7F:38:B3:DE", "00:13:7f:38:b3:de", "00-13-7F-38-B3-DE",
		"0013.7f38.b3de", "0013.7F38.B3DE", "00137F38B3DE", "00137f38b3de", "  00137F38B3DE\n",
	} {
		m, err := ParseMAC(s)
		if err != nil || m != want {
			t.Errorf("ParseMAC(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "00137F38B3D", "00137F38B3DEX", "00:13:7F-38:B3:DE", "00137F38B3DG", "0013:7f38:b3de", "SEP00137F38B3DE"} {
		if _, err := ParseMAC(s); err == nil {
			t.Errorf("ParseMAC(%q) accepted", s)
		} else if !strings.Contains(err.Error(), "MAC address") {
			t.Errorf("ParseMAC(%q) error %q does not say what was wrong", s, err)
		}
	}
	if got := want.DeviceName(); got != "SEP00137F38B3DE" {
		t.Errorf("DeviceName = %q", got)
	}
	if got := want.String(); got != "00:13:7f:38:b3:de" {
		t.Errorf("String = %q", got)
	}
}

func TestParseName(t *testing.T) {
	mac := MAC{0x00, 0x0e, 0x84, 0xc0, 0x60, 0xa6}
	tests := []struct {
		in   string
		want Name
	}{
		// The observed 7960 SIP boot (cisco-79xx.md §1.2.1).
		{"CTLSEP000E84C060A6.tlv", Name{Kind: KindCTL, MAC: mac, HasMAC: true}},
		{"SEP000E84C060A6.cnf.xml", Name{Kind: KindDeviceConfig, MAC: mac, HasMAC: true}},
		{"P0S3-8-12-00.loads", Name{Kind: KindLoadList, Load: "P0S3-8-12-00"}},
		{"SIPDefault.cnf", Name{Kind: KindSIPDefault}},
		{"./SIP000E84C060A6.cnf", Name{Kind: KindSIPConfig, MAC: mac, HasMAC: true}},
		{"RINGLIST.DAT", Name{Kind: KindRingList}},
		{"dialplan.xml", Name{Kind: KindDialPlan}},
		// Java phones (§1.3).
		{"ITLSEP000E84C060A6.tlv", Name{Kind: KindITL, MAC: mac, HasMAC: true}},
		{"ITLFile.tlv", Name{Kind: KindTrustFile}},
		{"CTLFile.tlv", Name{Kind: KindTrustFile}},
		{"SEP000E84C060A6.cnf.xml.sgn", Name{Kind: KindDeviceConfig, MAC: mac, HasMAC: true, Signed: true}},
		{"SEP000E84C060A6.cnf.xml.enc.sgn", Name{Kind: KindDeviceConfig, MAC: mac, HasMAC: true, Signed: true, Encrypted: true}},
		{"term61.default.loads", Name{Kind: KindTermDefault, Model: "61"}},
		{"TERM41.default.loads", Name{Kind: KindTermDefault, Model: "41"}},
		{"jar41sccp.9-4-2ES26.sbn", Name{Kind: KindImage, Load: "jar41sccp.9-4-2ES26"}},
		{"B015-1-0-4-2.SBN", Name{Kind: KindImage, Load: "B015-1-0-4-2"}},
		{"P0S3-08-12-00.sb2", Name{Kind: KindImage, Load: "P0S3-08-12-00"}},
		{"ToveLow-Habits.raw", Name{Kind: KindRingTone}},
		{"German_Germany/7960-font.xml", Name{Kind: KindLocale, Locale: "German_Germany"}},
		{"Desktops/320x196x4/List.xml", Name{Kind: KindDesktop}},
		// SCCP defaults and old loads (§1.2.2, §1.2.3).
		{"XMLDefault.cnf.xml", Name{Kind: KindDefaultConfig}},
		{"XmlDefault.cnf.xml", Name{Kind: KindDefaultConfig}},
		{"SEPDefault.cnf", Name{Kind: KindLegacyConfig}},
		{"SEP000E84C060A6.cnf", Name{Kind: KindLegacyConfig, MAC: mac, HasMAC: true}},
		{"OS79XX.TXT", Name{Kind: KindOSImage}},
		{"syncinfo.xml", Name{Kind: KindSyncInfo}},
		// 7902/7905/7912 profiles, MAC in lower case (§1.4).
		{"gk000e84c060a6", Name{Kind: KindProfile, MAC: mac, HasMAC: true}},
		{"lddefault.cfg", Name{Kind: KindProfile}},
		// Case as phones and packages vary it.
		{"sep000e84c060a6.CNF.XML", Name{Kind: KindDeviceConfig, MAC: mac, HasMAC: true}},
		// Not phone files, or not quite.
		{"SEP000E84C060A.cnf.xml", Name{Kind: KindOther}},
		{"SEPXYZ.cnf.xml", Name{Kind: KindOther}},
		{"term7.default.loads", Name{Kind: KindLoadList, Load: "term7.default"}},
		{".loads", Name{Kind: KindOther}},
		{"readme.txt", Name{Kind: KindOther}},
	}
	for _, tt := range tests {
		if got := ParseName(tt.in); got != tt.want {
			t.Errorf("ParseName(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseName: any name parses without panicking, and a MAC it reports
// appears in the name.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"CTLSEP000E84C060A6.tlv", "SEP000E84C060A6.cnf.xml.sgn", "term61.default.loads", "a/b/c", "SEP.cnf", "gk"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := ParseName(s)
		if n.HasMAC && !strings.Contains(strings.ToUpper(s), n.MAC.Hex()) {
			t.Fatalf("ParseName(%q) reports MAC %s not in the name", s, n.MAC)
		}
		_ = n.Kind.String()
	})
}

func TestModels(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"7960", "7960"}, {"7960G", "7960"}, {"CP-7960G", "7960"}, {"IP Phone 7940", "7940"},
		{"cp-7941g-ge", "7941G-GE"}, {"CP-7941G", "7941"}, {"CP-7971G-GE", "7971"}, {"Cisco 7914", "7914"},
	} {
		if m, ok := ModelByName(tc.in); !ok || m.Name != tc.want {
			t.Errorf("ModelByName(%q) = %q, %v; want %q", tc.in, m.Name, ok, tc.want)
		}
	}
	if _, ok := ModelByName("7999"); ok {
		t.Error("ModelByName(7999) found a model")
	}
	// The codes of the seed page's XMLDefault.cnf.xml.
	for code, want := range map[int]string{6: "7910", 124: "7914", 9: "7935", 8: "7940", 7: "7960", 20000: "7905", 30008: "7902", 30007: "7912", 30018: "7961", 228: "7915"} {
		if m, ok := ModelByTypeCode(code); !ok || m.Name != want {
			t.Errorf("ModelByTypeCode(%d) = %q, %v; want %q", code, m.Name, ok, want)
		}
	}
	// chan-sccp's sample says loadInformation5 is a 7961: it is the 30 VIP
	// (cisco-79xx.md §2.2.1 conflict), so no model here.
	if m, ok := ModelByTypeCode(5); ok {
		t.Errorf("code 5 maps to %s", m.Name)
	}
	for vc, want := range map[string]string{
		"Cisco Systems, Inc. IP Phone CP-7940G\x00":    "7940",
		"Cisco Systems, Inc. IP Phone CP-7940G":        "7940",
		"Cisco Systems, Inc. IP Phone CP-7941G-GE\x00": "7941G-GE",
		"Cisco Systems, Inc. IP Phone CP-7941G\x00":    "7941",
		"Cisco Systems, Inc. IP Phone 7912":            "7912",
		"Cisco Systems, Inc. IP Phone CP-7937G":        "7937",
		"Cisco Systems Inc. Wireless Phone 7921":       "7921",
	} {
		if m, ok := ModelByVendorClass(vc); !ok || m.Name != want {
			t.Errorf("ModelByVendorClass(%q) = %q, %v; want %q", vc, m.Name, ok, want)
		}
	}
	if m, ok := ModelByTerm("61"); !ok || m.Name != "7961" || m.LoadPrefix != "41" {
		t.Errorf("ModelByTerm(61) = %+v, %v", m, ok)
	}
	// Every code belongs to one model only, every Java phone has a term
	// file and a reset sequence.
	seen := map[int]string{}
	for _, m := range Models {
		for _, c := range m.TypeCodes {
			if other, dup := seen[c]; dup {
				t.Errorf("type code %d on %s and %s", c, other, m.Name)
			}
			seen[c] = m.Name
		}
		if m.Family == FamilyJava && (m.TermFile == "" || m.Reset == "" || m.LoadPrefix == "") {
			t.Errorf("%s: Java phone without term file, reset or load prefix", m.Name)
		}
	}
}

func TestMACNext(t *testing.T) {
	for _, c := range [][2]string{
		{"00:13:7f:00:00:01", "00:13:7f:00:00:02"},
		{"00:13:7f:00:00:ff", "00:13:7f:00:01:00"},
		{"ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"},
	} {
		m, _ := ParseMAC(c[0])
		if got := m.Next().String(); got != c[1] {
			t.Errorf("%s.Next() = %s, want %s", c[0], got, c[1])
		}
	}
}
