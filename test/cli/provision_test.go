package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp"
)

// threePhones is the inventory: a 7940 on SCCP, a 7960 on SIP and
// a 7961 on SIP, plus a 7960 that loops on its CTL file (the seed page).
const threePhones = `[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
call_managers = ["127.0.0.1"]

[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"

[provision]
ctl_loop_requests = 3

[[phone]]
mac = "00:13:7F:00:00:40"
model = "7940"
protocol = "SCCP"
load = "P00308010200"

[[phone]]
mac = "00:13:7F:00:00:60"
model = "7960"
label = "Reception"
  [[phone.line]]
  extension = "201"
  password = "s3cret"

[[phone]]
mac = "00:1E:4A:00:00:61"
model = "7961"
  [[phone.line]]
  extension = "202"
  password = "pw202"

[[phone]]
mac = "00:13:7F:00:00:99"
model = "7960"
`

// TestPhonesReachTheirTargets is the end-to-end check: phoneboot
// serve with a three-phone inventory brings simulated phones of each kind
// to their target load and config; tftp-hpa and curl get the same bytes
// the phones got; the seed page's CTL loop ends with the phone moving on;
// and "phoneboot phones" shows them, the loop breaker in the timeline.
func TestPhonesReachTheirTargets(t *testing.T) {
	tftpBin := testutil.Tool(t, "tftp")
	curlBin := testutil.Tool(t, "curl")
	data := filepath.Join(t.TempDir(), "data")
	root := filepath.Join(data, "tftp")
	fwtest.WriteLoad(t, root, "P0S3-8-12-00", 3000, fwtest.Classic("P0S3-8-12-00")...)
	fwtest.WriteLoad(t, root, "P00308010200", 3000, fwtest.Classic("P00308010200")...)
	fwtest.WriteLoad(t, root, "SIP41.9-4-2SR3-1S", 3000, fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")...)
	// The 7961 does not say which load it runs: the way to 9.4 from any
	// it may run goes through 8.5(2) (§4.4).
	fwtest.WriteLoad(t, root, "SIP41.8-5-2S", 3000, fwtest.Java("SIP41.8-5-2S", "8-5-2TH1-9")...)
	fwtest.Write(t, data, "phoneboot.toml", []byte(threePhones))

	_, port, _ := serveData(t, data)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	mac := func(s string) phone.MAC {
		m, err := phone.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	model := func(s string) phone.Model { m, _ := phone.ModelByName(s); return m }
	phones := []sim.Phone{
		// SCCP 7.2 (a UAL load) to SCCP 8.1(2).
		{MAC: mac("00:13:7F:00:00:40"), Model: model("7940"), Load: "P00307020300"},
		// SIP 7.4 (a UAL load) to 8.12.
		{MAC: mac("00:13:7F:00:00:60"), Model: model("7960"), Load: "P0S3-07-4-00"},
		{MAC: mac("00:1E:4A:00:00:61"), Model: model("7961"), Load: "SIP41.8-3-2S"},
		// Loops on CTLSEP<MAC>.tlv, and then on the empty file.
		{MAC: mac("00:13:7F:00:00:99"), Model: model("7960"), Load: "P0S3-8-12-00", CTLLoop: true, CTLLoopEmpty: true},
	}
	want := []string{"P00308010200", "P0S3-8-12-00", "SIP41.9-4-2SR3-1S", "P0S3-8-12-00"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reports := sim.Run(ctx, phones, sim.Options{Server: server, Local: netip.MustParseAddr("127.0.0.2"),
		Retry: 20 * time.Millisecond, MaxRequests: 100, Timeout: 30 * time.Second})
	for i, r := range reports {
		var names []string
		for _, q := range r.Requests {
			names = append(names, q.Name+" ("+q.Result+")")
		}
		if r.State != "up" || r.Load != want[i] {
			t.Errorf("%s %s: state %q, load %s → %s, want up on %s\nrequests: %s", r.Model, r.MAC, r.State, r.StartLoad, r.Load, want[i], strings.Join(names, ", "))
		}
	}
	if t.Failed() {
		return
	}
	// The loop breaker switches exactly at ctl_loop_requests (3): the
	// third request in a row is the loop and gets the empty file, three
	// more of the empty file are again a loop and get "not found", and the
	// phone moves on. The simulated phone would move on at any change, so
	// only the count shows an off-by-one.
	var ctl []string
	for _, q := range reports[3].Requests {
		if strings.HasPrefix(q.Name, "CTLSEP") {
			ctl = append(ctl, fmt.Sprintf("%s %d", q.Result, q.Size))
		}
	}
	if got, want := strings.Join(ctl, ", "), "not found 0, not found 0, ok 0, ok 0, ok 0, not found 0"; !strings.HasPrefix(got, want) {
		t.Errorf("CTL answers of the looping phone:\n%s\nwant first\n%s", got, want)
	}

	// Every generated file a phone got, fetched by real clients: the same
	// bytes. A phone's own files (its passwords) go only to its address:
	// curl asks from there, and tftp-hpa, from 127.0.0.1, is refused.
	dir := t.TempDir()
	compared, refused := 0, 0
	for i, r := range reports {
		at := netip.MustParseAddr("127.0.0.2")
		for range i {
			at = at.Next() // sim.Run's addresses: one each, counting up
		}
		for name, got := range r.Configs {
			clean, err := tftp.CleanName(name)
			n := phone.ParseName(clean)
			if k := n.Kind; err != nil || k == phone.KindCTL || k == phone.KindLoadList {
				continue // trust lists depend on the loop breaker's state
			}
			hpa := filepath.Join(dir, "hpa-"+clean)
			out, err := exec.Command(tftpBin, "-m", "binary", "127.0.0.1", strconv.Itoa(port), "-c", "get", clean, hpa).CombinedOutput()
			b, _ := os.ReadFile(hpa)
			switch {
			case n.HasMAC:
				if len(b) > 0 || !strings.Contains(string(out), "own address") {
					t.Errorf("tftp-hpa from 127.0.0.1 got %s, phone %s's own file: %d bytes, %s", clean, r.MAC, len(b), out)
				}
				refused++
			case err != nil || !bytes.Equal(b, got):
				t.Errorf("tftp-hpa %s: %v %s: %d bytes, the phone got %d", clean, err, out, len(b), len(got))
			}
			viaCurl := filepath.Join(dir, "curl-"+clean)
			if err := curlFrom(t, curlBin, at, port, clean, viaCurl); err != nil {
				t.Error(err)
			}
			if b, _ := os.ReadFile(viaCurl); !bytes.Equal(b, got) {
				t.Errorf("curl %s: %d bytes, the phone got %d", clean, len(b), len(got))
			}
			compared++
		}
	}
	if compared < 8 || refused < 4 {
		t.Errorf("only %d generated files compared, %d own files refused to another address", compared, refused)
	}

	// The inventory as the CLI shows it, and the loop breaker in the CTL
	// phone's timeline (events reach the store within a second).
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, stdout, stderr := runQuick(t, "phones", "--data", data, "--json")
		if code != 0 {
			t.Fatalf("phones: %d %s", code, stderr)
		}
		var list []map[string]any
		if err := json.Unmarshal([]byte(stdout), &list); err != nil {
			t.Fatalf("phones --json: %v\n%s", err, stdout)
		}
		seen := 0
		for _, p := range list {
			if p["source"] == "inventory" && p["ip"] != nil {
				seen++
			}
		}
		if seen == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("phones does not show 4 inventory phones seen:\n%s", stdout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, stdout, _ := runQuick(t, "phones", "show", "0013.7f00.0099", "--data", data)
	if code != 0 || !strings.Contains(stdout, "loop-breaker") || !strings.Contains(stdout, "empty file") || !strings.Contains(stdout, "not found\" again") {
		t.Errorf("phones show of the CTL phone (code %d) lacks the loop breaker's two switches:\n%s", code, stdout)
	}
}

// TestCheckNamesEveryProblem: a deliberately broken inventory; check
// names each problem with its file and line.
func TestCheckNamesEveryProblem(t *testing.T) {
	data := t.TempDir()
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[site]
protocol = "SIP"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7999"

[[phone]]
mac = "00:13:7F:38:B3"

[[phone]]
mac = "0013.7f38.b3e0"
model = "7960"
  [[phone.line]]
  extension = "201"

[[phone]]
mac = "00137F38B3E0"
`))
	code, stdout, stderr := runQuick(t, "check", "--data", data)
	cfg := filepath.Join(data, "phoneboot.toml")
	for _, w := range []string{
		cfg + `:6: phone 00:13:7f:38:b3:de: unknown model "7999"`,
		cfg + `:9: MAC address "00:13:7F:38:B3"`,
		cfg + `:14: phone 00:13:7f:38:b3:e0: SIP line 1 (201) has no password`,
		cfg + `:18: phone 00:13:7f:38:b3:e0 is listed twice (first at line 12)`,
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("check output lacks %q", w)
		}
	}
	if code == 0 || !strings.Contains(stderr, "4 problems") {
		t.Errorf("check: code %d, stderr %q", code, stderr)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout)
	}

	// A valid inventory naming a load that is not there.
	fwtest.Write(t, data, "phoneboot.toml", []byte("[site.loads]\n7960 = \"P0S3-8-12-00\"\n"))
	code, stdout, _ = runQuick(t, "check", "--data", data)
	if w := cfg + ":2: site.loads.7960: load P0S3-8-12-00 is not in the firmware catalog"; code == 0 || !strings.Contains(stdout, w) {
		t.Errorf("check (code %d) output lacks %q:\n%s", code, w, stdout)
	}
}

// TestInventoryEditsReload: phones add/rm edit phoneboot.toml; a running
// serve picks the change up by itself (and on SIGHUP), and a broken file
// leaves phones with what they had.
func TestInventoryEditsReload(t *testing.T) {
	curlBin := testutil.Tool(t, "curl")
	data := filepath.Join(t.TempDir(), "data")
	fwtest.WriteLoad(t, filepath.Join(data, "tftp"), "P0S3-8-12-00", 100, fwtest.Classic("P0S3-8-12-00")...)
	fwtest.Write(t, data, "phoneboot.toml", []byte("# our phones\n[site]\nprotocol = \"SIP\"\nsip_proxy = \"127.0.0.1\"\n\n[site.loads]\n7960 = \"P0S3-8-12-00\"\n"))
	p, port, _ := serveData(t, data, "--reload-interval", "100ms")
	get := func(name string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "got")
		if err := curl(t, curlBin, port, name, out); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(out)
		return string(b)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runQuick(t, append(args, "--data", data)...)
		if code != 0 {
			t.Fatalf("phoneboot %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	// Not in the inventory: auto-provisioned, no lines.
	if got := get("SIP00137F0000AA.cnf"); strings.Contains(got, "line1_name") {
		t.Fatalf("unknown phone got lines:\n%s", got)
	}
	mustRun("phones", "add", "00:13:7f:00:00:aa", "--model", "7960", "--label", "Lab", "--line", "201:s3cret:Lab")
	p.waitLog(t, "files changed: reloading", 5*time.Second)
	waitFor(t, func() bool { return strings.Contains(get("SIP00137F0000AA.cnf"), `line1_name: "201"`) })

	// A second add of the same phone is refused, the file untouched.
	before, err := os.ReadFile(filepath.Join(data, "phoneboot.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runQuick(t, "phones", "add", "0013.7f00.00aa", "--model", "7960", "--data", data); code == 0 || !strings.Contains(stderr, "already in the inventory") {
		t.Errorf("duplicate add: code %d, %s", code, stderr)
	}
	// A line without password on SIP is refused before writing.
	if code, _, stderr := runQuick(t, "phones", "add", "0013.7f00.00bb", "--model", "7960", "--line", "202:", "--data", data); code == 0 || !strings.Contains(stderr, "no password") {
		t.Errorf("add without password: code %d, %s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(data, "phoneboot.toml")); !bytes.Equal(before, after) {
		t.Error("a refused edit changed phoneboot.toml")
	}

	// A broken file: serve logs it and keeps serving the last good config.
	replaceFile(t, filepath.Join(data, "phoneboot.toml"), append(before, []byte("\n[[phone]]\nmac = \"nope\"\n")...))
	p.waitLog(t, "reload failed", 5*time.Second)
	if !strings.Contains(get("SIP00137F0000AA.cnf"), `line1_name: "201"`) {
		t.Error("a broken config changed what the phone gets")
	}
	replaceFile(t, filepath.Join(data, "phoneboot.toml"), before)

	mustRun("phones", "rm", "00137F0000AA")
	if after, _ := os.ReadFile(filepath.Join(data, "phoneboot.toml")); !strings.HasPrefix(string(after), "# our phones\n") || strings.Contains(string(after), "0000aa") {
		t.Errorf("rm left:\n%s", after)
	}
	p.signal(t, syscall.SIGHUP)
	p.waitLog(t, "SIGHUP: reloading", 5*time.Second)
	waitFor(t, func() bool { return !strings.Contains(get("SIP00137F0000AA.cnf"), "line1_name") })

	// The phone booted while auto-provisioned and while in the inventory:
	// the list shows it as auto again.
	waitFor(t, func() bool { return strings.Contains(mustRun("phones"), "unknown, auto-provisioned") })

	// phoneboot sim against this serve: a 7960 on 8.12 comes up.
	out := mustRun("sim", "--server", "127.0.0.1:"+strconv.Itoa(port), "--model", "7960", "--mac", "00:13:7F:00:01:00", "--load", "P0S3-8-12-00", "--retry", "20ms", "--local", "127.0.0.5")
	if !strings.Contains(out, "SEP00137F000100") || !strings.Contains(out, " up") {
		t.Errorf("sim output:\n%s", out)
	}
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSyslogInTimeline: a syslog line from a phone's address lands in its
// timeline (sent with util-linux logger, as a phone would).
func TestSyslogInTimeline(t *testing.T) {
	curlBin := testutil.Tool(t, "curl")
	loggerBin := testutil.Tool(t, "logger")
	// Port 0: the address syslog really listens on is in the log, and it
	// listens once the line is there (after TFTP, which serve waits for).
	p, port, data := serve(t, "--syslog-addr", "127.0.0.1:0")
	sport := p.listenAddr(t, "syslog listening", 5*time.Second).Port()
	if err := curl(t, curlBin, port, "SEP00137F0000CC.cnf.xml", filepath.Join(t.TempDir(), "x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, loggerBin, "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(int(sport)), "--rfc3164", "-t", "phone", "Registration failed: 401").CombinedOutput()
	if err != nil {
		t.Fatalf("logger: %v %s", err, out)
	}
	waitFor(t, func() bool {
		_, stdout, _ := runQuick(t, "phones", "show", "00137F0000CC", "--data", data)
		return strings.Contains(stdout, "syslog") && strings.Contains(stdout, "Registration failed: 401")
	})
}
