package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
)

// TestFiftyPhones is issue 5's end-to-end check: against phoneboot serve,
// 50 simulated phones (healthy boots, the seed page's CTL loop, a load
// that is not there, a factory reset without its term file) each show
// the right state and finding in "phoneboot phones" within seconds, and a
// restart keeps every phone's history.
func TestFiftyPhones(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	root := filepath.Join(data, "tftp")
	pkgs := t.TempDir()
	for _, id := range []string{"P0S3-8-12-00", "SIP41.9-4-2SR3-1S"} {
		comps := fwtest.Classic(id)
		if !strings.HasPrefix(id, "P0") {
			comps = fwtest.Java(id, "9-4-2ES26")
		}
		fwtest.Zip(t, filepath.Join(pkgs, id+".zip"), fwtest.LoadFiles(id, 1000, comps...))
	}
	if code, out, errOut := runQuick(t, "firmware", "import", "--data", data, filepath.Join(pkgs, "P0S3-8-12-00.zip"), filepath.Join(pkgs, "SIP41.9-4-2SR3-1S.zip")); code != 0 {
		t.Fatalf("import: %s%s", out, errOut)
	}
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
tftp_via_dhcp = true
[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"
[provision]
ctl_loop_requests = 3
`))
	type kind struct {
		name       string
		count      int
		model, ld  string
		quirk      func(*sim.Phone)
		state      string // wanted state
		finding    string // wanted top finding rule ("" none)
		rootConfig bool   // an admin's SEP file naming a load that is not there
	}
	kinds := []kind{
		{name: "7960 current", count: 20, model: "7960", ld: "P0S3-8-12-00", state: "up to date"},
		{name: "7961 upgrade", count: 20, model: "7961", ld: "SIP41.8-5-2S", state: "up to date"},
		{name: "CTL loop", count: 4, model: "7960", ld: "P0S3-8-12-00", quirk: func(p *sim.Phone) { p.CTLLoop, p.CTLLoopEmpty = true, true }, state: "up to date", finding: "ctl-loop"},
		{name: "missing load", count: 3, model: "7960", ld: "P0S3-8-12-00", rootConfig: true, state: "stuck", finding: "missing-file"},
		{name: "factory reset, no term file", count: 3, model: "7961", ld: "SIP41.9-4-2SR3-1S", quirk: func(p *sim.Phone) { p.FactoryReset = true }, state: "stuck", finding: "missing-term-file"},
	}
	var phones []sim.Phone
	var want []kind
	n := 0
	for _, k := range kinds {
		m, _ := phone.ModelByName(k.model)
		for range k.count {
			n++
			mac, _ := phone.ParseMAC(fmt.Sprintf("00:13:7F:50:00:%02X", n))
			p := sim.Phone{MAC: mac, Model: m, Load: k.ld}
			if k.quirk != nil {
				k.quirk(&p)
			}
			if k.rootConfig {
				fwtest.Write(t, root, mac.DeviceName()+".cnf.xml", []byte(`<device><deviceProtocol>SIP</deviceProtocol><loadInformation model="IP Phone 7960">P0S3-9-99-00</loadInformation></device>`))
			}
			phones = append(phones, p)
			want = append(want, k)
		}
	}
	p, port, _ := serveData(t, data)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	// The factory-reset phones ask for their term file before anything
	// with their MAC: boot each once first so its address is known, as a
	// phone that booted before its reset would be.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := sim.Options{Server: server, Local: netip.MustParseAddr("127.0.1.1"), Retry: 20 * time.Millisecond, MaxRequests: 60, Timeout: 30 * time.Second}
	for i, ph := range phones {
		if ph.FactoryReset {
			warm := ph
			warm.FactoryReset = false
			oo := o
			oo.Local = netip.AddrFrom4([4]byte{127, 0, 1, byte(1 + i)})
			warm.Boot(ctx, oo)
		}
	}
	start := time.Now()
	sim.Run(ctx, phones, o)
	t.Logf("50 phones booted in %v", time.Since(start).Round(time.Millisecond))

	check := func(when string) {
		t.Helper()
		var rows []struct {
			MAC, State string
			Findings   []struct{ Rule string }
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, stdout, stderr := runQuick(t, "phones", "--json", "--data", data)
			if code != 0 {
				t.Fatalf("phones: %s", stderr)
			}
			if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
				t.Fatal(err)
			}
			byMAC := map[string]int{}
			for i, r := range rows {
				byMAC[r.MAC] = i
			}
			var wrong []string
			for i, ph := range phones {
				j, ok := byMAC[ph.MAC.String()]
				if !ok {
					wrong = append(wrong, ph.MAC.String()+" missing")
					continue
				}
				r, k := rows[j], want[i]
				top := ""
				if len(r.Findings) > 0 {
					top = r.Findings[0].Rule
				}
				if r.State != k.state || top != k.finding {
					wrong = append(wrong, fmt.Sprintf("%s (%s): state %q finding %q, want %q %q", ph.MAC, k.name, r.State, top, k.state, k.finding))
				}
			}
			if len(wrong) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of 50 phones wrong:\n%s", when, len(wrong), strings.Join(wrong, "\n"))
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	check("after the boots")

	// A restart keeps every phone's history.
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 15*time.Second)
	p, _, _ = serveData(t, data)
	check("after a restart")
	rewordingChangesNothing(t, p, data)
}
