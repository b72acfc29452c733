package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
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
)

const inventory = `[site]
protocol = "SIP"
sip_proxy = "pbx.example.net"
call_managers = ["192.0.2.10"]

[site.loads]
7960 = "P0S3-8-12-00"
7940 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7960"
label = "Reception"
  [[phone.line]]
  extension = "201"
  password = "s3cret"

[[phone]]
mac = "0013.7f38.b3df"
model = "7940"
protocol = "SCCP"
load = "P00308010200"

[[phone]]
mac = "001E4A93748B"
model = "7961"
  [[phone.line]]
  extension = "203"
  password = "pw"
`

// fixture is a provisioner over a root with synthetic firmware.
type fixture struct {
	t      *testing.T
	root   string
	p      *Provisioner
	mu     sync.Mutex
	events []event.Event
	now    time.Time
}

func newFixture(t *testing.T, cfgText string) *fixture {
	t.Helper()
	f := &fixture{t: t, root: t.TempDir(), now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	fwtest.WriteLoad(t, f.root, "P0S3-8-12-00", 64, fwtest.Classic("P0S3-8-12-00")...)
	fwtest.WriteLoad(t, f.root, "SIP41.9-4-2SR3-1S", 64, fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")...)
	// The 8.5(2) a 79x1 whose load is unknown must run first (§4.4).
	fwtest.WriteLoad(t, f.root, "SIP41.8-5-2S", 64, fwtest.Java("SIP41.8-5-2S", "8-5-2TH1-9")...)
	dir, err := files.OpenDir(f.root, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	f.p, err = New(Options{Root: f.root, Files: dir, Templates: filepath.Join(t.TempDir(), "templates"),
		OnEvent: func(ev event.Event) { f.mu.Lock(); f.events = append(f.events, ev); f.mu.Unlock() },
		Now:     func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	if cfgText != "" {
		f.update(cfgText)
	}
	return f
}

func (f *fixture) update(cfgText string) []Problem {
	f.t.Helper()
	cfg, err := config.Parse("phoneboot.toml", []byte(cfgText))
	if err != nil {
		f.t.Fatal(err)
	}
	problems, err := f.p.Update(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return problems
}

func (f *fixture) tick(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

// request is name asked from ip, cleaned as the file services clean it.
func request(ip, name string) Request {
	name = strings.TrimPrefix(strings.TrimLeft(name, "/"), "./")
	return Request{Name: name, Client: netip.AddrPortFrom(netip.MustParseAddr(ip), 5000), Transport: event.TFTP}
}

// get asks for name from ip and reports the transfer's end, as the file
// services do; err is the refusal, if any.
func (f *fixture) get(ip, name string) (string, *files.Error) {
	f.t.Helper()
	b, err := f.open(ip, name)
	f.p.Transferred(request(ip, name), err == nil)
	return b, err
}

// open asks for name from ip without reporting the transfer's end.
func (f *fixture) open(ip, name string) (string, *files.Error) {
	f.t.Helper()
	file, err := f.p.Open(context.Background(), request(ip, name))
	if err != nil {
		var fe *files.Error
		if errors.As(err, &fe) {
			return "", fe
		}
		if errors.Is(err, os.ErrNotExist) {
			return "", &files.Error{Code: files.NotFound}
		}
		f.t.Fatalf("%s: %v", name, err)
	}
	defer file.Close()
	b, err := io.ReadAll(io.NewSectionReader(file, 0, file.Size()))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b), nil
}

func (f *fixture) mustGet(ip, name string) string {
	f.t.Helper()
	b, err := f.get(ip, name)
	if err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	return b
}

// transferred reports a finished transfer of name to ip, as serve does.
func (f *fixture) transferred(ip, name string) {
	f.p.Transferred(request(ip, name), true)
}

func (f *fixture) mustMAC(s string) phone.MAC {
	m, err := phone.ParseMAC(s)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, ev := range f.events {
		out = append(out, string(ev.Kind))
	}
	return out
}

func TestGeneratedFiles(t *testing.T) {
	f := newFixture(t, inventory)
	// 7960 SIP: the UAL stub naming the SIP load, then the SIP text files.
	// A boot that begins with CTLSEP shows the Universal Application
	// Loader, so 8.12 is one step away.
	f.get("127.0.0.2", "CTLSEP00137F38B3DE.tlv")
	stub := f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml")
	if !strings.Contains(stub, "P0S3-8-12-00") || !strings.Contains(stub, "SIP") {
		t.Errorf("7960 stub:\n%s", stub)
	}
	if sip := f.mustGet("127.0.0.2", "./SIP00137F38B3DE.cnf"); !strings.Contains(sip, "201") || !strings.Contains(sip, "s3cret") {
		t.Errorf("SIP<MAC>.cnf:\n%s", sip)
	}
	// Case and "./" do not matter.
	if got := f.mustGet("127.0.0.2", "sep00137f38b3de.CNF.XML"); got != stub {
		t.Error("name case changed the file")
	}
	// 7940 SCCP on a load that is not in the root: no load named, and a
	// problem with the line of the phone's load key.
	sccp := f.mustGet("127.0.0.3", "SEP00137F38B3DF.cnf.xml")
	if strings.Contains(sccp, "P00308010200") || !strings.Contains(sccp, "192.0.2.10") {
		t.Errorf("7940 SCCP config names a missing load or lacks the call manager:\n%s", sccp)
	}
	// 7961 SIP: full <device> with the Java load; its load is unknown, so
	// the step is 8.5(2), safe from any load it may run (§4.4).
	if java := f.mustGet("127.0.0.4", "SEP001E4A93748B.cnf.xml"); !strings.Contains(java, "SIP41.8-5-2S") || !strings.Contains(java, "sipProfile") {
		t.Errorf("7961 config:\n%s", java)
	}
	if _, err := f.get("127.0.0.4", "SIP001E4A93748B.cnf"); err == nil || err.Code != files.NotFound {
		t.Errorf("a 7961 has no SIP<MAC>.cnf, got err %v", err)
	}
	// Shared files.
	// OS79XX.TXT is asked by old loads, before anything else: a phone
	// phoneboot has not seen gets none here (the 7960 target is SIP 8.12,
	// and it may be on SCCP, or on a SIP load 8.12 is not safe from); one
	// seen running 8.12 on SIP gets the 8.12 image itself: the same
	// protocol's image lets it go on to its own config (§1.2 [S12]).
	if _, err := f.get("127.0.0.7", "OS79XX.TXT"); err == nil || err.Code != files.NotFound {
		t.Errorf("OS79XX.TXT for an unknown phone: %v", err)
	}
	f.transferred("127.0.0.2", "P0S3-8-12-00.loads")
	f.transferred("127.0.0.2", "SIPDefault.cnf")
	if got := f.p.Running(f.mustMAC("00137F38B3DE")); got != "P0S3-8-12-00" {
		t.Errorf("running = %q after .loads then SIPDefault.cnf", got)
	}
	if os := f.mustGet("127.0.0.2", "OS79XX.TXT"); os != "P0S3-8-12-00" {
		t.Errorf("OS79XX.TXT = %q, want the SIP image for a SIP phone", os)
	}
	def := f.mustGet("127.0.0.2", "XMLDefault.cnf.xml")
	// XMLDefault.cnf.xml is for phones phoneboot may not know: it names
	// only loads safe from any load they may run. No 7960 load is (a 7960
	// on SIP 4.x must step through 5.3, 6.x, 7.x, one on 8.x may not go
	// back to 5.3); for the 7961, 8.5(2) is.
	if !strings.Contains(def, "loadInformation30018 ") || !strings.Contains(def, "SIP41.8-5-2S") || strings.Contains(def, "P0S3-") {
		t.Errorf("XMLDefault.cnf.xml:\n%s", def)
	}
	for _, name := range []string{"SIPDefault.cnf", "dialplan.xml", "syncinfo.xml"} {
		f.mustGet("127.0.0.2", name)
	}
	// Firmware comes from the root, byte-exact.
	if got := f.mustGet("127.0.0.2", "P0S3-8-12-00.sb2"); got != string(fwtest.Random("P0S3-8-12-00.sb2", 64)) {
		t.Error("firmware not served byte-exact")
	}
	// Trust lists: not found.
	if _, err := f.get("127.0.0.2", "CTLSEP00137F38B3DE.tlv"); err == nil || err.Code != files.NotFound {
		t.Errorf("CTL: %v", err)
	}
	if _, err := f.get("127.0.0.2", "SEP00137F38B3DE.cnf.xml.sgn"); err == nil || err.Code != files.NotFound {
		t.Errorf(".sgn: %v", err)
	}
}

func TestMissingLoadIsAProblemWithItsLine(t *testing.T) {
	f := newFixture(t, "")
	problems := f.update(inventory)
	var msgs []string
	for _, p := range problems {
		if !p.Note {
			msgs = append(msgs, p.String())
		}
	}
	want := "phoneboot.toml:23: phone 00:13:7f:38:b3:df: load P00308010200 is not in the firmware catalog"
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) {
		t.Fatalf("problems = %q, want one starting %q", msgs, want)
	}
	// A component missing from a load that has its .loads file.
	os.Remove(filepath.Join(f.root, "dsp41.9-4-2ES26.sbn"))
	problems = f.update(inventory)
	found := false
	for _, p := range problems {
		found = found || strings.Contains(p.Msg, "SIP41.9-4-2SR3-1S is missing dsp41.9-4-2ES26.sbn in the TFTP root")
	}
	if !found {
		t.Fatalf("no problem for the missing component: %v", problems)
	}
	if java := f.mustGet("127.0.0.4", "SEP001E4A93748B.cnf.xml"); strings.Contains(java, "SIP41.9-4-2SR3-1S") {
		t.Error("a load with a missing component was named")
	}
}

func TestRootFileWinsButNeverAnEmptyConfig(t *testing.T) {
	f := newFixture(t, "")
	fwtest.Write(t, f.root, "SEP00137F38B3DE.cnf.xml", []byte("<device>mine</device>"))
	fwtest.Write(t, f.root, "SEP00137F38B3DF.cnf.xml", nil)
	fwtest.Write(t, f.root, "dialplan.xml", []byte("<DIALTEMPLATE/>"))
	problems := f.update(inventory)
	if got := f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml"); got != "<device>mine</device>" {
		t.Errorf("root file not served: %q", got)
	}
	if got := f.mustGet("127.0.0.2", "dialplan.xml"); got != "<DIALTEMPLATE/>" {
		t.Errorf("root dialplan not served: %q", got)
	}
	if got := f.mustGet("127.0.0.3", "SEP00137F38B3DF.cnf.xml"); !strings.Contains(got, "<device>") {
		t.Errorf("an empty root SEP file was served instead of the generated one: %q", got)
	}
	var notes, errs int
	for _, p := range problems {
		if p.Note && strings.Contains(p.Msg, "served instead") {
			notes++
		} else if strings.Contains(p.Msg, "empty file ignored") {
			errs++
		}
	}
	if notes != 2 || errs != 1 {
		t.Errorf("problems = %v", problems)
	}
}

func TestAutoProvisioned(t *testing.T) {
	f := newFixture(t, inventory)
	got := f.mustGet("127.0.0.9", "SEP0011223344AA.cnf.xml")
	if !strings.Contains(got, "<device>") || strings.Contains(got, "<loadInformation>P") {
		t.Errorf("unknown phone of unknown model: %s", got)
	}
	f.mustGet("127.0.0.9", "SEP0011223344AA.cnf.xml")
	if k := f.kinds(); len(k) != 1 || k[0] != string(event.AutoProvisioned) {
		t.Fatalf("events = %v, want one auto-provisioned", k)
	}
	// After a factory reset a 7961 names its model with its term file,
	// and then gets the 7961 load.
	f.get("127.0.0.10", "CTLSEP0011223344BB.tlv")
	f.get("127.0.0.10", "term61.default.loads")
	if got := f.mustGet("127.0.0.10", "SEP0011223344BB.cnf.xml"); !strings.Contains(got, "SIP41.8-5-2S") {
		t.Errorf("learned 7961 did not get its first safe step:\n%s", got)
	}
	if mac, ok := f.p.book.At(netip.MustParseAddr("127.0.0.9")); !ok || mac.Hex() != "0011223344AA" {
		t.Errorf("phone at the address = %v %v", mac, ok)
	}
}

// TestCTLLoopBreaker: the seed page's two CTL stories, automated.
func TestCTLLoopBreaker(t *testing.T) {
	f := newFixture(t, inventory)
	ctl := "CTLSEP00137F38B3DE.tlv"
	ask := func() string {
		f.tick(2 * time.Second)
		b, err := f.get("127.0.0.2", ctl)
		switch {
		case err != nil && err.Code == files.NotFound:
			return "not found"
		case err != nil:
			t.Fatal(err)
		case b == "":
			return "empty"
		}
		return "data"
	}
	var got []string
	for range 18 {
		got = append(got, ask())
	}
	// The 4th request in a row is a loop (ctl_loop_requests 4): empty; 4
	// more of it, "not found" again; and so on for as long as it asks.
	want := "not found,not found,not found,empty,empty,empty,empty,not found,not found,not found,not found,empty,empty,empty,empty,not found,not found,not found"
	if strings.Join(got, ",") != want {
		t.Fatalf("answers = %v\nwant      %v", strings.Join(got, ","), want)
	}
	f.mu.Lock()
	var remedies []string
	for _, ev := range f.events {
		if ev.Kind != event.LoopBreaker || ev.Facts.Count != 4 {
			t.Errorf("event %+v, want loop-breaker events after 4 requests each", ev)
		}
		remedies = append(remedies, string(ev.Facts.Remedy))
	}
	f.mu.Unlock()
	if r := strings.Join(remedies, ","); r != "empty,not-found,empty,not-found" {
		t.Fatalf("remedies = %s", r)
	}
	// Moving on (the config) ends the streak; a normal boot later gets
	// what worked last, and a new loop is broken again.
	f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml")
	got = got[:0]
	for range 5 {
		got = append(got, ask())
	}
	if g := strings.Join(got, ","); g != "not found,not found,not found,empty,empty" {
		t.Errorf("the next boot's loop: %s", g)
	}
	// Requests far apart are not a loop.
	f2 := newFixture(t, inventory)
	for range 6 {
		f2.tick(10 * time.Minute)
		if _, err := f2.get("127.0.0.2", ctl); err == nil {
			t.Fatal("slow repeats were taken for a loop")
		}
	}
}

func TestConfigLoopIsRecorded(t *testing.T) {
	f := newFixture(t, inventory)
	f.get("127.0.0.2", "CTLSEP00137F38B3DE.tlv")
	for range 5 {
		f.tick(time.Second)
		f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = slices.DeleteFunc(f.events, func(ev event.Event) bool { return ev.Kind == event.Upgrade })
	if len(f.events) != 1 || f.events[0].Kind != event.ConfigLoop || f.events[0].Facts.Count != 4 || !strings.Contains(f.events[0].Detail, "bytes (sha256") {
		t.Fatalf("events = %+v", f.events)
	}
}

func TestUpdateKeepsOldOnError(t *testing.T) {
	f := newFixture(t, inventory)
	before := f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml")
	tdir := f.p.opts.Templates
	fwtest.Write(t, tdir, "device.xml.tmpl", []byte("{{.Broken"))
	cfg, _ := config.Parse("phoneboot.toml", []byte(inventory))
	if _, err := f.p.Update(cfg); err == nil || !strings.Contains(err.Error(), "device.xml.tmpl") {
		t.Fatalf("broken template: %v", err)
	}
	if got := f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml"); got != before {
		t.Error("a failed update changed what phones get")
	}
}

// TestRunningLoadFromTransfers: a phone that fetched a load list and all
// its components runs that load, whatever order the transfers are reported
// in: the phone asks for each file after the last one arrived, but the
// reports of quick transfers race with the next request (the last
// component's with the next boot's first request, too).
func TestRunningLoadFromTransfers(t *testing.T) {
	f := newFixture(t, inventory)
	comps := fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")
	asked := append([]string{"CTLSEP001E4A93748B.tlv", "SIP41.9-4-2SR3-1S.loads"}, comps...)
	asked = append(asked, "CTLSEP001E4A93748B.tlv") // the next boot
	f.p.settleWait = time.Millisecond               // the reports below come late on purpose
	for _, name := range asked {
		f.open("127.0.0.4", name)
	}
	mac := f.mustMAC("001E4A93748B")
	// Reported: the first component, the next boot's CTL file, then the
	// list and the other components backwards.
	reports := []string{comps[0], asked[len(asked)-1], asked[0], asked[1]}
	for i := len(comps) - 1; i > 0; i-- {
		reports = append(reports, comps[i])
	}
	for i, name := range reports {
		if got := f.p.Running(mac); got != "" {
			t.Fatalf("runs %q after %d of %d reports", got, i, len(reports))
		}
		ok := !strings.HasPrefix(name, "CTLSEP") // "not found"
		f.p.Transferred(request("127.0.0.4", name), ok)
	}
	if got := f.p.Running(mac); got != "SIP41.9-4-2SR3-1S" {
		t.Fatalf("running = %q", got)
	}
	if k := f.kinds(); len(k) == 0 || k[len(k)-1] != string(event.Load) {
		t.Fatalf("events = %v, want a load event last", k)
	}

	// Reports of requests provision did not see (after a restart) are
	// learned from as they come.
	f2 := newFixture(t, inventory)
	f2.transferred("127.0.0.5", "SIP41.9-4-2SR3-1S.loads") // unknown address: nobody's
	f2.get("127.0.0.5", "CTLSEP001E4A93748C.tlv")
	for _, name := range append([]string{"SIP41.9-4-2SR3-1S.loads"}, comps...) {
		f2.transferred("127.0.0.5", name)
	}
	if got := f2.p.Running(f2.mustMAC("001E4A93748C")); got != "SIP41.9-4-2SR3-1S" {
		t.Fatalf("running without noted requests = %q", got)
	}
}

// A 7940/7960 whose component download was cut off (or asked for in
// part) boots on with the load it has: asking for something else next
// does not make it run the new one.
func TestCutOffComponentIsNotRunning(t *testing.T) {
	f := newFixture(t, inventory)
	const ip = "127.0.0.6"
	f.mustGet(ip, "SIP00137F38B3DE.cnf")
	f.mustGet(ip, "P0S3-8-12-00.loads")
	for _, c := range fwtest.Classic("P0S3-8-12-00") {
		f.open(ip, c)
		f.p.Transferred(request(ip, c), false)
	}
	f.get(ip, "SIPDefault.cnf")
	if got := f.p.Running(f.mustMAC("00:13:7F:38:B3:DE")); got == "P0S3-8-12-00" {
		t.Fatalf("runs %q after its components were cut off", got)
	}
}

func TestRingLists(t *testing.T) {
	f := newFixture(t, inventory)
	// No rings configured and no .raw files: the refusal says so, for
	// both spellings of the list.
	for _, name := range []string{"RINGLIST.DAT", "Ringlist.xml"} {
		if _, err := f.get("127.0.0.2", name); err == nil || err.Code != files.NotFound || !strings.Contains(err.Msg, "no ring tones") {
			t.Errorf("%s with no rings: %v", name, err)
		}
	}
	if _, err := f.get("127.0.0.2", "DistinctiveRingList.xml"); err == nil || !strings.Contains(err.Msg, "distinctive") {
		t.Errorf("DistinctiveRingList.xml: %v", err)
	}
	// A .raw dropped in the root is offered; the admin's distinctive
	// list is served as it is.
	fwtest.Write(t, f.root, "Piano1.raw", fwtest.Random("Piano1.raw", 16))
	fwtest.Write(t, f.root, "DistinctiveRingList.xml", []byte("<CiscoIPPhoneRingList/>"))
	f.update(inventory)
	if got := f.mustGet("127.0.0.2", "Ringlist.xml"); !strings.Contains(got, "Piano1.raw") {
		t.Errorf("Ringlist.xml does not offer the root's .raw file:\n%s", got)
	}
	if got := f.mustGet("127.0.0.2", "RINGLIST.DAT"); !strings.Contains(got, "Piano1.raw") {
		t.Errorf("RINGLIST.DAT:\n%s", got)
	}
	if got := f.mustGet("127.0.0.2", "distinctiveringlist.xml"); got != "<CiscoIPPhoneRingList/>" {
		t.Errorf("admin's distinctive ring list: %q", got)
	}
}

func TestKEMLoadFromTheRoot(t *testing.T) {
	cfg := strings.Replace(inventory, "[site.loads]\n", "[site.loads]\n7914 = \"S00105000400\"\n", 1) +
		"\n[[phone]]\nmac = \"00137F38B3E0\"\nmodel = \"7960\"\nprotocol = \"SCCP\"\nkem = [\"7914\"]\n"
	f := newFixture(t, "")
	problemFor := func(problems []Problem) string {
		for _, p := range problems {
			if strings.Contains(p.Msg, "site.loads.7914") {
				return p.String()
			}
		}
		return ""
	}
	if got := problemFor(f.update(cfg)); !strings.Contains(got, "S00105000400.sbn is not in the TFTP root") {
		t.Errorf("a missing module image: %q", got)
	}
	if got := f.mustGet("127.0.0.5", "SEP00137F38B3E0.cnf.xml"); strings.Contains(got, "S00105000400") {
		t.Errorf("a module load not in the root was named:\n%s", got)
	}
	// Dropped in the root (no .loads file: modules have none): no problem
	// and the config names it.
	fwtest.Write(t, f.root, "S00105000400.sbn", fwtest.Random("S00105000400.sbn", 16))
	if got := problemFor(f.update(cfg)); got != "" {
		t.Errorf("module image in the root is still a problem: %q", got)
	}
	if got := f.mustGet("127.0.0.5", "SEP00137F38B3E0.cnf.xml"); !strings.Contains(got, "<loadInformation>S00105000400</loadInformation>") {
		t.Errorf("module load not named:\n%s", got)
	}
}

func TestRootErrorsInWords(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tftp")
	fwtest.Write(t, filepath.Dir(file), "tftp", []byte("x"))
	_, err := listRoot(file)
	if err == nil || err.Error() != "TFTP root "+file+": it is not a directory" {
		t.Errorf("root that is a file: %v", err)
	}
}

// TestForeignRequests: a request naming a phone from an address that is
// not the phone's gets none of its secrets and changes nothing of it; an
// event on the phone says who asked (issue 12, findings 1 and 2).
func TestForeignRequests(t *testing.T) {
	f := newFixture(t, inventory)
	victim := f.mustMAC("00:13:7F:38:B3:DE")
	// The 7960 boots from its own address: first sight binds it.
	f.get("127.0.0.2", "CTLSEP00137F38B3DE.tlv")
	f.mustGet("127.0.0.2", "SEP00137F38B3DE.cnf.xml")
	if sip := f.mustGet("127.0.0.2", "SIP00137F38B3DE.cnf"); !strings.Contains(sip, "s3cret") {
		t.Fatalf("own SIP file: %s", sip)
	}
	before, _ := f.p.book.Get(victim)
	evs := len(f.events)

	// Another host asks for its files: not found, no password.
	for _, name := range []string{"SIP00137F38B3DE.cnf", "SEP00137F38B3DE.cnf.xml", "sip00137f38b3de.CNF"} {
		got, err := f.get("127.0.0.66", name)
		if err == nil || err.Code != files.NotFound || strings.Contains(got, "s3cret") || !strings.Contains(err.Msg, "own address") {
			t.Errorf("%s from another host: %q %v", name, got, err)
		}
	}
	// It claims the phone's load list and the load after it: the phone's
	// running load, address and counters stay as they were.
	f.get("127.0.0.66", "CTLSEP00137F38B3DE.tlv")
	f.get("127.0.0.66", "P0S3-8-12-00.loads")
	f.get("127.0.0.66", "P0S3-8-12-00.sb2")
	f.get("127.0.0.66", "SIPDefault.cnf")
	after, _ := f.p.book.Get(victim)
	if after.Running != before.Running || after.IP != before.IP || after.Streak != before.Streak || after.Last != before.Last {
		t.Errorf("a foreign host changed the phone: before %+v\nafter %+v", before, after)
	}
	if mac, ok := f.p.book.At(netip.MustParseAddr("127.0.0.66")); ok {
		t.Errorf("the foreign address became phone %v", mac)
	}
	f.mu.Lock()
	var foreign []event.Event
	for _, ev := range f.events[evs:] {
		if ev.MAC == victim && ev.Kind != event.Foreign {
			t.Errorf("a foreign request made a %s event on the phone: %+v", ev.Kind, ev)
		}
		if ev.Kind == event.Foreign {
			foreign = append(foreign, ev)
		}
	}
	f.mu.Unlock()
	// Three at once, then one a minute for each sender.
	if len(foreign) != 3 {
		t.Fatalf("%d foreign events, want 3 (the burst)", len(foreign))
	}
	ev := foreign[0]
	if ev.MAC != victim || ev.IP.String() != "127.0.0.66" || ev.Facts.Bound.String() != "127.0.0.2" || ev.Facts.Binding != "first sight" ||
		ev.Outcome != event.NotFound || !strings.Contains(ev.Detail, "from 127.0.0.66 over tftp, which is not this phone: its address is 127.0.0.2 (first sight)") {
		t.Errorf("foreign event: %+v", ev)
	}
	// The phone itself still gets its files.
	if sip := f.mustGet("127.0.0.2", "SIP00137F38B3DE.cnf"); !strings.Contains(sip, "s3cret") {
		t.Error("the phone lost its own file")
	}

	// An address that is one phone's may not speak for another.
	f.mustGet("127.0.0.4", "SEP001E4A93748B.cnf.xml") // the 7961 at .4
	if _, err := f.get("127.0.0.4", "SIP00137F38B3DE.cnf"); err == nil {
		t.Error("the 7961's address got the 7960's SIP file")
	}
	// Names made up by the thousand from it make no phones: the event is
	// the sender's.
	evs = len(f.events)
	for i := range 1000 {
		f.get("127.0.0.4", fmt.Sprintf("SEP0011220%05X.cnf.xml", i))
	}
	if n := f.p.book.Len(); n != 3 {
		t.Errorf("%d phones in the book after 1000 made-up names, want the inventory's 3", n)
	}
	f.mu.Lock()
	for _, ev := range f.events[evs:] {
		if ev.MAC != f.mustMAC("001E4A93748B") || ev.Kind != event.Foreign || !strings.HasPrefix(ev.Facts.Other.Hex(), "0011220") {
			t.Errorf("event for a made-up name: %+v", ev)
			break
		}
	}
	if n := len(f.events) - evs; n != 3 {
		t.Errorf("%d events for 1000 made-up names from one address, want 3", n)
	}
	f.mu.Unlock()

	// phone_files = "anyone": the file is served, the phone unchanged.
	f.update(inventory + "\n[security]\nphone_files = \"anyone\"\n")
	if got, err := f.get("127.0.0.67", "SIP00137F38B3DE.cnf"); err != nil || !strings.Contains(got, "s3cret") {
		t.Errorf("phone_files = anyone: %q %v", got, err)
	}
	if p, _ := f.p.book.Get(victim); p.IP.String() != "127.0.0.2" {
		t.Errorf("phone moved to %v", p.IP)
	}
}

// TestReservedAddress: the inventory's ip is the phone's before it ever
// asked; a lease or another address cannot take it.
func TestReservedAddress(t *testing.T) {
	cfg := strings.Replace(inventory, "label = \"Reception\"\n", "label = \"Reception\"\nip = \"127.0.0.20\"\n", 1)
	f := newFixture(t, cfg)
	if _, err := f.get("127.0.0.2", "SIP00137F38B3DE.cnf"); err == nil {
		t.Error("a reserved phone's file went to another address")
	}
	if sip := f.mustGet("127.0.0.20", "SIP00137F38B3DE.cnf"); !strings.Contains(sip, "s3cret") {
		t.Error("the reserved address did not get the file")
	}
	// Removing the reservation frees the phone (first sight: .20 had it).
	f.update(inventory)
	if _, err := f.get("127.0.0.2", "SIP00137F38B3DE.cnf"); err == nil {
		t.Error("first sight at .20 should hold the phone for the hold")
	}
	f.tick(2 * time.Hour)
	if _, err := f.get("127.0.0.2", "SIP00137F38B3DE.cnf"); err != nil {
		t.Errorf("after the hold: %v", err)
	}
}
