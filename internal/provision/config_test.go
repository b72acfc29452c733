package provision

import (
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/config"
	"phoneboot/internal/files"
)

// TestNoConfigFileKeepsLoopThresholds: without phoneboot.toml the loop
// breakers run with their defaults, so a phone's first CTLSEP<MAC>.tlv
// gets "not found", not the loop breaker's empty file (the thresholds
// were 0 once, and every first request looked like a loop).
func TestNoConfigFileKeepsLoopThresholds(t *testing.T) {
	ctl := "CTLSEP00137F38B3DE.tlv"
	answers := func(f *fixture) string {
		var got []string
		for range config.DefaultCTLLoopRequests {
			b, err := f.get("127.0.0.2", ctl)
			switch {
			case err != nil && err.Code == files.NotFound:
				got = append(got, "not found")
			case err != nil:
				t.Fatal(err)
			case b == "":
				got = append(got, "empty")
			default:
				got = append(got, "data")
			}
		}
		return strings.Join(got, ",")
	}
	want := "not found,not found,not found,empty"

	// A Provisioner before its first Update.
	if got := answers(newFixture(t, "")); got != want {
		t.Errorf("before Update: %s, want %s", got, want)
	}

	// Updated with what a missing file reads as.
	cfg, err := config.Read(filepath.Join(t.TempDir(), "phoneboot.toml"), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Exists {
		t.Fatal("a missing file exists")
	}
	f := newFixture(t, "")
	if _, err := f.p.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if got := answers(f); got != want {
		t.Errorf("missing file: %s, want %s", got, want)
	}
}

// TestSiteLoadsKeyAnySpelling: a site.loads key written as the phone's
// marketing name (CP-7961G) is the 7961's target: it used to pass check
// and then never be used.
func TestSiteLoadsKeyAnySpelling(t *testing.T) {
	for _, key := range []string{"7961", "7961G", "CP-7961G", `"cp-7961g"`} {
		t.Run(key, func(t *testing.T) {
			f := newFixture(t, "[site]\nprotocol = \"SIP\"\nsip_proxy = \"pbx.example.net:5060\"\n[site.loads]\n"+key+" = \"SIP41.9-4-2SR3-1S\"\n"+
				"[[phone]]\nmac = \"001E4A93748B\"\nmodel = \"7961\"\n")
			// Its load is unknown: the safe first step, 8.5(2) (§4.4).
			if got := f.mustGet("127.0.0.4", "SEP001E4A93748B.cnf.xml"); !strings.Contains(got, "SIP41.8-5-2S") {
				t.Errorf("inventory 7961 did not get its load:\n%s", got)
			}
			// A 7961 outside the inventory, learned from its term file.
			f.get("127.0.0.10", "CTLSEP0011223344BB.tlv")
			f.get("127.0.0.10", "term61.default.loads")
			if got := f.mustGet("127.0.0.10", "SEP0011223344BB.cnf.xml"); !strings.Contains(got, "SIP41.8-5-2S") {
				t.Errorf("learned 7961 did not get its load:\n%s", got)
			}
			if def := f.mustGet("127.0.0.4", "XMLDefault.cnf.xml"); !strings.Contains(def, "SIP41.8-5-2S") {
				t.Errorf("XMLDefault.cnf.xml lacks the 7961's load:\n%s", def)
			}
		})
	}
}
