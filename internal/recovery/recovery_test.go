package recovery

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"phoneboot/internal/event"
	"phoneboot/internal/firmware"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

const (
	classicLoad = "P0S3-8-12-00"
	javaLoad    = "SIP41.9-4-2SR3-1S"
	// java852 is where a 7961 whose load is unknown goes first (§4.4):
	// the load of the term file a factory reset gets.
	java852 = "SIP41.8-5-2S"
)

// dataDir is a data directory with config as its phoneboot.toml and the
// given loads imported (the Java one with its term files when withTerm).
func dataDir(t *testing.T, config string, withTerm bool, loads ...string) string {
	t.Helper()
	data := t.TempDir()
	fwtest.Write(t, data, "phoneboot.toml", []byte(config))
	if len(loads) == 0 {
		return data
	}
	cat, err := firmware.OpenCatalog(filepath.Join(data, "firmware"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := t.TempDir()
	var paths []string
	for _, id := range loads {
		files := fwtest.LoadFiles(id, 500, fwtest.Classic(id)...)
		if phone.LoadFamily(id) == phone.FamilyJava {
			comps := fwtest.Java(id, "9-4-2ES26")
			files = fwtest.LoadFiles(id, 500, comps...)
			if withTerm {
				files["term61.default.loads"] = fwtest.TermFile("61", id, comps...)
			}
		}
		p := filepath.Join(pkgs, id+".zip")
		fwtest.Zip(t, p, files)
		paths = append(paths, p)
	}
	if _, err := cat.Import(paths...); err != nil {
		t.Fatal(err)
	}
	return data
}

const siteLoads = `[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"
`

func eth0() []Iface {
	return []Iface{{Name: "eth0", Prefix: netip.MustParsePrefix("10.1.2.3/24")}}
}

func build(t *testing.T, o Options) *Guide {
	t.Helper()
	if o.Interfaces == nil {
		o.Interfaces = eth0
	}
	g, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	text := g.Text()
	for _, l := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(l) > Width {
			t.Errorf("line wider than %d columns: %q", Width, l)
		}
	}
	return g
}

func check(t *testing.T, g *Guide, item string) Check {
	t.Helper()
	for _, c := range g.Checks {
		if c.Item == item {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", item, g.Checks)
	return Check{}
}

func stepsText(g *Guide) string {
	var s []string
	for _, st := range g.Steps {
		s = append(s, st.Text+" ["+st.Source+"]")
	}
	return strings.Join(s, "\n")
}

func has(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

// TestNothingReady: no DHCP, no load in the catalog, no term file: each
// is MISSING with what to do, and the steps are the seed page's.
func TestNothingReady(t *testing.T) {
	data := dataDir(t, "[site]\n"+siteLoads, false)
	g := build(t, Options{Data: data, Model: "7960"})
	dh := check(t, g, "DHCP option 150")
	if dh.Status != Missing {
		t.Errorf("DHCP: %+v", dh)
	}
	do := strings.Join(dh.Do, "\n")
	has(t, "DHCP do", do, "  phoneboot dhcp snippet --for isc --tftp 10.1.2.3", "tftp_via_dhcp = true",
		"  sudo phoneboot serve --dhcp-iface eth0 --dhcp-range 10.1.2.100-10.1.2.199")
	ld := check(t, g, "target load")
	if ld.Status != Missing {
		t.Errorf("load: %+v", ld)
	}
	has(t, "load", ld.Found, classicLoad, "line 3", "not in the firmware catalog")
	has(t, "load do", strings.Join(ld.Do, "\n"), "phoneboot firmware import")
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "2 things MISSING") {
		t.Errorf("Err = %v", g.Err())
	}
	if len(g.Checks) != 2 {
		t.Errorf("a 7960 has no term file, and no MAC was given: %+v", g.Checks)
	}
	has(t, "7960 text", g.Text(), "MISSING  DHCP option 150", "MISSING  target load", "Not ready")
	has(t, "7960 steps", stepsText(g), "Hold # and plug it back in", "123456789*0#", "reset key detected",
		`Keep network cfg? 1 = yes 2 = no`, "press 2, no", "§7", "seed page")

	g = build(t, Options{Data: data, Model: "CP-7961G"})
	tf := check(t, g, "term file")
	if tf.Status != Missing {
		t.Errorf("term: %+v", tf)
	}
	has(t, "term", tf.Found, "term61.default.loads", "not in the catalog")
	has(t, "7961 steps", stepsText(g), "line buttons flash amber", "soft factory reset", "Nothing to answer", "term61.default.loads")
}

// TestAllReady: the site's DHCP says it sends option 150, the loads are
// complete and the 7961's package had its term file: all ok.
func TestAllReady(t *testing.T) {
	data := dataDir(t, "[site]\ntftp_via_dhcp = true\n"+siteLoads, true, classicLoad, java852, javaLoad)
	for _, model := range []string{"7960", "7961"} {
		g := build(t, Options{Data: data, Model: model})
		for _, c := range g.Checks {
			if c.Status != OK {
				t.Errorf("%s: %+v", model, c)
			}
		}
		if g.Err() != nil {
			t.Errorf("%s: %v", model, g.Err())
		}
		has(t, model, g.Text(), "Ready: phoneboot has everything")
	}
	g := build(t, Options{Data: data, Model: "7961"})
	has(t, "term", check(t, g, "term file").Found, "came with "+java852)
	has(t, "load", check(t, g, "target load").Found, "complete in the catalog: 5 components")
	if g.Target != javaLoad {
		t.Errorf("target %q", g.Target)
	}
}

// TestTermFileFixes: a package without term files; the admin's own file
// in the TFTP root is what phoneboot serves then.
func TestTermFileFixes(t *testing.T) {
	data := dataDir(t, "[site]\ntftp_via_dhcp = true\n"+siteLoads, false, java852, javaLoad)
	g := build(t, Options{Data: data, Model: "7961"})
	tf := check(t, g, "term file")
	if tf.Status != Missing {
		t.Fatalf("term: %+v", tf)
	}
	has(t, "term", tf.Found, "had none")
	has(t, "term do", strings.Join(tf.Do, "\n"), "  cp term61.default.loads "+filepath.Join(data, "tftp")+"/", "phoneboot firmware rm")
	fwtest.Write(t, filepath.Join(data, "tftp"), "TERM61.default.loads", fwtest.TermFile("61", javaLoad, fwtest.Java(javaLoad, "9-4-2ES26")...))
	tf = check(t, build(t, Options{Data: data, Model: "7961"}), "term file")
	if tf.Status != OK {
		t.Fatalf("term: %+v", tf)
	}
	has(t, "term", tf.Found, "your file in", "TERM61.default.loads")
}

// TestOwnDHCP: phoneboot's own DHCP server.
func TestOwnDHCP(t *testing.T) {
	data := dataDir(t, "[dhcp]\ninterface = \"eth0\"\nrange = \"10.1.2.100-10.1.2.150\"\n", false)
	dh := check(t, build(t, Options{Data: data, Model: "7940"}), "DHCP option 150")
	if dh.Status != OK {
		t.Errorf("%+v", dh)
	}
	has(t, "DHCP", dh.Found, "eth0", "10.1.2.100-10.1.2.150")
}

// TestPhone: --mac: the inventory entry, its own target, its last state.
func TestPhone(t *testing.T) {
	config := "[site]\ntftp_via_dhcp = true\n" + siteLoads + `
[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7960"
label = "Reception"
  [[phone.line]]
  extension = "201"
  password = "s3cret"
`
	data := dataDir(t, config, false, classicLoad)
	g := build(t, Options{Data: data, Model: "7960", MAC: "0013.7f38.b3de"})
	inv := check(t, g, "inventory")
	if inv.Status != OK {
		t.Errorf("%+v", inv)
	}
	has(t, "inventory", inv.Found, "line 8", "1 line", `"Reception"`)
	has(t, "last seen", check(t, g, "last seen").Found, "never seen")
	has(t, "steps", g.Steps[len(g.Steps)-1].Text, "phoneboot recover 7960 --mac 00:13:7f:38:b3:de --watch")

	// The wrong model.
	inv = check(t, build(t, Options{Data: data, Model: "7940", MAC: "00:13:7F:38:B3:DE"}), "inventory")
	if inv.Status != Missing || !strings.Contains(strings.Join(inv.Do, "\n"), "phoneboot recover 7960 --mac 00:13:7f:38:b3:de") {
		t.Errorf("%+v", inv)
	}

	// A phone outside the inventory, seen by phoneboot: auto-provisioned.
	mac, _ := phone.ParseMAC("00:13:7F:00:00:02")
	record(t, data, event.Event{Time: time.Now().Add(-time.Hour), MAC: mac, IP: netip.MustParseAddr("10.1.2.50"),
		Source: event.TFTP, Kind: event.Request, File: "CTLSEP00137F000002.tlv", Outcome: event.NotFound})
	g = build(t, Options{Data: data, Model: "7960", MAC: mac.String()})
	inv = check(t, g, "inventory")
	if inv.Status != Note {
		t.Errorf("%+v", inv)
	}
	has(t, "inventory", inv.Found+strings.Join(inv.Do, "\n"), "auto-provisioned", "phoneboot phones add 00:13:7f:00:00:02 --model 7960")
	has(t, "last seen", check(t, g, "last seen").Found, "1h ago at 10.1.2.50")
}

// TestModels: spellings, models without a known sequence, variants.
func TestModels(t *testing.T) {
	data := dataDir(t, "", false)
	for _, tc := range []struct{ model, err string }{
		{"", "which model"},
		{"7999", `unknown model "7999"`},
		{"7905", "no factory-reset sequence is known for the 7905"},
		{"7960", "bad MAC"},
	} {
		o := Options{Data: data, Model: tc.model}
		if tc.err == "bad MAC" {
			o.MAC, tc.err = "00:13", "--mac"
		}
		if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.model, err, tc.err)
		}
	}
	if g := build(t, Options{Data: data, Model: "cisco ip phone 7961g"}); g.ModelName != "7961" {
		t.Errorf("model %q", g.ModelName)
	}
	has(t, "7911", stepsText(build(t, Options{Data: data, Model: "7911"})), "Applications button", "flashes red")
	has(t, "7970", stepsText(build(t, Options{Data: data, Model: "7970"})), "external power supply", "term70.default.loads")
}

// TestSeeAlso: a finding whose advice is a factory reset points at the
// command; one with other advice does not. Track's own findings.
func TestSeeAlso(t *testing.T) {
	mac, _ := phone.ParseMAC("00:13:7F:38:B3:DE")
	at := time.Now().Add(-time.Hour)
	noTFTP := track.DHCPNoTFTP(track.Timeline{MAC: mac, Now: time.Now(), Events: []event.Event{
		{Time: at, MAC: mac, Source: event.DHCP, Kind: event.DHCPAck, IP: netip.MustParseAddr("10.0.0.9")}}})
	if len(noTFTP) != 1 {
		t.Fatalf("dhcp-no-tftp: %+v", noTFTP)
	}
	if got := SeeAlso(noTFTP[0], "CP-7960G", mac); got != "  see: phoneboot recover 7960 --mac 00:13:7f:38:b3:de\n" {
		t.Errorf("SeeAlso = %q", got)
	}
	if got := SeeAlso(noTFTP[0], "", mac); !strings.Contains(got, "recover MODEL --mac") {
		t.Errorf("SeeAlso without model = %q", got)
	}
	term := track.MissingTermFile(track.Timeline{MAC: mac, Now: time.Now(), Events: []event.Event{
		{Time: at, MAC: mac, Source: event.TFTP, Kind: event.Request, File: "term61.default.loads", Outcome: event.NotFound}}})
	if len(term) != 1 || SeeAlso(term[0], "7961", mac) != "" {
		t.Errorf("missing-term-file: %+v", term)
	}
}

// record writes events to the store of data.
func record(t *testing.T, data string, evs ...event.Event) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(data, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Record(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// follow runs Follow with fast polling and collects its lines.
func follow(t *testing.T, o Options, during func()) ([]Change, error) {
	t.Helper()
	o.Every, o.Interfaces = 20*time.Millisecond, eth0
	var (
		out  []Change
		errc = make(chan error, 1)
		seen = make(chan struct{})
	)
	go func() {
		errc <- Follow(context.Background(), o, func(c Change) {
			out = append(out, c)
			if len(out) == 1 {
				close(seen)
			}
		})
	}()
	<-seen
	during()
	select {
	case err := <-errc:
		return out, err
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not end")
		return nil, nil
	}
}

func requests(mac phone.MAC, outcome event.Outcome, names ...string) []event.Event {
	var evs []event.Event
	for i, n := range names {
		evs = append(evs, event.Event{Time: time.Now().Add(time.Duration(i) * time.Millisecond), MAC: mac,
			IP: netip.MustParseAddr("10.1.2.61"), Source: event.TFTP, Kind: event.Request, File: n, Outcome: outcome})
	}
	return evs
}

// TestFollow: a phone seen before the start is not the one; a new one
// is followed to "up to date"; nothing at all times out; a missing term
// file ends it stuck.
func TestFollow(t *testing.T) {
	data := dataDir(t, "[site]\ntftp_via_dhcp = true\n", false)
	old, _ := phone.ParseMAC("00:1E:4A:00:00:01")
	record(t, data, requests(old, event.OK, "CTLSEP001E4A000001.tlv")...)
	mac, _ := phone.ParseMAC("00:1E:4A:00:00:61")

	out, err := follow(t, Options{Data: data, Model: "7961", Timeout: 5 * time.Second}, func() {
		time.Sleep(50 * time.Millisecond)
		record(t, data, requests(old, event.OK, "SEP001E4A000001.cnf.xml")...) // talks, does not boot
		time.Sleep(50 * time.Millisecond)
		record(t, data, requests(mac, event.NotFound, "CTLSEP001E4A000061.tlv", "ITLSEP001E4A000061.tlv", "ITLFile.tlv")...)
		time.Sleep(100 * time.Millisecond)
		record(t, data, requests(mac, event.OK, "SEP001E4A000061.cnf.xml")...)
	})
	if err != nil {
		t.Fatalf("Follow: %v\n%v", err, out)
	}
	var lines []string
	for _, c := range out {
		if c.MAC != (phone.MAC{}) && c.MAC != mac {
			t.Errorf("followed %s", c.MAC)
		}
		lines = append(lines, c.String())
	}
	text := strings.Join(lines, "\n")
	has(t, "follow", text, "waiting up to 5s for a 7961", "appeared at 10.1.2.61 (model not known yet", "booting (ITLFile.tlv)", "up to date on an unknown load: recovered")
	for _, l := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(l) > Width {
			t.Errorf("wider than %d: %q", Width, l)
		}
	}

	// A phone seen before, of unknown model, that boots again.
	out, err = follow(t, Options{Data: data, Model: "7961", Timeout: 500 * time.Millisecond}, func() {
		time.Sleep(50 * time.Millisecond)
		record(t, data, requests(old, event.NotFound, "CTLSEP001E4A000001.tlv")...)
	})
	if !errors.Is(err, ErrTimeout) || len(out) < 2 || out[1].MAC != old {
		t.Errorf("%v: %v", err, out)
	}

	// Nobody comes.
	out, err = follow(t, Options{Data: data, Model: "7961", MAC: "00:1E:4A:00:00:99", Timeout: 200 * time.Millisecond}, func() {})
	if !errors.Is(err, ErrTimeout) || err.Error() != "recover --watch: timed out: no phone came within 200ms" {
		t.Errorf("timeout: %v", err)
	}
	if last := out[len(out)-1]; !strings.Contains(last.Text, "timed out: it has not booted from phoneboot within 200ms") || last.MAC.String() != "00:1e:4a:00:00:99" {
		t.Errorf("timeout: %+v", last)
	}

	// A factory reset without its term file: stuck at once.
	_, err = follow(t, Options{Data: data, Model: "7961", MAC: mac.String(), Timeout: 5 * time.Second}, func() {
		time.Sleep(50 * time.Millisecond)
		record(t, data, requests(mac, event.NotFound, "term61.default.loads")...)
	})
	var stuck *StuckError
	if !errors.As(err, &stuck) || stuck.Finding.Rule != "missing-term-file" {
		t.Errorf("stuck: %v", err)
	}
}

// TestFollowNoStore: before serve ever ran there is no database; Follow
// waits for it rather than create it, and times out.
func TestFollowNoStore(t *testing.T) {
	data := dataDir(t, "", false)
	out, err := follow(t, Options{Data: data, Model: "7960", Timeout: 100 * time.Millisecond}, func() {})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(out[len(out)-1].Text, "no 7960 and no phone of unknown model booted") {
		t.Errorf("%v %+v", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, store.FileName)); err == nil {
		t.Error("Follow created the database")
	}
}

// TestWrap: lines fit, long words stay whole, long commands continue.
func TestWrap(t *testing.T) {
	w := wrap(strings.Repeat("word ", 40), "   ok       ", "            ")
	for _, l := range strings.Split(strings.TrimSuffix(w, "\n"), "\n") {
		if utf8.RuneCountInString(l) > Width || !strings.HasPrefix(l, "   ") {
			t.Errorf("%q", l)
		}
	}
	v := verbatim("sudo phoneboot serve --dhcp-iface enp0s31f6 --dhcp-range 192.168.100.100-192.168.100.199", strings.Repeat(" ", 18))
	if !strings.Contains(v, " \\\n") {
		t.Errorf("not continued: %q", v)
	}
	for _, l := range strings.Split(strings.TrimSuffix(v, "\n"), "\n") {
		if utf8.RuneCountInString(l) > Width {
			t.Errorf("%q", l)
		}
	}
}

// TestNetworkTextEscaped: a state or file name from the network in a
// --watch line or a check prints escaped, on its own line (issue 12).
func TestNetworkTextEscaped(t *testing.T) {
	c := Change{Time: time.Now(), MAC: phone.MAC{0, 0x13, 0x7f, 0, 0, 1}, Text: "stuck: Registration failed\x1b[2J\r\n12:00:00  forged up to date", Do: "look\u202e"}
	s := c.String() + checkText(Check{Item: "file\x1b]0;x\x07", Found: "a\nb", Status: Missing, Do: []string{"  cmd\x1b"}})
	if strings.ContainsAny(s, "\x1b\r\x07\u202e") || strings.Contains(s, "\n12:00:00") || !strings.Contains(s, `failed\x1b[2J\x0d\x0a12:00:00`) {
		t.Errorf("%q", s)
	}
}
