package track

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/files"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/phonetftp"
	"phoneboot/internal/provision"
	"phoneboot/internal/sim"
	"phoneboot/internal/tftp"
)

// Every scenario runs simulated phones (internal/sim) against the real
// TFTP server, with a provision.Provisioner answering through phonetftp as
// `phoneboot serve` does, or a plain directory where a provisioner would
// not reproduce the situation. The timeline is what serve records: one
// "tftp" event per read request, attributed by the phone book, and
// provision's own events.

const (
	mac7960  = "00:13:7F:00:00:60"
	mac7961  = "00:1E:4A:00:00:61"
	macOther = "00:13:7F:00:00:AA"
)

// settings are the rules' thresholds as the inventory below sets them.
var settings = func() Settings {
	cfg, err := config.Parse("phoneboot.toml", []byte(inventory("")))
	if err != nil {
		panic(err)
	}
	p := cfg.Provision
	return Settings{QuietAfter: cfg.Track.QuietAfter, CTLLoopRequests: p.CTLLoopRequests, ConfigLoopRequests: p.ConfigLoopRequests, LoopGap: p.LoopWindow}
}()

// inventory: the site's targets, a 7960 and a 7961; extra is appended.
func inventory(extra string) string {
	return `[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
call_managers = ["127.0.0.1"]

[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"

[provision]
ctl_loop_requests = 3

[[phone]]
mac = "` + mac7960 + `"
model = "7960"
` + extra + `
[[phone]]
mac = "` + mac7961 + `"
model = "7961"
`
}

// on7961 is the inventory with the 7961's running load: a 79x1 does not
// say which load it runs, and without it the only safe step to 9.4 is
// 8.5(2) (§4.4), which these scenarios leave out.
func on7961(load string) string {
	return inventory("") + "running_load = \"" + load + "\"\n"
}

// Synthetic firmware (fwtest: random bytes, fake signed headers).
func sip812() map[string][]byte {
	return fwtest.LoadFiles("P0S3-8-12-00", 1500, fwtest.Classic("P0S3-8-12-00")...)
}

var (
	java852 = fwtest.Java("SIP41.8-5-2S", "8-5-2TH1-9")
	java942 = fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")
)

func sip942() map[string][]byte {
	return fwtest.LoadFiles("SIP41.9-4-2SR3-1S", 3000, java942...)
}

type lab struct {
	t      *testing.T
	root   string
	server netip.AddrPort
	srv    *tftp.Server

	mu     sync.Mutex
	events []event.Event
}

// newLab serves files over loopback UDP as `phoneboot serve` does
// (phonetftp over a provisioner with cfgText), or from the directory
// alone when cfgText is "".
func newLab(t *testing.T, contents map[string][]byte, cfgText string, tune func(*tftp.Server)) *lab {
	t.Helper()
	l := &lab{t: t, root: t.TempDir()}
	for name, data := range contents {
		fwtest.Write(t, l.root, name, data)
	}
	dir, err := files.OpenDir(l.root, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var resolver tftp.Resolver
	var onEvent func(tftp.Event)
	if cfgText != "" {
		prov, err := provision.New(provision.Options{Root: l.root, Files: dir, Templates: filepath.Join(t.TempDir(), "templates"), OnEvent: l.add})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse("phoneboot.toml", []byte(cfgText))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prov.Update(cfg); err != nil {
			t.Fatal(err)
		}
		svc := &phonetftp.Service{Prov: prov, Record: l.add}
		resolver, onEvent = svc, svc.Transferred
	} else {
		// No provisioner: requests are attributed as serve would, when
		// they arrive (their reports come in any order).
		book := phonestate.New(0)
		resolver = tftp.ResolverFunc(func(ctx context.Context, req *tftp.Request) (tftp.File, error) {
			book.Attribute(phone.ParseName(req.Path), req.Remote.Addr(), time.Now())
			return dir.Open(ctx, req.Path)
		})
		onEvent = func(ev tftp.Event) {
			mac := book.Attribute(phone.ParseName(ev.File), ev.Remote.Addr(), time.Now()).MAC
			l.add(event.Event{Time: ev.Start, MAC: mac, IP: ev.Remote.Addr(), Source: event.TFTP, Kind: event.Request,
				File: ev.File, Outcome: phonetftp.Outcome(ev.Outcome), Bytes: ev.Bytes, Duration: ev.Duration, Detail: ev.Error})
		}
	}
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.srv = &tftp.Server{Resolver: resolver, OnEvent: onEvent}
	if tune != nil {
		tune(l.srv)
	}
	l.server = conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	done := make(chan struct{})
	go func() { defer close(done); l.srv.Serve(context.Background(), conns[0]) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.srv.Shutdown(ctx)
		<-done
		dir.Close()
	})
	return l
}

func (l *lab) add(ev event.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// settle waits until every transfer has ended and reported its event.
func (l *lab) settle() {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.srv.Active() > 0 {
		if time.Now().After(deadline) {
			l.t.Fatal("transfers still running")
		}
		time.Sleep(time.Millisecond)
	}
}

// boot boots p from local, with at most maxRequests requests.
func (l *lab) boot(p sim.Phone, local string, maxRequests int) sim.Report {
	l.t.Helper()
	r := p.Boot(context.Background(), sim.Options{Server: l.server, Local: netip.MustParseAddr(local),
		Retry: 10 * time.Millisecond, MaxRequests: maxRequests, MaxReboots: 4, Timeout: 10 * time.Second})
	l.settle()
	return r
}

// timeline is the phone's events, oldest first, seen now; with ip, the
// other events from ip are its Neighbours.
func (l *lab) timeline(mac phone.MAC, ip string) Timeline {
	l.mu.Lock()
	defer l.mu.Unlock()
	tl := Timeline{MAC: mac, Now: time.Now(), Settings: settings}
	var addr netip.Addr
	if ip != "" {
		addr = netip.MustParseAddr(ip)
	}
	for _, ev := range l.events {
		switch {
		case ev.MAC == mac:
			tl.Events = append(tl.Events, ev)
		case addr.IsValid() && ev.IP == addr:
			tl.Neighbours = append(tl.Neighbours, ev)
		}
	}
	slices.SortStableFunc(tl.Events, byTime)
	slices.SortStableFunc(tl.Neighbours, byTime)
	return tl
}

func mustMAC(t *testing.T, s string) phone.MAC {
	t.Helper()
	m, err := phone.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func model(t *testing.T, name string) phone.Model {
	t.Helper()
	m, ok := phone.ModelByName(name)
	if !ok {
		t.Fatalf("no model %s", name)
	}
	return m
}

// find returns the findings of rule.
func find(st State, rule string) []Finding {
	var out []Finding
	for _, f := range st.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// errorsIn returns the error findings.
func errorsIn(st State) []Finding {
	var out []Finding
	for _, f := range st.Findings {
		if f.Severity == SevError {
			out = append(out, f)
		}
	}
	return out
}

// dump prints the timeline and the state, for failures.
func dump(t *testing.T, tl Timeline, st State) {
	t.Helper()
	var b strings.Builder
	for _, ev := range tl.Events {
		fmt.Fprintf(&b, "  %s %-9s %-16s %-32s %-9s %s\n", ev.Time.Format("15:04:05.000"), ev.Source, ev.Kind, ev.File, ev.Outcome, ev.Detail)
	}
	fmt.Fprintf(&b, "state: %s / %s, running %q target %q, download %+v\n", st.Phase, st.Detail, st.Running, st.Target, st.Download)
	for _, f := range st.Findings {
		fmt.Fprintf(&b, "  [%s] %s: %s\n    cause: %s\n    did: %s\n    do: %s\n", f.Severity, f.Rule, f.Symptom, f.Cause, f.Did, f.Do)
	}
	t.Log("\n" + b.String())
}

// check fails unless the state has the phase and exactly one finding of
// rule, of severity sev, whose texts contain want.
func check(t *testing.T, tl Timeline, st State, phase, rule, sev string, want ...string) Finding {
	t.Helper()
	fs := find(st, rule)
	ok := st.Phase == phase && len(fs) == 1 && fs[0].Severity == sev
	if ok {
		all := strings.Join([]string{fs[0].Symptom, fs[0].Cause, fs[0].Did, fs[0].Do, fs[0].Source}, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%s finding lacks %q", rule, w)
			}
		}
		if fs[0].Source == "" || fs[0].Do == "" || fs[0].At.IsZero() {
			t.Errorf("%s finding without source, advice or time: %+v", rule, fs[0])
		}
	} else {
		t.Errorf("phase %q, %d %s findings; want %q and one %s finding", st.Phase, len(fs), rule, phase, sev)
	}
	if t.Failed() || testing.Verbose() {
		dump(t, tl, st)
		if len(fs) == 0 {
			return Finding{}
		}
	}
	return fs[0]
}

// TestHealthy7960SIP: a 7960 on the target SIP load boots through
// phoneboot: up to date, no error or warning, even long after.
func TestHealthy7960SIP(t *testing.T) {
	t.Parallel()
	l := newLab(t, sip812(), inventory(""), nil)
	mac := mustMAC(t, mac7960)
	if r := l.boot(sim.Phone{MAC: mac, Model: model(t, "7960"), Load: "P0S3-8-12-00"}, "127.0.0.2", 40); r.State != "up" {
		t.Fatalf("sim: %s", r.State)
	}
	tl := l.timeline(mac, "")
	tl.Now = tl.Now.Add(24 * time.Hour) // done phones go silent: still up to date
	st := Analyze(tl)
	if st.Phase != PhaseUpToDate || st.Running != "P0S3-8-12-00" || st.Target != "P0S3-8-12-00" || len(st.Findings) > 0 || st.Download != nil {
		t.Error("want up to date on P0S3-8-12-00 without findings")
		dump(t, tl, st)
	}
}

// TestHealthy7961Upgrade: a 7961 on SIP 8.3 walks through 8.5(2) to 9.4
// (§4.4). The whole timeline is up to date without findings; cut short,
// it shows each phase of the walk.
func TestHealthy7961Upgrade(t *testing.T) {
	t.Parallel()
	files := fwtest.Merge(fwtest.LoadFiles("SIP41.8-5-2S", 2000, java852...), sip942())
	l := newLab(t, files, inventory(""), nil)
	mac := mustMAC(t, mac7961)
	r := l.boot(sim.Phone{MAC: mac, Model: model(t, "7961"), Load: "SIP41.8-3-2S"}, "127.0.0.3", 60)
	if r.State != "up" || r.Load != "SIP41.9-4-2SR3-1S" || r.Reboots != 2 {
		dump(t, l.timeline(mac, ""), State{})
		t.Fatalf("sim: %s on %s after %d reboots", r.State, r.Load, r.Reboots)
	}
	tl := l.timeline(mac, "")
	st := Analyze(tl)
	if st.Phase != PhaseUpToDate || st.Running != "SIP41.9-4-2SR3-1S" || st.Target != "SIP41.9-4-2SR3-1S" || len(st.Findings) > 0 {
		t.Error("want up to date on SIP41.9-4-2SR3-1S without findings")
		dump(t, tl, st)
	}

	// The timeline up to event i, seen right after it. The sim reboots at
	// once, so its next request can start before provision's "load" event
	// about the last component; a real phone takes ~24 s (§1.2.1). Such
	// requests are left out.
	at := func(i int) State {
		cut := tl
		cut.Events = tl.Events[:i+1]
		if ev := tl.Events[i]; ev.Kind == "load" {
			c := slices.IndexFunc(tl.Events, func(e event.Event) bool { return e.Source == "tftp" && e.File == ev.File })
			cut.Events = append(slices.Clone(tl.Events[:c+1]), ev)
		}
		cut.Now = tl.Events[i].Time.Add(time.Second)
		cut.Loads = map[string][]File{}
		for _, c := range java852 {
			cut.Loads["SIP41.8-5-2S"] = append(cut.Loads["SIP41.8-5-2S"], File{c, 2000})
		}
		return Analyze(cut)
	}
	index := func(source event.Source, kind event.Kind, file string, nth int) int {
		for i, ev := range tl.Events {
			if ev.Source == source && ev.Kind == kind && (file == "" || ev.File == file) {
				if nth--; nth == 0 {
					return i
				}
			}
		}
		t.Fatalf("no %s %s %s #%d", source, kind, file, nth)
		return 0
	}
	wantPhase := func(i int, phase, detail string) State {
		t.Helper()
		st := at(i)
		if st.Phase != phase || st.Detail != detail || len(errorsIn(st)) > 0 {
			t.Errorf("after event %d: %q / %q, want %q / %q", i, st.Phase, st.Detail, phase, detail)
		}
		return st
	}
	wantPhase(index("tftp", "request", "CTLSEP001E4A000061.tlv", 1), PhaseBooting, "booting (CTLSEP001E4A000061.tlv)")
	wantPhase(index("provision", "upgrade", "", 1), PhaseConfig, "fetching config (on an unknown load, target SIP41.9-4-2SR3-1S)")
	st = wantPhase(index("tftp", "request", java852[2], 1), PhaseUpgrade, "upgrading 1/2 SIP41.8-5-2S: 3 of 5 files")
	if d := st.Download; d == nil || d.Load != "SIP41.8-5-2S" || d.FilesDone != 3 || d.Files != 5 || d.Bytes != 10000 || d.BytesDone != 6000 {
		t.Errorf("download %+v", d)
	}
	wantPhase(index("provision", "load", "", 1), PhaseReboot, "rebooting into SIP41.8-5-2S")
	wantPhase(index("tftp", "request", "CTLSEP001E4A000061.tlv", 2), PhaseBooting, "booting (CTLSEP001E4A000061.tlv)")
	wantPhase(index("tftp", "request", java942[0], 1), PhaseUpgrade, "upgrading 2/2 SIP41.9-4-2SR3-1S: 1 of 5 files")
	wantPhase(index("provision", "load", "", 2), PhaseReboot, "rebooting into SIP41.9-4-2SR3-1S")
	if t.Failed() {
		dump(t, tl, st)
	}
}

// TestCTLLoop: the seed page's CTLSEP<MAC>.tlv loop. Through phoneboot the
// loop breaker serves an empty file, then "not found" again, and the phone
// moves on: an info finding saying what phoneboot did. From a plain
// directory the loop goes on: an error.
func TestCTLLoop(t *testing.T) {
	t.Parallel()
	mac := mustMAC(t, mac7960)
	p := sim.Phone{MAC: mac, Model: model(t, "7960"), Load: "P0S3-8-12-00", CTLLoop: true, CTLLoopEmpty: true}
	t.Run("broken", func(t *testing.T) {
		t.Parallel()
		l := newLab(t, sip812(), inventory(""), nil)
		if r := l.boot(p, "127.0.0.4", 40); r.State != "up" {
			t.Fatalf("sim: %s", r.State)
		}
		tl := l.timeline(mac, "")
		st := Analyze(tl)
		check(t, tl, st, PhaseUpToDate, "ctl-loop", SevInfo, "CTLSEP00137F000060.tlv", "moved on", "empty file", `"not found" again`)
		if len(st.Findings) != 1 {
			t.Errorf("findings: %+v", st.Findings)
		}
	})
	t.Run("looping", func(t *testing.T) {
		t.Parallel()
		l := newLab(t, sip812(), "", nil)
		if r := l.boot(p, "127.0.0.5", 8); !strings.Contains(r.State, "loop") {
			t.Fatalf("sim: %s", r.State)
		}
		tl := l.timeline(mac, "")
		st := Analyze(tl)
		check(t, tl, st, PhaseStuck, "ctl-loop", SevError, "asks for CTLSEP00137F000060.tlv over and over (8 times", "seed page", "loop breaker")
	})
	t.Run("persists", func(t *testing.T) {
		t.Parallel()
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		// Four switches (both remedies, twice) in one loop, and it still asks.
		var evs []event.Event
		for i := range 13 {
			at := t0.Add(time.Duration(i) * time.Second)
			evs = append(evs, event.Event{Time: at, MAC: mac, Source: "tftp", Kind: "request", File: "CTLSEP00137F000060.tlv", Outcome: "not-found"})
			if i%3 == 2 && i < 12 {
				remedy := []event.Remedy{event.RemedyEmpty, event.RemedyNotFound}[i/3%2]
				evs = append(evs, event.Event{Time: at, MAC: mac, Source: "provision", Kind: "loop-breaker", File: "CTLSEP00137F000060.tlv",
					Facts: event.Facts{Remedy: remedy, Count: 3}, Detail: "switched"})
			}
		}
		tl := Timeline{MAC: mac, Settings: settings, Events: evs, Now: t0.Add(14 * time.Second)}
		check(t, tl, Analyze(tl), PhaseStuck, "ctl-loop", SevError, "switched its answer 4 times in this loop and the phone still asks", "123456789*0#")
	})
}

// TestConfigLoop: a 7961 on SIP without a SEP<MAC>.cnf.xml shows
// "Unprovisioned" and keeps asking for it (§1.3, S22). phoneboot would
// generate the file, so a plain directory serves the phone.
func TestConfigLoop(t *testing.T) {
	t.Parallel()
	l := newLab(t, sip942(), "", nil)
	mac := mustMAC(t, mac7961)
	if r := l.boot(sim.Phone{MAC: mac, Model: model(t, "7961"), Load: "SIP41.9-4-2SR3-1S"}, "127.0.0.6", 12); r.State != "stuck: Unprovisioned" {
		t.Fatalf("sim: %s", r.State)
	}
	tl := l.timeline(mac, "")
	st := Analyze(tl)
	check(t, tl, st, PhaseStuck, "config-loop", SevError, "SEP001E4A000061.cnf.xml over and over (9 times)", "Unprovisioned")
	if len(st.Findings) != 1 {
		t.Errorf("findings: %+v", st.Findings)
		dump(t, tl, st)
	}

	// The seed page's variant, as provision reports it: the file is
	// served and the phone asks again.
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var evs []event.Event
	for i := range 4 {
		evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * 3 * time.Second), MAC: mac, Source: "tftp", Kind: "request", File: "SEP001E4A000061.cnf.xml", Outcome: "ok", Bytes: 0})
	}
	evs = append(evs, event.Event{Time: t0.Add(10 * time.Second), MAC: mac, Source: "provision", Kind: "config-loop", File: "SEP001E4A000061.cnf.xml", Detail: "asked for SEP001E4A000061.cnf.xml 4 times in a row"})
	tl = Timeline{MAC: mac, Settings: settings, Events: evs, Now: t0.Add(11 * time.Second)}
	check(t, tl, Analyze(tl), PhaseStuck, "config-loop", SevError, "cannot use", "4 times in a row", "Protocol Application Invalid")
}

// TestMissingFile: "File not found" (§8): a component removed from the
// TFTP root after phoneboot named its load, and a .loads named by an
// admin's own SEP file that is not there.
func TestMissingFile(t *testing.T) {
	t.Parallel()
	t.Run("component", func(t *testing.T) {
		t.Parallel()
		l := newLab(t, sip942(), on7961("SIP41.8-5-2S"), nil)
		if err := os.Remove(filepath.Join(l.root, java942[1])); err != nil {
			t.Fatal(err)
		}
		mac := mustMAC(t, mac7961)
		if r := l.boot(sim.Phone{MAC: mac, Model: model(t, "7961"), Load: "SIP41.8-5-2S"}, "127.0.0.7", 40); r.State != "stuck: File not found "+java942[1] {
			t.Fatalf("sim: %s", r.State)
		}
		tl := l.timeline(mac, "")
		st := Analyze(tl)
		check(t, tl, st, PhaseStuck, "missing-file", SevError, java942[1]+" is not on the server", "SIP41.9-4-2SR3-1S.loads lists it", "firmware import")
		if d := st.Download; d == nil || d.FilesDone != 1 || d.Files != 5 {
			t.Errorf("download %+v", d)
		}
	})
	t.Run("loads", func(t *testing.T) {
		t.Parallel()
		mac := mustMAC(t, mac7960)
		files := sip812()
		delete(files, "P0S3-8-12-00.loads")
		files["SEP"+mac.Hex()+".cnf.xml"] = []byte(`<device><deviceProtocol>SIP</deviceProtocol><loadInformation model="IP Phone 7960">P0S3-8-12-00</loadInformation></device>`)
		l := newLab(t, files, "", nil)
		if r := l.boot(sim.Phone{MAC: mac, Model: model(t, "7960"), Load: "P0S3-07-2-00"}, "127.0.0.8", 40); r.State != "stuck: File not found P0S3-8-12-00.loads" {
			t.Fatalf("sim: %s", r.State)
		}
		tl := l.timeline(mac, "")
		check(t, tl, Analyze(tl), PhaseStuck, "missing-file", SevError, "P0S3-8-12-00.loads is not on the server", `"File not found"`, "names load P0S3-8-12-00")
	})
}

// TestDownloadRestarts: a 7961 stops after its first component, a
// transfer of the next one is cut off (the client goes away; the server
// retransmits, then times out: "TFTP Timeout", §8), and the phone then
// downloads everything again and comes up.
func TestDownloadRestarts(t *testing.T) {
	t.Parallel()
	// Few retries, so that the cut transfer times out within seconds, but
	// timeouts long enough that a loaded machine's scheduling delays never
	// cut a healthy one: the test counts transfers exactly.
	l := newLab(t, sip942(), on7961("SIP41.8-5-2S"), func(s *tftp.Server) {
		s.Timeout, s.MinTimeout, s.MaxTimeout, s.Retries = 500*time.Millisecond, 250*time.Millisecond, time.Second, 2
	})
	mac := mustMAC(t, mac7961)
	p := sim.Phone{MAC: mac, Model: model(t, "7961"), Load: "SIP41.8-5-2S"}
	if r := l.boot(p, "127.0.0.9", 6); !strings.HasPrefix(r.State, "stuck") {
		t.Fatalf("sim: %s", r.State)
	}
	// The phone asks for the next component, takes its first block and
	// goes away without a word: the server resends, then times out.
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.9"), 0)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteToUDPAddrPort(tftp.AppendRequest(nil, tftp.OpRRQ, java942[1], tftp.ModeOctet), l.server); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadFromUDPAddrPort(make([]byte, 1024)); err != nil {
		t.Fatalf("first block of the cut transfer: %v", err)
	}
	conn.Close()
	l.settle()
	if r := l.boot(p, "127.0.0.9", 40); r.State != "up" {
		t.Fatalf("sim: %s", r.State)
	}
	tl := l.timeline(mac, "")
	st := Analyze(tl)
	fs := find(st, "download-restarts")
	if st.Phase != PhaseUpToDate || len(fs) != 2 || len(errorsIn(st)) > 0 {
		t.Fatalf("phase %s, %d download-restarts findings, want up to date and 2 (jar again, cnu cut off)", st.Phase, len(fs))
	}
	// A healthy transfer may still see a retransmission on a loaded
	// machine ("…, 1 retransmits)"): the counts are what must hold.
	if f := fs[0]; f.Severity != SevWarning || !strings.Contains(f.Symptom, java942[0]+" 2 times (2 complete") || strings.Contains(f.Symptom, "cut off") {
		t.Errorf("jar: %+v", f)
	}
	if f := fs[1]; f.Severity != SevWarning || !strings.Contains(f.Symptom, java942[1]+" 2 times (1 cut off: timeout, 1 complete, ") ||
		!strings.Contains(f.Symptom, "retransmits") || !strings.Contains(f.Did, "resent") || !strings.Contains(f.Cause, "TFTP Timeout") {
		t.Errorf("cnu: %+v", f)
	}
	if t.Failed() {
		dump(t, tl, st)
	}
}

// TestOldSIP: a 7960 on SIP 5.3 asks for OS79XX.TXT (§1.2); the way to
// 8.12 needs 6.x and 7.x, which are not there, so provision blocks the
// upgrade and says what to import. Booted twice: its first OS79XX.TXT
// comes before phoneboot knows its address.
func TestOldSIP(t *testing.T) {
	t.Parallel()
	l := newLab(t, sip812(), inventory(`running_load = "P0S3-05-3-00"`), nil)
	mac := mustMAC(t, mac7960)
	p := sim.Phone{MAC: mac, Model: model(t, "7960"), Load: "P0S3-05-3-00"}
	for range 2 {
		if r := l.boot(p, "127.0.0.10", 40); r.State != "up" || r.Load != "P0S3-05-3-00" {
			t.Fatalf("sim: %s on %s", r.State, r.Load)
		}
	}
	tl := l.timeline(mac, "")
	tl.Running = "P0S3-05-3-00" // the inventory's running_load, as the phone's record says
	st := Analyze(tl)
	check(t, tl, st, PhaseStuck, "old-sip-os79xx", SevWarning, "OS79XX.TXT", "older than the Universal Application Loader", "4.4 → 5.3 → 6.x → 7.x", "upgrade-blocked: stays on P0S3-05-3-00")
	check(t, tl, st, PhaseStuck, "upgrade-blocked", SevError, "stays on P0S3-05-3-00 and does not get to P0S3-8-12-00", "not in the catalog", "phoneboot firmware import")
	if st.Running != "P0S3-05-3-00" {
		t.Errorf("running %q", st.Running)
	}
	if st.Findings[0].Rule != "upgrade-blocked" {
		t.Errorf("most severe first: %s first", st.Findings[0].Rule)
	}

	// A later step (the admin imported the loads) ends the block.
	tl.Events = append(tl.Events, event.Event{Time: tl.Now, MAC: mac, Source: "provision", Kind: "upgrade",
		Facts: event.Facts{From: "P0S3-05-3-00", Next: "P0S3-06-3-00", Target: "P0S3-8-12-00",
			Path: []string{"P0S3-06-3-00", "P0S3-07-2-00", "P0S3-8-12-00"}}})
	if st := Analyze(tl); len(find(st, "upgrade-blocked")) != 0 || st.Target != "P0S3-8-12-00" {
		t.Errorf("after an upgrade step: %+v", st)
	}
}

// TestMissingTermFile: a 7961 phoneboot knows is factory-reset; the root
// has no term61.default.loads (seed page: "7961 default.61 file missing").
func TestMissingTermFile(t *testing.T) {
	t.Parallel()
	l := newLab(t, sip942(), on7961("SIP41.9-4-2SR3-1S"), nil)
	mac := mustMAC(t, mac7961)
	p := sim.Phone{MAC: mac, Model: model(t, "7961"), Load: "SIP41.9-4-2SR3-1S"}
	if r := l.boot(p, "127.0.0.11", 40); r.State != "up" {
		t.Fatalf("sim: %s", r.State)
	}
	p.FactoryReset = true
	if r := l.boot(p, "127.0.0.11", 40); r.State != "stuck: File not found term61.default.loads" {
		t.Fatalf("sim: %s", r.State)
	}
	tl := l.timeline(mac, "")
	st := Analyze(tl)
	check(t, tl, st, PhaseStuck, "missing-term-file", SevError, "term61.default.loads, which is not there", "default.61 file missing", "[site.loads]")
	if st.Download != nil || len(st.Findings) != 1 {
		t.Errorf("download %+v, findings %+v", st.Download, st.Findings)
	}
}

// TestForeignTFTP: after the 7960 booted, its address asks for another
// phone's files; and (hand-built) a phone that only ever asks for shared
// files.
func TestForeignTFTP(t *testing.T) {
	t.Parallel()
	l := newLab(t, sip812(), inventory(""), nil)
	mac, other := mustMAC(t, mac7960), mustMAC(t, macOther)
	for _, m := range []phone.MAC{mac, other} {
		if r := l.boot(sim.Phone{MAC: m, Model: model(t, "7960"), Load: "P0S3-8-12-00"}, "127.0.0.12", 40); r.State != "up" {
			t.Fatalf("sim: %s", r.State)
		}
	}
	tl := l.timeline(mac, "127.0.0.12")
	check(t, tl, Analyze(tl), PhaseUpToDate, "foreign-tftp", SevWarning, "requests from 127.0.0.12 name another phone: CTLSEP00137F0000AA.tlv, SEP00137F0000AA.cnf.xml", "heuristic")
	// Its own timeline alone says it too: the other phone's name from
	// its address is its event.Foreign (an address speaks for one phone),
	// and the other phone has nothing of it.
	tl = l.timeline(mac, "")
	check(t, tl, Analyze(tl), PhaseUpToDate, "foreign-tftp", SevWarning, "requests from 127.0.0.12 name another phone: CTLSEP00137F0000AA.tlv, SEP00137F0000AA.cnf.xml", "heuristic")
	if evs := l.timeline(other, "").Events; len(evs) != 0 {
		t.Errorf("the phone never seen at its own address has a timeline: %+v", evs)
	}

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var evs []event.Event
	for i, f := range []string{"XMLDefault.cnf.xml", "P0S3-8-12-00.loads", "SIPDefault.cnf", "RINGLIST.DAT"} {
		evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * time.Second), MAC: mac, Source: "tftp", Kind: "request", File: f, Outcome: "ok"})
	}
	tl = Timeline{MAC: mac, Settings: settings, Events: evs, Now: t0.Add(time.Minute)}
	check(t, tl, Analyze(tl), PhaseConfig, "foreign-tftp", SevWarning, "4 files here, none of them its own", "retain settings for TFTP server", "Alternate TFTP")
}

// TestQuietMidUpgrade: a 7961 stops after two components (the sim's
// request bound stands in for the power cut) and nothing follows.
func TestQuietMidUpgrade(t *testing.T) {
	t.Parallel()
	l := newLab(t, sip942(), on7961("SIP41.8-5-2S"), nil)
	mac := mustMAC(t, mac7961)
	if r := l.boot(sim.Phone{MAC: mac, Model: model(t, "7961"), Load: "SIP41.8-5-2S"}, "127.0.0.13", 7); !strings.HasPrefix(r.State, "stuck") {
		t.Fatalf("sim: %s", r.State)
	}
	tl := l.timeline(mac, "")
	last := tl.Events[len(tl.Events)-1].Time

	tl.Now = last.Add(time.Minute)
	st := Analyze(tl)
	if st.Phase != PhaseUpgrade || st.Detail != "upgrading 1/1 SIP41.9-4-2SR3-1S: 2 of 5 files" || len(st.Findings) != 0 {
		t.Errorf("a minute later: %q / %q, %d findings", st.Phase, st.Detail, len(st.Findings))
		dump(t, tl, st)
	}

	tl.Now = last.Add(10 * time.Minute)
	st = Analyze(tl)
	f := check(t, tl, st, PhaseStuck, "quiet-mid-upgrade", SevError, "stopped mid-upgrade: nothing since "+java942[1]+", 10m0s ago", "Protocol Application Invalid", "option 150")
	if st.Detail != f.Symptom || st.Download == nil || st.Download.FilesDone != 2 {
		t.Errorf("detail %q, download %+v", st.Detail, st.Download)
	}

	// Hand-built: the loader was flashed and the phone never came back.
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tl = Timeline{MAC: mac, Settings: settings, Now: t0.Add(time.Hour), Events: []event.Event{
		{Time: t0.Add(-2 * time.Second), Source: "tftp", Kind: "request", File: "CTLSEP001E4A000061.tlv", Outcome: "not-found"},
		{Time: t0.Add(-time.Second), Source: "tftp", Kind: "request", File: "SEP001E4A000061.cnf.xml", Outcome: "ok"},
		{Time: t0, Source: "tftp", Kind: "request", File: "P0S3-07-2-00.loads", Outcome: "ok"},
		{Time: t0.Add(time.Second), Source: "tftp", Kind: "request", File: "P003-07-2-00.sbn", Outcome: "ok"},
		{Time: t0.Add(2 * time.Second), Source: "tftp", Kind: "request", File: "P0S3-07-2-00.sb2", Outcome: "ok"},
		{Time: t0.Add(2 * time.Second), Source: "provision", Kind: "load", Facts: event.Facts{Running: "P0S3-07-2-00"}},
	}}
	st = Analyze(tl)
	check(t, tl, st, PhaseStuck, "quiet-mid-upgrade", SevError, "flashed P0S3-07-2-00 and has not come back for 59m58s")
	if len(st.Findings) != 1 {
		t.Errorf("findings: %+v", st.Findings)
	}
}

func TestEmpty(t *testing.T) {
	st := Analyze(Timeline{Now: time.Now()})
	if st.Phase != PhaseUnknown || len(st.Findings) != 0 {
		t.Errorf("%+v", st)
	}
}

// TestPrepareAt: an Analysis judged at any time says what Analyze says
// at that time, for timelines whose findings depend on the time (a
// download that stopped, an ACK without TFTP) and one that goes quiet.
func TestPrepareAt(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mac := mustMAC(t, mac7961)
	ev := func(sec int, src event.Source, kind event.Kind, file string, outcome event.Outcome) event.Event {
		return event.Event{Time: t0.Add(time.Duration(sec) * time.Second), MAC: mac, IP: netip.MustParseAddr("10.0.0.50"),
			Source: src, Kind: kind, File: file, Outcome: outcome}
	}
	timelines := [][]event.Event{
		{ // stops mid-download
			ev(0, "tftp", "request", "CTLSEP001E4A000061.tlv", "not-found"),
			ev(1, "tftp", "request", "SEP001E4A000061.cnf.xml", "ok"),
			ev(2, "tftp", "request", "SIP41.9-4-2SR3-1S.loads", "ok"),
			ev(3, "tftp", "request", "jar41sip.9-4-2ES26.sbn", "ok"),
		},
		{ // an ACK, then nothing from the phone
			ev(0, "dhcp", "discover", "", ""), ev(1, "dhcp", "ack", "", ""),
		},
		{ // still fetching its config
			ev(0, "tftp", "request", "CTLSEP001E4A000061.tlv", "not-found"),
			ev(1, "tftp", "request", "ITLSEP001E4A000061.tlv", "not-found"),
		},
	}
	for i, evs := range timelines {
		tl := Timeline{MAC: mac, Events: evs, Settings: settings, Running: "SIP41.8-5-2S"}
		a := Prepare(tl)
		for _, after := range []time.Duration{0, time.Second, time.Minute, NoTFTPAfter, settings.QuietAfter, settings.QuietAfter + time.Second, time.Hour} {
			tl.Now = t0.Add(3*time.Second + after)
			want, got := Analyze(tl), a.At(tl.Now)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("timeline %d, %s after: At\n%+v\nAnalyze\n%+v", i, after, got, want)
			}
		}
		if st := a.At(t0.Add(time.Hour)); len(st.Findings) > 0 {
			st.Findings[0].Symptom = "changed by the caller"
			if a.At(t0.Add(time.Hour)).Findings[0].Symptom == st.Findings[0].Symptom {
				t.Errorf("timeline %d: a caller's change shows in the next At", i)
			}
		}
	}
}
