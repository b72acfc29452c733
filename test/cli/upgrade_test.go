package cli

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
)

const upgradeInventory = `[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"

[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"

[[phone]]
mac = "00:13:7F:00:44:01"
model = "7960"
running_load = "P0S3-04-4-00"   # old SIP loads do not say what they run

[[phone]]
mac = "00:13:7F:00:44:02"
model = "7960"
running_load = "P0S3-04-4-00"

[[phone]]
mac = "00:1E:4A:00:83:01"
model = "7961"
  [[phone.line]]
  extension = "300"
  password = "pw300"
`

// TestUpgradeWalk is issue 4's end-to-end check: with a catalog of
// synthetic SIP 5.3, 6.3, 7.2 and 8.12 loads imported from packages,
// phoneboot serve alone walks a simulated 7960 on SIP 4.4 through every
// intermediate load to 8.12, each step in its timeline; without 7.2 a
// second 7960 stops at 6.3 with a finding naming the missing load; a 7961
// on 8.3 goes to SIP 9.4 through 8.5(2); and no config ever names a load
// the catalog lacks.
func TestUpgradeWalk(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	pkgs := t.TempDir()
	var paths []string
	for _, id := range []string{"P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00"} {
		p := filepath.Join(pkgs, "cmterm-7960-sip."+strings.TrimPrefix(id, "P0S3-")+".zip")
		fwtest.Zip(t, p, fwtest.LoadFiles(id, 2000, fwtest.Classic(id)...))
		paths = append(paths, p)
	}
	java := func(id, build string) {
		comps := fwtest.Java(id, build)
		files := fwtest.LoadFiles(id, 2000, comps...)
		files["term41.default.loads"] = fwtest.TermFile("41", id, comps...)
		files["term61.default.loads"] = fwtest.TermFile("61", id, comps...)
		p := filepath.Join(pkgs, "cmterm-7941_7961-sip."+build+".zip")
		fwtest.Zip(t, p, files)
		paths = append(paths, p)
	}
	java("SIP41.8-5-2S", "8-5-2TH1-9")
	java("SIP41.9-4-2SR3-1S", "9-4-2ES26")
	if code, stdout, stderr := runQuick(t, append([]string{"firmware", "import", "--data", data}, paths...)...); code != 0 {
		t.Fatalf("firmware import: %d\n%s%s", code, stdout, stderr)
	}
	fwtest.Write(t, data, "phoneboot.toml", []byte(upgradeInventory))
	p, port, _ := serveData(t, data, "--reload-interval", "100ms")
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	model := func(s string) phone.Model { m, _ := phone.ModelByName(s); return m }
	mac := func(s string) phone.MAC { m, _ := phone.ParseMAC(s); return m }
	boot := func(ph sim.Phone, local string) sim.Report {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		return ph.Boot(ctx, sim.Options{Server: server, Local: netip.MustParseAddr(local), Retry: 20 * time.Millisecond, Timeout: 45 * time.Second})
	}
	requests := func(r sim.Report) string {
		var names []string
		for _, q := range r.Requests {
			names = append(names, q.Name+" ("+q.Result+")")
		}
		return strings.Join(names, ", ")
	}
	catalog := map[string]bool{"": true}
	for _, id := range []string{"P0S3-05-3-00", "P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00", "SIP41.8-5-2S", "SIP41.9-4-2SR3-1S"} {
		catalog[id] = true
	}
	named := regexp.MustCompile(`<loadInformation[^>]*>([^<]*)<|image_version: "([^"]*)"`)
	checkNamed := func(r sim.Report) {
		t.Helper()
		for name, b := range r.Configs {
			for _, m := range named.FindAllStringSubmatch(string(b), -1) {
				if id := m[1] + m[2]; !catalog[id] {
					t.Errorf("%s names %q, which is not in the catalog", name, id)
				}
			}
		}
	}

	r := boot(sim.Phone{MAC: mac("00:13:7F:00:44:01"), Model: model("7960"), Load: "P0S3-04-4-00"}, "127.0.0.2")
	if r.State != "up" || r.Load != "P0S3-8-12-00" {
		t.Fatalf("7960 from 4.4: state %q, load %s\nrequests: %s", r.State, r.Load, requests(r))
	}
	checkNamed(r)
	r = boot(sim.Phone{MAC: mac("00:1E:4A:00:83:01"), Model: model("7961"), Load: "SIP41.8-3-2S"}, "127.0.0.3")
	if r.State != "up" || r.Load != "SIP41.9-4-2SR3-1S" || !strings.Contains(requests(r), "SIP41.8-5-2S.loads (ok)") {
		t.Fatalf("7961 from 8.3: state %q, load %s\nrequests: %s", r.State, r.Load, requests(r))
	}
	checkNamed(r)

	// Each step in the 7960's timeline, in order.
	waitFor(t, func() bool {
		_, stdout, _ := runQuick(t, "phones", "show", "0013.7f00.4401", "--json", "--data", data)
		var view struct {
			Events []struct {
				Source, Kind string
				Facts        struct{ Running string }
			}
		}
		if err := json.Unmarshal([]byte(stdout), &view); err != nil {
			t.Fatalf("phones show --json: %v\n%s", err, stdout)
		}
		var got []string
		for _, ev := range view.Events {
			if ev.Source == "provision" && ev.Kind == "load" {
				got = append(got, ev.Facts.Running)
			}
		}
		return strings.Join(got, " ") == "P0S3-05-3-00 P0S3-06-3-00 P0S3-07-2-00 P0S3-8-12-00"
	})

	// Without 7.2 the next 7960 stops at 6.3, and says what to import.
	mark := p.logLen()
	if code, stdout, stderr := runQuick(t, "firmware", "rm", "P0S3-07-2-00", "--data", data); code != 0 {
		t.Fatalf("firmware rm: %d %s%s", code, stdout, stderr)
	}
	delete(catalog, "P0S3-07-2-00")
	// The reload the removal starts has finished when it logs "config
	// loaded" (after the catalog's refresh).
	reloading := p.waitLogSince(t, mark, "files changed: reloading", 10*time.Second)
	p.waitLogSince(t, reloading, `msg="config loaded"`, 10*time.Second)
	r = boot(sim.Phone{MAC: mac("00:13:7F:00:44:02"), Model: model("7960"), Load: "P0S3-04-4-00"}, "127.0.0.4")
	if r.State != "up" || r.Load != "P0S3-06-3-00" {
		t.Fatalf("7960 without 7.2 in the catalog: state %q, load %s\nrequests: %s", r.State, r.Load, requests(r))
	}
	checkNamed(r)
	waitFor(t, func() bool {
		_, stdout, _ := runQuick(t, "phones", "show", "0013.7f00.4402", "--data", data)
		return strings.Contains(stdout, "upgrade-blocked") && strings.Contains(stdout, "SIP 7.x")
	})
	code, stdout, _ := runQuick(t, "check", "--data", data)
	if code == 0 || !strings.Contains(stdout, "phone 00:13:7f:00:44:02 runs P0S3-06-3-00: on the way to P0S3-8-12-00 it needs SIP 7.x") {
		t.Errorf("check (code %d) does not name the missing step:\n%s", code, stdout)
	}
	rewordingChangesNothing(t, p, data)
}
