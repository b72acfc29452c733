package provision

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPreviewIsWhatThePhoneGetsAndChangesNothing(t *testing.T) {
	f := newFixture(t, inventory)
	mac := f.mustMAC("00137F38B3DE")
	f.get("127.0.0.2", "CTLSEP00137F38B3DE.tlv")
	before := len(f.kinds())
	gen, err := f.p.Preview(mac, netip.Addr{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(gen) != 2 || gen[0].Name != "SEP00137F38B3DE.cnf.xml" || gen[1].Name != "SIP00137F38B3DE.cnf" {
		t.Fatalf("Preview gave %d files, first %q", len(gen), gen[0].Name)
	}
	if len(f.kinds()) != before {
		t.Errorf("Preview wrote events: %v", f.kinds()[before:])
	}
	if got := f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml"); got != string(gen[0].Body) {
		t.Errorf("preview differs from the served file:\n%s\nserved:\n%s", gen[0].Body, got)
	}
	if got := f.mustGet("127.0.0.2", "SIP00137F38B3DE.cnf"); got != string(gen[1].Body) {
		t.Errorf("SIP preview differs from the served file")
	}
	masked, err := f.p.Preview(mac, netip.Addr{}, false)
	if err != nil {
		t.Fatal(err)
	}
	sip := string(masked[1].Body)
	if strings.Contains(sip, "s3cret") || !strings.Contains(sip, Masked) {
		t.Errorf("masked SIP config shows the password:\n%s", sip)
	}
	// A phone nobody told us about gets the site defaults.
	if gen, err := f.p.Preview(f.mustMAC("00137F000001"), netip.MustParseAddr("192.0.2.1"), false); err != nil || len(gen) == 0 {
		t.Errorf("unknown phone: %v, %v", gen, err)
	}
}
