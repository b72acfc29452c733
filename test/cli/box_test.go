package cli

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
)

// boxKind is a kind of phone in the box: how many, what it runs, where it
// should end.
type boxKind struct {
	name      string
	count     int
	model     string
	load      string
	quirk     func(*sim.Phone)
	inventory bool   // listed in phoneboot.toml (with a line), never with running_load
	entry     string // extra keys of its [[phone]] entry
	target    string
}

// The box of issue 11: used phones of every kind, whatever they run, and
// an inventory that names none of their loads.
var boxKinds = []boxKind{
	{name: "7960 SIP 4.4", count: 10, model: "7960", load: "P0S3-04-4-00", inventory: true, target: "P0S3-8-12-00"},
	{name: "7960 SIP 5.3", count: 10, model: "7960", load: "P0S3-05-3-00", inventory: true, target: "P0S3-8-12-00"},
	{name: "7960 SIP 6.3", count: 10, model: "7960", load: "P0S3-06-3-00", inventory: true, target: "P0S3-8-12-00"},
	{name: "7960 SIP 7.2", count: 10, model: "7960", load: "P0S3-07-2-00", inventory: true, target: "P0S3-8-12-00"},
	{name: "7960 SIP 8.12", count: 10, model: "7960", load: "P0S3-8-12-00", inventory: true, target: "P0S3-8-12-00"},
	{name: "7940 SCCP 7.2(3)", count: 10, model: "7940", load: "P00307020300", inventory: true,
		entry: "protocol = \"SCCP\"\nload = \"P00308010200\"\n", target: "P00308010200"},
	{name: "7961 SIP 8.3(2)", count: 10, model: "7961", load: "SIP41.8-3-2S", inventory: true, target: "SIP41.9-4-2SR3-1S"},
	{name: "7961 factory reset", count: 10, model: "7961", load: "SIP41.8-3-2S", inventory: true, target: "SIP41.9-4-2SR3-1S",
		quirk: func(p *sim.Phone) { p.FactoryReset = true }},
	{name: "7960 7.2, CTL loop again", count: 5, model: "7960", load: "P0S3-07-2-00", inventory: true, target: "P0S3-8-12-00",
		quirk: func(p *sim.Phone) { p.CTLLoop, p.CTLLoopAgain = true, true }},
	{name: "7960 7.2, empty-CTL loop again", count: 5, model: "7960", load: "P0S3-07-2-00", inventory: true, target: "P0S3-8-12-00",
		quirk: func(p *sim.Phone) { p.CTLLoop, p.CTLLoopEmpty, p.CTLLoopAgain = true, true, true }},
	{name: "old 7960 SIP 5.3, not listed", count: 5, model: "7960", load: "P0S3-05-3-00", target: "P0S3-8-12-00"},
	{name: "UAL 7960 SIP 7.2, not listed", count: 5, model: "7960", load: "P0S3-07-2-00", target: "P0S3-8-12-00"},
	{name: "7960 SIP 3.1, not listed", count: 2, model: "7960", load: "P0S3-03-1-00", target: "P0S3-8-12-00"},
}

const boxSite = `[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
call_managers = ["127.0.0.1"]
tftp_via_dhcp = true

[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"
`

// TestBoxOfUsedPhones is issue 11's end-to-end check: 100 simulated phones
// of mixed models and loads, the harshest plausible ones (internal/sim:
// an unsigned downgrade is refused, a skipped step bricks), boot against
// the real binary with an inventory that says nothing of what they run.
// Each boots until it stops rebooting; one that comes up short of its
// target is power-cycled, as an admin would, at most three times. Every
// phone must end on its target, listed ones with their line configured.
// The same box booted with every phone listed with its running_load gives
// the fewest reboots a phone whose load is known takes; the table prints
// both.
func TestBoxOfUsedPhones(t *testing.T) {
	unknown := bootBox(t, false)
	known := bootBox(t, true)
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tPHONES\tON TARGET\tREBOOTS\tPOWER CYCLES\tKNOWN LOAD: REBOOTS\tEXTRA")
	for k, kind := range boxKinds {
		u, m := unknown[k], known[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%d\n", kind.name, kind.count, u.onTarget, u.reboots(), u.maxCycles,
			m.reboots(), u.maxReboots+u.maxCycles-m.maxReboots-m.maxCycles)
	}
	tw.Flush()
	t.Logf("reboots per phone (power cycles: boots an admin had to start):\n%s", table.String())
}

// boxResult is how the phones of one kind fared.
type boxResult struct {
	onTarget                          int
	minReboots, maxReboots, maxCycles int
}

func (r boxResult) reboots() string {
	if r.minReboots == r.maxReboots {
		return fmt.Sprint(r.maxReboots)
	}
	return fmt.Sprintf("%d-%d", r.minReboots, r.maxReboots)
}

// bootBox boots the box against a fresh phoneboot; with known, every phone
// is in the inventory with its running_load.
func bootBox(t *testing.T, known bool) []boxResult {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	pkgs := t.TempDir()
	var paths []string
	// Old SIP images are one file each (§1.2.3, §4.1); 7.2 and 8.12 come
	// as packages with the loader (§4.2).
	for _, id := range []string{"P0S3-04-4-00", "P0S3-05-3-00", "P0S3-06-3-00"} {
		fwtest.Write(t, pkgs, id+".bin", fwtest.Random(id+".bin", 3000))
		paths = append(paths, filepath.Join(pkgs, id+".bin"))
	}
	for _, id := range []string{"P0S3-07-2-00", "P0S3-8-12-00", "P00308010200"} {
		p := filepath.Join(pkgs, id+".zip")
		fwtest.Zip(t, p, fwtest.LoadFiles(id, 3000, fwtest.Classic(id)...))
		paths = append(paths, p)
	}
	for _, j := range [][2]string{{"SIP41.8-5-2S", "8-5-2TH1-9"}, {"SIP41.9-4-2SR3-1S", "9-4-2ES26"}} {
		comps := fwtest.Java(j[0], j[1])
		files := fwtest.LoadFiles(j[0], 3000, comps...)
		files["term41.default.loads"] = fwtest.TermFile("41", j[0], comps...)
		files["term61.default.loads"] = fwtest.TermFile("61", j[0], comps...)
		p := filepath.Join(pkgs, "cmterm-7941_7961-sip."+j[1]+".zip")
		fwtest.Zip(t, p, files)
		paths = append(paths, p)
	}
	if code, stdout, stderr := runQuick(t, append([]string{"firmware", "import", "--data", data}, paths...)...); code != 0 {
		t.Fatalf("firmware import: %d\n%s%s", code, stdout, stderr)
	}

	var inv strings.Builder
	inv.WriteString(boxSite)
	var phones []sim.Phone
	var kinds []int // index into boxKinds, per phone
	n := 0
	for k, kind := range boxKinds {
		m, ok := phone.ModelByName(kind.model)
		if !ok {
			t.Fatalf("model %s", kind.model)
		}
		for range kind.count {
			n++
			mac, _ := phone.ParseMAC(fmt.Sprintf("00:13:7F:B0:%02X:%02X", k, n))
			p := sim.Phone{MAC: mac, Model: m, Load: kind.load}
			if kind.quirk != nil {
				kind.quirk(&p)
			}
			if kind.inventory || known {
				fmt.Fprintf(&inv, "\n[[phone]]\nmac = %q\nmodel = %q\n%s", mac.String(), kind.model, kind.entry)
				if known {
					fmt.Fprintf(&inv, "running_load = %q\n", kind.load)
				}
				fmt.Fprintf(&inv, "  [[phone.line]]\n  extension = \"%d\"\n  password = \"pw%d\"\n", 1000+n, n)
			}
			phones = append(phones, p)
			kinds = append(kinds, k)
		}
	}
	fwtest.Write(t, data, "phoneboot.toml", []byte(inv.String()))
	_, port, _ := serveData(t, data)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	o := sim.Options{Server: server, Local: netip.MustParseAddr("127.0.2.1"), Retry: 20 * time.Millisecond,
		MaxRequests: 120, MaxReboots: 8, Timeout: 60 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	reboots := make([]int, len(phones))
	cycles := make([]int, len(phones))
	final := make([]sim.Report, len(phones))
	done := make([]bool, len(phones))
	start := time.Now()
	for round := range 4 {
		var todo []int
		var boot []sim.Phone
		for i, p := range phones {
			if done[i] {
				continue
			}
			if round > 0 {
				// Power-cycled: it boots the load it came up on.
				p.Load, p.FactoryReset = final[i].Load, false
				cycles[i]++
			}
			todo = append(todo, i)
			boot = append(boot, p)
		}
		if len(todo) == 0 {
			break
		}
		// Every phone keeps its address: the ones done stay quiet.
		for j, r := range runAt(ctx, boot, todo, o) {
			i := todo[j]
			final[i] = r
			reboots[i] += r.Reboots
			done[i] = r.State != "up" || r.Load == boxKinds[kinds[i]].target
		}
	}
	t.Logf("known loads %v: %d phones booted in %v", known, len(phones), time.Since(start).Round(time.Millisecond))

	results := make([]boxResult, len(boxKinds))
	for k := range results {
		results[k].minReboots = 1 << 30
	}
	for i, r := range final {
		kind := boxKinds[kinds[i]]
		res := &results[kinds[i]]
		res.minReboots, res.maxReboots = min(res.minReboots, reboots[i]), max(res.maxReboots, reboots[i])
		res.maxCycles = max(res.maxCycles, cycles[i])
		if r.State != "up" || r.Load != kind.target {
			var names []string
			for _, q := range r.Requests {
				names = append(names, q.Name+" ("+q.Result+")")
			}
			t.Errorf("known loads %v: %s %s: %s on %s (from %s, %d reboots, %d power cycles); refused %v\nlast boot's requests: %s",
				known, kind.name, r.MAC, r.State, r.Load, kind.load, reboots[i], cycles[i], r.Refused, strings.Join(names, ", "))
			continue
		}
		res.onTarget++
		// SCCP phones get their lines from the call manager, not from a
		// file (§2.1): only SIP phones' configs carry them.
		if (kind.inventory || known) && r.Protocol == "SIP" && !configured(r, fmt.Sprint(1001+i)) {
			t.Errorf("%s %s: on target, but no config it got names its line %d", kind.name, r.MAC, 1001+i)
		}
	}
	return results
}

// runAt boots phones, the i-th from the address of index at[i] counted
// from o.Local, so that a phone keeps its address from round to round.
func runAt(ctx context.Context, phones []sim.Phone, at []int, o sim.Options) []sim.Report {
	reports := make([]sim.Report, len(phones))
	done := make(chan struct{}, len(phones))
	for j, p := range phones {
		po := o
		a := o.Local.As4()
		a[2] += byte(at[j] / 200)
		a[3] += byte(at[j] % 200)
		po.Local = netip.AddrFrom4(a)
		go func() {
			reports[j] = p.Boot(ctx, po)
			done <- struct{}{}
		}()
	}
	for range phones {
		<-done
	}
	return reports
}

// configured: a config the phone received names its line.
func configured(r sim.Report, ext string) bool {
	for name, b := range r.Configs {
		if (strings.Contains(name, "SIP") || strings.Contains(name, "SEP")) && strings.Contains(string(b), ext) {
			return true
		}
	}
	return false
}
