package cli

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
)

// The recover tests' loads: a 7960 SIP load and a 7961 SIP load.
const (
	recover7960 = "P0S3-8-12-00"
	recover7961 = "SIP41.9-4-2SR3-1S"
)

const recoverConfig = `[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"
`

// recoverComponents are the 7961 load's files; recover852 is the 8.5(2)
// waypoint's load.
var (
	recoverComponents    = fwtest.Java(recover7961, "9-4-2ES26")
	recover852           = "SIP41.8-5-2S"
	recover852Components = fwtest.Java(recover852, "8-5-2TH1-9")
)

// recoverData is a data directory named "data" with the two loads
// imported from Cisco-like packages (the 7961's with its term files when
// withTerm) and config as its phoneboot.toml.
func recoverData(t *testing.T, withTerm bool, config string) string {
	t.Helper()
	pkgs := t.TempDir()
	classic := filepath.Join(pkgs, "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, classic, fwtest.LoadFiles(recover7960, 1000, fwtest.Classic(recover7960)...))
	files := fwtest.LoadFiles(recover7961, 1000, recoverComponents...)
	if withTerm {
		files["term61.default.loads"] = fwtest.TermFile("61", recover7961, recoverComponents...)
		files["term41.default.loads"] = fwtest.TermFile("41", recover7961, recoverComponents...)
	}
	java := filepath.Join(pkgs, "cmterm-7941_7961-sip.9-4-2SR3-1.zip")
	fwtest.Zip(t, java, files)
	// 8.5(2): where a 7961 whose load phoneboot does not know goes first
	// (§4.4), and so the load of the term file a factory reset asks for.
	files = fwtest.LoadFiles(recover852, 1000, recover852Components...)
	if withTerm {
		files["term61.default.loads"] = fwtest.TermFile("61", recover852, recover852Components...)
		files["term41.default.loads"] = fwtest.TermFile("41", recover852, recover852Components...)
	}
	java852 := filepath.Join(pkgs, "cmterm-7941_7961-sip.8-5-2TH1-9.zip")
	fwtest.Zip(t, java852, files)
	data := filepath.Join(t.TempDir(), "data")
	if code, out, errOut := runQuick(t, "firmware", "import", "--data", data, classic, java, java852); code != 0 {
		t.Fatalf("import: %s%s", out, errOut)
	}
	fwtest.Write(t, data, "phoneboot.toml", []byte(config))
	return data
}

// recoverIn runs phoneboot recover (at most 20s) in the directory of the
// data directory, as "--data data": the paths it prints are short, as a
// newcomer's phoneboot-data/ is.
func recoverIn(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"recover", "--data", filepath.Base(data)}, args...)...)
	cmd.Dir = filepath.Dir(data)
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("recover %v: %v", args, err)
	}
	fits80(t, out.String())
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// fits80 fails the test for every line of out wider than 80 columns.
func fits80(t *testing.T, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
}

// contains checks that s has every sub, as printed or across the line
// breaks of wrapped text.
func contains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, sub := range subs {
		if !strings.Contains(s, sub) && !strings.Contains(flat(s), flat(sub)) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

// TestRecoverGuide is issue 11's guide: for a 7960 and a 7961, with a
// config that names no DHCP and a 7961 package without its term file,
// both are MISSING with the fix; once fixed as the guide says, all ok.
func TestRecoverGuide(t *testing.T) {
	data := recoverData(t, false, recoverConfig)

	code, out, errOut := recoverIn(t, data, "7960")
	if code == 0 || !strings.Contains(errOut, "not ready: 1 thing MISSING") {
		t.Errorf("7960: exit %d, stderr %q", code, errOut)
	}
	contains(t, "7960", out,
		"Recovering a Cisco IP Phone 7960G",
		"MISSING  DHCP option 150",
		"phoneboot dhcp snippet --for isc --tftp ",
		"site.tftp_via_dhcp = true",
		"ok       target load: P0S3-8-12-00 (phoneboot.toml line 5) is complete in the",
		"123456789*0#",
		`"reset key detected"`,
		`"Keep network cfg? 1 = yes 2 = no"`,
		"press 2,")
	if strings.Contains(out, "term file") {
		t.Errorf("a 7960 has no term file:\n%s", out)
	}

	code, out, errOut = recoverIn(t, data, "CP-7961G", "--mac", "00:1E:4A:00:11:61")
	if code == 0 || !strings.Contains(errOut, "not ready: 2 things MISSING") {
		t.Errorf("7961: exit %d, stderr %q", code, errOut)
	}
	contains(t, "7961", out,
		"Recovering a Cisco Unified IP Phone 7961 (00:1e:4a:00:11:61)",
		"MISSING  DHCP option 150",
		"MISSING  term file: phoneboot has no term61.default.loads to serve",
		"cp term61.default.loads data/tftp/",
		"ok       target load: SIP41.9-4-2SR3-1S",
		"note     inventory: 00:1e:4a:00:11:61 is not in phoneboot.toml: it will be",
		"auto-provisioned",
		"phoneboot phones add 00:1e:4a:00:11:61 --model 7961",
		"note     last seen: phoneboot has never seen it",
		"line buttons flash amber",
		"Dial 123456789*0#: the soft factory reset",
		"Nothing to answer")

	// Fixed as the guide says: the site's DHCP sends option 150, and the
	// term file is in the TFTP root.
	fwtest.Write(t, data, "phoneboot.toml", []byte(strings.Replace(recoverConfig, "[site]\n", "[site]\ntftp_via_dhcp = true\n", 1)))
	fwtest.Write(t, filepath.Join(data, "tftp"), "term61.default.loads", fwtest.TermFile("61", recover852, recover852Components...))
	for _, model := range []string{"7960", "7961"} {
		code, out, errOut := recoverIn(t, data, model)
		if code != 0 || strings.Contains(out, "MISSING") || !strings.Contains(out, "Ready: phoneboot has everything the reset needs.") {
			t.Errorf("%s fixed: exit %d\n%s%s", model, code, out, errOut)
		}
		contains(t, model, out, "ok       DHCP option 150: site.tftp_via_dhcp = true")
		if model == "7961" {
			contains(t, model, out, "ok       term file: phoneboot serves term61.default.loads (", "your file in")
		}
	}
}

// bootPhone boots one simulated phone against serve on port from its
// own loopback address.
func bootPhone(t *testing.T, port int, local string, p sim.Phone, maxRequests int) sim.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.Boot(ctx, sim.Options{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		Local: netip.MustParseAddr(local), Retry: 20 * time.Millisecond, MaxRequests: maxRequests, Timeout: 20 * time.Second})
}

func model(name string) phone.Model {
	m, _ := phone.ModelByName(name)
	return m
}

// watchStarted waits until recover --watch w says it waits for what.
func watchStarted(t *testing.T, w *proc, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(w.stdout.String(), "waiting up to 30s for "+what) {
		if time.Now().After(deadline) || !w.running() {
			t.Fatalf("recover --watch does not wait for %s:\n%s%s", what, w.stdout, w.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecoverWatch: with everything in place, recover --watch follows a
// simulated 7961's factory reset, booting against phoneboot serve, to
// "up to date" (exit 0): a new phone, then an inventory phone by its MAC,
// which ends on its target load. With no phone coming it times out and
// says so.
func TestRecoverWatch(t *testing.T) {
	config := strings.Replace(recoverConfig, "[site]\n", "[site]\ntftp_via_dhcp = true\n", 1) + `
[[phone]]
mac = "00:1E:4A:00:44:61"
model = "7961"
running_load = "SIP41.8-5-2S"
`
	data := recoverData(t, true, config)
	if code, out, errOut := recoverIn(t, data, "7961"); code != 0 {
		t.Fatalf("guide: exit %d\n%s%s", code, out, errOut)
	} else {
		contains(t, "guide", out, "ok       term file: phoneboot serves term61.default.loads (",
			"the one that came with SIP41.8-5-2S")
	}
	_, port, _ := serveData(t, data, "--syslog-addr", "")

	// A phone phoneboot has never seen, not in the inventory.
	w := start(t, "recover", "CP-7961G", "--data", data, "--watch", "--timeout", "30s")
	watchStarted(t, w, "a 7961")
	mac, _ := phone.ParseMAC("00:1E:4A:00:77:61")
	r := bootPhone(t, port, "127.0.2.61", sim.Phone{MAC: mac, Model: model("7961"), Load: "SIP41.8-5-2S", FactoryReset: true}, 0)
	if r.State != "up" {
		t.Fatalf("simulated 7961: %s", r.State)
	}
	if code := w.exit(t, 30*time.Second); code != 0 {
		t.Fatalf("recover --watch: exit %d\n%s%s", code, w.stdout, w.stderr)
	}
	out := w.stdout.String()
	fits80(t, out)
	// Its term file named its model: it goes on to the 7961's target.
	contains(t, "watch", out, "00:1e:4a:00:77:61  appeared at 127.0.2.61", "up to date on SIP41.9-4-2SR3-1S: recovered")

	// The inventory's 7961, booted before, factory-reset, followed by MAC.
	mac, _ = phone.ParseMAC("00:1E:4A:00:44:61")
	p := sim.Phone{MAC: mac, Model: model("7961"), Load: "SIP41.8-5-2S"}
	if r := bootPhone(t, port, "127.0.2.44", p, 0); r.State != "up" || r.Load != recover7961 {
		t.Fatalf("first boot: %s on %s", r.State, r.Load)
	}
	w = start(t, "recover", "7961", "--mac", mac.String(), "--data", data, "--watch", "--timeout", "30s")
	watchStarted(t, w, mac.String())
	p.Load, p.FactoryReset = recover7961, true
	if r := bootPhone(t, port, "127.0.2.44", p, 0); r.State != "up" {
		t.Fatalf("after the reset: %s", r.State)
	}
	if code := w.exit(t, 30*time.Second); code != 0 {
		t.Fatalf("recover --watch --mac: exit %d\n%s%s", code, w.stdout, w.stderr)
	}
	out = w.stdout.String()
	fits80(t, out)
	contains(t, "watch --mac", out, "ok       inventory: 00:1e:4a:00:44:61 is in phoneboot.toml",
		"00:1e:4a:00:44:61  appeared at 127.0.2.44 (7961, in the inventory)",
		"up to date on SIP41.9-4-2SR3-1S: recovered")

	// Nobody comes: a clear message, non-zero.
	began := time.Now()
	w = start(t, "recover", "7960", "--data", data, "--watch", "--timeout", "2s")
	code := w.exit(t, 20*time.Second)
	if code == 0 || w.stderr.String() != "phoneboot: recover --watch: timed out: no phone came within 2s\n" {
		t.Errorf("timeout: exit %d\n%s", code, w.stderr)
	}
	fits80(t, w.stdout.String())
	contains(t, "timeout", w.stdout.String(), "timed out: no 7960 and no phone of unknown model booted from phoneboot within 2s",
		"does DHCP give it option 150 pointing at phoneboot (step 1)?")
	if d := time.Since(began); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("timed out after %v", d)
	}
}

// TestRecoverWatchStuck: a 7961 phoneboot knows, factory-reset while its
// package lacks the term file (the seed's "7961 default.61 file
// missing"): recover --watch --mac ends at once, non-zero, with the
// finding and what to do.
func TestRecoverWatchStuck(t *testing.T) {
	data := recoverData(t, false, strings.Replace(recoverConfig, "[site]\n", "[site]\ntftp_via_dhcp = true\n", 1))
	_, port, _ := serveData(t, data, "--syslog-addr", "")
	mac, _ := phone.ParseMAC("00:1E:4A:00:66:61")
	p := sim.Phone{MAC: mac, Model: model("7961"), Load: recover7961}
	// Booted once before its reset, so its address is known.
	if r := bootPhone(t, port, "127.0.2.66", p, 0); r.State != "up" {
		t.Fatalf("warm boot: %s", r.State)
	}
	w := start(t, "recover", "7961", "--mac", mac.String(), "--data", data, "--watch", "--timeout", "30s")
	watchStarted(t, w, mac.String())
	p.FactoryReset = true
	bootPhone(t, port, "127.0.2.66", p, 0)
	code := w.exit(t, 30*time.Second)
	out := w.stdout.String()
	if code == 0 {
		t.Fatalf("stuck phone: exit 0\n%s", out)
	}
	fits80(t, out)
	t.Logf("recover --watch:\n%s%s", out, w.stderr)
	contains(t, "watch", out+w.stderr.String(), "MISSING  term file", "stuck: after a factory reset the phone asks for", "term61.default.loads",
		"do: give the model a target", "phoneboot: recover --watch: 00:1e:4a:00:66:61 is stuck (missing-term-file)")
}

// TestPhonesShowPointsAtRecover: a 7961 that stopped in the middle of
// its upgrade is stuck on a finding that advises a factory reset; phones
// show points at phoneboot recover for its model.
func TestPhonesShowPointsAtRecover(t *testing.T) {
	config := strings.Replace(recoverConfig, "[site]\n", "[site]\ntftp_via_dhcp = true\n", 1) + `
[track]
quiet_after = "1s"

[[phone]]
mac = "00:1E:4A:00:55:61"
model = "7961"
running_load = "SIP41.8-5-2S"
`
	data := recoverData(t, true, config)
	_, port, _ := serveData(t, data, "--syslog-addr", "")
	mac, _ := phone.ParseMAC("00:1E:4A:00:55:61")
	// Trust lists, its config, the .loads and one component: then gone.
	bootPhone(t, port, "127.0.2.55", sim.Phone{MAC: mac, Model: model("7961"), Load: "SIP41.8-5-2S"}, 6)
	var out string
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, stdout, stderr := runQuick(t, "phones", "show", mac.String(), "--data", data)
		if code != 0 {
			t.Fatalf("phones show: %s", stderr)
		}
		if out = stdout; strings.Contains(out, "state: stuck") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("phones show:\n%s", out)
	contains(t, "phones show", out, "stopped mid-upgrade", "factory-reset the phone",
		"  see: phoneboot recover 7961 --mac 00:1e:4a:00:55:61\n")
	if !strings.Contains(out, "see: phoneboot recover 7961 --mac 00:1e:4a:00:55:61\n  source:") {
		t.Errorf("the see line is not right under the finding's do:\n%s", out)
	}
}
