package cli

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/testutil"
)

// TestCheckConfigFidelity: phoneboot check names each problem of the
// config-fidelity checks with its file and line.
func TestCheckConfigFidelity(t *testing.T) {
	data := t.TempDir()
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"
time_zone = "Europe/Vienn"

[[site.dial_plan]]
match = "0."
rewrite = "0%s"

[[site.ring]]
name = "A ring tone name too long to show"
file = "Long.raw"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7961"
kem = ["7915"]
  [[phone.line]]
  extension = "201"
  password = "nine-char"
`))
	code, stdout, stderr := runQuick(t, "check", "--data", data)
	cfg := filepath.Join(data, "phoneboot.toml")
	for _, w := range []string{
		cfg + `:4: site.time_zone: unknown time zone "Europe/Vienn" (did you mean "Europe/Vienna"?)`,
		cfg + `:8: site.dial_plan: rewrite "0%s": "%s" is not a dial-template token`,
		cfg + `:11: site.ring "A ring tone name too long to show": name`,
		cfg + `:17: phone 00:13:7f:38:b3:de: a 7961 takes the 7914, not the 7915`,
		cfg + `:20: phone 00:13:7f:38:b3:de: line 1 (201): password is 9 characters; the SIP firmware of a 7961 takes at most 8`,
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("check output lacks %q", w)
		}
	}
	if code == 0 || !strings.Contains(stderr, "5 problems") {
		t.Errorf("check: code %d, stderr %q", code, stderr)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout)
	}
}

// TestServeConfigFidelity: what serve hands out for the fidelity items:
// Ringlist.xml beside RINGLIST.DAT, SIP<MAC>.cnf with every line's proxy
// and the rest blanked, a 79x1's SIP profile with its modules, and a file
// that is not there refused in words in the log.
func TestServeConfigFidelity(t *testing.T) {
	curlBin := testutil.Tool(t, "curl")
	data := filepath.Join(t.TempDir(), "data")
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
time_zone = "Europe/Athens"
locale = "English_United_States"

[[site.ring]]
name = "Piano 1"
file = "Piano1.raw"

[[phone]]
mac = "00:13:7F:00:00:AA"
model = "7960"
  [[phone.line]]
  extension = "201"
  password = "s3cret"

[[phone]]
mac = "00:13:7F:00:00:BB"
model = "7962"
protocol = "SCCP"
kem = ["7914"]
`))
	p, port, _ := serveData(t, data)
	get := func(name string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "got")
		// Each phone's own files from its own address (docs/security.md).
		from := netip.MustParseAddr("127.0.0.1")
		if n := phone.ParseName(name); n.HasMAC {
			from = netip.AddrFrom4([4]byte{127, 0, 0, n.MAC[5]})
		}
		if err := curlFrom(t, curlBin, from, port, name, out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := os.ReadFile(out)
		return string(b)
	}
	if got := get("Ringlist.xml"); !strings.Contains(got, "<CiscoIPPhoneRingList>") || !strings.Contains(got, "<FileName>Piano1.raw</FileName>") {
		t.Errorf("Ringlist.xml:\n%s", got)
	}
	sip := get("SIP00137F0000AA.cnf")
	for _, w := range []string{`proxy1_address: "127.0.0.1"`, `line2_name: "UNPROVISIONED"`, `proxy6_address: ""`, `outbound_proxy: ""`, `nat_enable: "0"`} {
		if !strings.Contains(sip, w) {
			t.Errorf("SIP00137F0000AA.cnf lacks %s:\n%s", w, sip)
		}
	}
	if def := get("SIPDefault.cnf"); !strings.Contains(def, `time_zone: "EET"`) || !strings.Contains(def, `dst_start_time: "03/00"`) {
		t.Errorf("SIPDefault.cnf for Europe/Athens:\n%s", def)
	}
	dev := get("SEP00137F0000BB.cnf.xml")
	for _, w := range []string{"<timeZone>E. Europe Standard/Daylight Time</timeZone>", `<addOnModule idx="1">`, "<deviceType>7914</deviceType>", "<langCode>en_US</langCode>"} {
		if !strings.Contains(dev, w) {
			t.Errorf("SEP00137F0000BB.cnf.xml lacks %s:\n%s", w, dev)
		}
	}
	// A file that is not there: the phone and the log are told in words.
	out := filepath.Join(t.TempDir(), "got")
	if err := curl(t, curlBin, port, "Desktops/320x212x12/List.xml", out); err == nil {
		t.Fatal("a file that is not there was served")
	}
	p.waitLog(t, "Desktops/320x212x12/List.xml is not in the TFTP root", 5*time.Second)
	if strings.Contains(p.stderr.String(), "openat") || strings.Contains(p.stderr.String(), "no such file") {
		t.Errorf("the log holds system call text:\n%s", p.stderr.String())
	}
}
