package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/files"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/tftp"
)

// All firmware here is synthetic: random bytes, and .loads files made of a
// fake binary header followed by the text part as cisco-79xx.md §4.2 and
// §4.3 show it. No Cisco file is used.

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// loadsFile is a .loads: a fake signed header (random bytes with newlines
// and NULs in it, and the file's own name embedded, like the real one,
// §4.2), then text.
func loadsFile(name string, seed uint64, text string) []byte {
	h := randomBytes(300, seed)
	h[17], h[90], h[200] = '\n', 0, '\n'
	h = append(h, 0)
	h = append(h, name...)
	h = append(h, 0, 0x82, '\n', 0)
	return append(h, text...)
}

const (
	sip812Text  = "P003-8-12-00.sbn\nP0S3-8-12-00.sb2\nLA_VERSION=PAS3ARM1\n"
	sccpSR2Text = "P0030801SR02.sbn\nP0030801SR02.sb2\nLA_VERSION=PAS30831\n"
	sip942Text  = "# SIP41.9-4-2SR3-1S RELEASE load version 9-4-2ES26\n#HARDWARE_COMP_1 5\n" +
		"jar41sip.9-4-2ES26.sbn\ncnu41.9-4-2ES26.sbn\napps41.9-4-2ES26.sbn\ndsp41.9-4-2ES26.sbn\ncvm41sip.9-4-2ES26.sbn\n"
)

var java942 = []string{"jar41sip.9-4-2ES26.sbn", "cnu41.9-4-2ES26.sbn", "apps41.9-4-2ES26.sbn", "dsp41.9-4-2ES26.sbn", "cvm41sip.9-4-2ES26.sbn"}

// firmwareFiles is a TFTP root's firmware: 7940/7960 SIP 8.12 and SCCP
// 8.1(2)SR2, 7941/7961 SIP 9.4(2)SR3 with its term files.
func firmwareFiles() map[string][]byte {
	f := map[string][]byte{
		"P0S3-8-12-00.loads":      loadsFile("P0S3-8-12-00.loads", 1, sip812Text),
		"P0030801SR02.loads":      loadsFile("P0030801SR02.loads", 2, sccpSR2Text),
		"SIP41.9-4-2SR3-1S.loads": loadsFile("SIP41.9-4-2SR3-1S.loads", 3, sip942Text),
		"term41.default.loads":    loadsFile("term41.default.loads", 4, sip942Text),
		"term61.default.loads":    loadsFile("term61.default.loads", 5, sip942Text),
	}
	for i, name := range append([]string{"P003-8-12-00.sbn", "P003-8-12-00.bin", "P0S3-8-12-00.sb2", "P0030801SR02.sbn", "P0030801SR02.sb2"}, java942...) {
		f[name] = randomBytes(700+i*611, uint64(100+i))
	}
	return f
}

func mac(i int) phone.MAC { return phone.MAC{0x00, 0x0e, 0x84, 0xc0, 0x60, byte(0xa6 + i)} }

func model(t *testing.T, name string) phone.Model {
	t.Helper()
	m, ok := phone.ModelByName(name)
	if !ok {
		t.Fatalf("no model %s", name)
	}
	return m
}

// sipStub is the SEP<MAC>.cnf.xml of a 7940/7960 on SIP (§2.3).
func sipStub(load string) []byte {
	return fmt.Appendf(nil, "<device><deviceProtocol>SIP</deviceProtocol>\n"+
		"<loadInformation model=\"IP Phone 7960\">%s</loadInformation></device>\n", load)
}

// javaSIP is a 79x1 SIP SEP<MAC>.cnf.xml (§2.3); the add-on module's load
// must not be taken for the phone's.
func javaSIP(load string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0"?>
<device>
  <deviceProtocol>SIP</deviceProtocol>
  <devicePool><callManagerGroup><members><member priority="0"><callManager>
    <ports><sipPort>5060</sipPort></ports><processNodeName>192.0.2.10</processNodeName>
  </callManager></member></members></callManagerGroup></devicePool>
  <loadInformation>%s</loadInformation>
  <addOnModules><addOnModule idx="1"><deviceType>7914</deviceType><loadInformation>S00105000400</loadInformation></addOnModule></addOnModules>
  <deviceSecurityMode>1</deviceSecurityMode>
</device>
`, load)
}

const sipDefault = `# SIPDefault.cnf
image_version: "P0S3-8-12-00" ; current
proxy1_address: 192.0.2.10
tftp_cfg_dir: "./"
dial_template: "dialplan"
`

func sipMAC(line string) []byte {
	return fmt.Appendf(nil, "line1_name: %s\nline1_authname: %s\nline1_password: \"secret\"\n", line, line)
}

// classicRoot is a root for 7960 SIP phones 0..n-1.
func classicRoot(n int) map[string][]byte {
	f := firmwareFiles()
	f["SIPDefault.cnf"] = []byte(sipDefault)
	f["RINGLIST.DAT"] = []byte("Piano 1\tPiano1.raw\n")
	f["dialplan.xml"] = []byte(`<DIALTEMPLATE><TEMPLATE MATCH="*" Timeout="5"/></DIALTEMPLATE>`)
	f["OS79XX.TXT"] = []byte("P003-8-12-00\r\n")
	for i := range n {
		f["SEP"+mac(i).Hex()+".cnf.xml"] = sipStub("P0S3-8-12-00")
		f["SIP"+mac(i).Hex()+".cnf"] = sipMAC(fmt.Sprint(1001 + i))
	}
	return f
}

type event struct {
	from netip.Addr
	file string
}

// startServer runs the real server over loopback UDP on a temp directory
// holding files, and records who asked for what. Requests for the names
// in refuse get an "access violation" error.
func startServer(t *testing.T, contents map[string][]byte, refuse ...string) (netip.AddrPort, string, func() []event) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range contents {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := files.OpenDir(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []event
	resolve := tftp.ResolverFunc(func(ctx context.Context, req *tftp.Request) (tftp.File, error) {
		if slices.Contains(refuse, req.Path) {
			return nil, tftp.Errorf(tftp.ErrAccessViolation, "refused by the test")
		}
		return d.Open(ctx, req.Path)
	})
	srv := &tftp.Server{Resolver: resolve, OnEvent: func(ev tftp.Event) {
		mu.Lock()
		events = append(events, event{ev.Remote.Addr(), ev.File})
		mu.Unlock()
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), conns[0])
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		d.Close()
	})
	seen := func() []event {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(events)
	}
	return conns[0].LocalAddr().(*net.UDPAddr).AddrPort(), dir, seen
}

func options(server netip.AddrPort, local string) Options {
	return Options{
		Server: server, Local: netip.MustParseAddr(local),
		Retry: 10 * time.Millisecond, MaxRequests: 40, MaxReboots: 4, Timeout: 20 * time.Second,
	}
}

// trace is the report's requests as "name result" lines.
func trace(r Report) []string {
	var s []string
	for _, q := range r.Requests {
		s = append(s, q.Name+" "+q.Result)
	}
	return s
}

func expect(t *testing.T, r Report, state, load string, reboots int, requests []string) {
	t.Helper()
	if r.State != state || r.Load != load || r.Reboots != reboots {
		t.Errorf("state %q, load %s, %d reboots; want %q, %s, %d", r.State, r.Load, r.Reboots, state, load, reboots)
	}
	if requests != nil && !slices.Equal(trace(r), requests) {
		t.Errorf("requests:\n  %s\nwant:\n  %s", strings.Join(trace(r), "\n  "), strings.Join(requests, "\n  "))
	}
}

// ual812 is a 7960's UAL boot on SIP 8.12 with everything in place: the
// order of the observed log (§1.2.1).
func ual812(m phone.MAC) []string {
	return []string{
		"CTLSEP" + m.Hex() + ".tlv not found",
		"SEP" + m.Hex() + ".cnf.xml ok",
		"P0S3-8-12-00.loads ok",
		"SIPDefault.cnf ok",
		"./SIP" + m.Hex() + ".cnf ok",
		"RINGLIST.DAT ok",
		"dialplan.xml ok",
	}
}

var flash812 = []string{"P003-8-12-00.sbn ok", "P0S3-8-12-00.sb2 ok"}

func TestClassicSIPCurrent(t *testing.T) {
	files := classicRoot(1)
	srv, _, _ := startServer(t, files)
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-8-12-00"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "up", "P0S3-8-12-00", 0, ual812(mac(0)))
	if r.Protocol != "SIP" || r.StartLoad != "P0S3-8-12-00" || r.Model != "7960" || r.MAC != mac(0) {
		t.Errorf("report %+v", r)
	}
	sum := sha256.Sum256(files["P0S3-8-12-00.loads"])
	if q := r.Requests[2]; q.Size != int64(len(files["P0S3-8-12-00.loads"])) || q.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf(".loads request %+v", q)
	}
	if got := string(r.Configs["./SIP"+mac(0).Hex()+".cnf"]); got != string(files["SIP"+mac(0).Hex()+".cnf"]) {
		t.Errorf("Configs[./SIP…] = %q", got)
	}
	if _, ok := r.Configs["P0S3-8-12-00.loads"]; ok || len(r.Configs) != 5 {
		t.Errorf("Configs has %d files, firmware included: %v", len(r.Configs), slices.Collect(mapKeys(r.Configs)))
	}
}

func mapKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestClassicSIPUpgrade(t *testing.T) {
	srv, _, _ := startServer(t, classicRoot(1))
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-07-2-00"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	want := append(ual812(mac(0))[:3], flash812...)
	want = append(want, ual812(mac(0))...)
	expect(t, r, "up", "P0S3-8-12-00", 1, want)
}

func TestClassicSIPImageVersion(t *testing.T) {
	// No SEP file: the SIP text configs drive the upgrade, and the phone's
	// own file overrides SIPDefault.cnf (§3.1).
	files := classicRoot(1)
	delete(files, "SEP"+mac(0).Hex()+".cnf.xml")
	files["SIPDefault.cnf"] = []byte("image_version: P0S3-08-11-00\ntftp_cfg_dir: ./\n")
	files["SIP"+mac(0).Hex()+".cnf"] = []byte("image_version: \"P0S3-8-12-00\"\nline1_name: 1001\n")
	srv, _, _ := startServer(t, files)
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-07-4-00"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	h := mac(0).Hex()
	boot := []string{"CTLSEP" + h + ".tlv not found", "SEP" + h + ".cnf.xml not found", "SIPDefault.cnf ok", "./SIP" + h + ".cnf ok"}
	want := append(slices.Clone(boot), "P0S3-8-12-00.loads ok")
	want = append(want, flash812...)
	want = append(want, boot...)
	want = append(want, "RINGLIST.DAT ok", "dialplan.xml ok")
	expect(t, r, "up", "P0S3-8-12-00", 1, want)
}

func xmlDefault() []byte {
	return []byte(`<Default>
<callManagerGroup><members><member priority="0"><callManager>
<ports><ethernetPhonePort>2000</ethernetPhonePort></ports><processNodeName>192.0.2.10</processNodeName>
</callManager></member></members></callManagerGroup>
<loadInformation7 model="IP Phone 7960">P0S3-8-12-00</loadInformation7>
<loadInformation8 model="IP Phone 7940">P0030801SR02</loadInformation8>
<loadInformation30018 model="IP Phone 7961">SIP41.9-4-2SR3-1S</loadInformation30018>
</Default>
`)
}

func TestClassicSCCP(t *testing.T) {
	// A 7940 on SCCP 8.1(2) without its own file: XMLDefault.cnf.xml's
	// loadInformation8 names 8.1(2)SR2 (§1.2.2, §2.2.1).
	files := firmwareFiles()
	files["XMLDefault.cnf.xml"] = xmlDefault()
	srv, _, _ := startServer(t, files)
	h := mac(0).Hex()
	boot := []string{"CTLSEP" + h + ".tlv not found", "SEP" + h + ".cnf.xml not found", "XMLDefault.cnf.xml ok", "P0030801SR02.loads ok"}
	want := append(slices.Clone(boot), "P0030801SR02.sbn ok", "P0030801SR02.sb2 ok")
	want = append(want, boot...)

	p := Phone{MAC: mac(0), Model: model(t, "7940"), Load: "P00308010200"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "up", "P0030801SR02", 1, want)
	if r.Protocol != "SCCP" {
		t.Errorf("protocol %s", r.Protocol)
	}

	// The same phone on SCCP 5.0(2) reads OS79XX.TXT first; same first
	// four characters: no protocol change, it reads its XML (§1.2).
	files["OS79XX.TXT"] = []byte("P0030801SR02\n")
	srv, _, _ = startServer(t, files)
	p.Load = "P00305000200"
	r = p.Boot(context.Background(), options(srv, "127.0.0.2"))
	old := []string{"OS79XX.TXT ok", "SEP" + h + ".cnf.xml not found", "XMLDefault.cnf.xml ok", "P0030801SR02.loads ok", "P0030801SR02.sbn ok", "P0030801SR02.sb2 ok"}
	expect(t, r, "up", "P0030801SR02", 1, append(old, boot...))
}

// sipDefaultNoImage is a SIPDefault.cnf that names no image: each phone's
// own file does, or nothing does.
const sipDefaultNoImage = `proxy1_address: 192.0.2.10
tftp_cfg_dir: "./"
dial_template: "dialplan"
`

// sip72Root is a root for 7960 phone 0 with the SIP 7.2 package
// (fwtest's, §4.2: P003-07-2-00.sbn loader, P0S3-07-2-00.sb2) besides
// 8.12, an OS79XX.TXT naming the 7.2 loader and a UAL stub naming 7.2:
// the seed page's SIP 6.3 → 7.2.
func sip72Root() map[string][]byte {
	f := classicRoot(1)
	maps.Copy(f, fwtest.LoadFiles("P0S3-07-2-00", 900, fwtest.Classic("P0S3-07-2-00")...))
	f["SIPDefault.cnf"] = []byte(sipDefaultNoImage)
	f["OS79XX.TXT"] = []byte("P003-07-2-00\r\n")
	f["SEP"+mac(0).Hex()+".cnf.xml"] = sipStub("P0S3-07-2-00")
	return f
}

// ual72 is the boot of phone 0 on SIP 7.2 with everything in place.
func ual72() []string {
	h := mac(0).Hex()
	return []string{
		"CTLSEP" + h + ".tlv not found", "SEP" + h + ".cnf.xml ok", "P0S3-07-2-00.loads ok",
		"SIPDefault.cnf ok", "./SIP" + h + ".cnf ok", "RINGLIST.DAT ok", "dialplan.xml ok",
	}
}

func TestOldSIPThroughLoader(t *testing.T) {
	// The seed page's SIP 6.3 → 7.2: OS79XX.TXT names the loader, the
	// phone gets it alone (no P003-….loads, no .bin: the .sbn), reboots on
	// the bare UAL, which finds the application through SEP<MAC>.cnf.xml.
	h := mac(0).Hex()
	sep := "SEP" + h + ".cnf.xml"
	start := []string{"OS79XX.TXT ok", "P003-07-2-00.loads not found", "P003-07-2-00.bin not found", "P003-07-2-00.sbn ok",
		"CTLSEP" + h + ".tlv not found"}
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-06-3-00"}

	srv, _, _ := startServer(t, sip72Root())
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	want := append(slices.Clone(start), sep+" ok", "P0S3-07-2-00.loads ok", "P003-07-2-00.sbn ok", "P0S3-07-2-00.sb2 ok")
	want = append(want, ual72()...)
	expect(t, r, "up", "P0S3-07-2-00", 2, want)

	// Changed on purpose (issue 11): an empty SEP<MAC>.cnf.xml on the
	// bare loader is "Protocol Application Invalid" at once, as on the
	// seed page, no more asking until the bound.
	files := sip72Root()
	files[sep] = nil
	srv, _, _ = startServer(t, files)
	r = p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "stuck: Protocol Application Invalid", "P003-07-2-00", 1, append(slices.Clone(start), sep+" ok"))

	// A <device> that names no load: nothing to install, the same.
	files[sep] = []byte("<device><deviceProtocol>SIP</deviceProtocol><loadInformation></loadInformation></device>")
	srv, _, _ = startServer(t, files)
	r = p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "stuck: Protocol Application Invalid", "P003-07-2-00", 1, append(slices.Clone(start), sep+" ok"))

	// No SEP<MAC>.cnf.xml at all: the bare loader asks for it again and
	// again (seed page), and reads nothing else.
	delete(files, sep)
	srv, _, _ = startServer(t, files)
	o := options(srv, "127.0.0.2")
	o.MaxRequests = 12
	r = p.Boot(context.Background(), o)
	expect(t, r, "stuck: "+sep+" loop", "P003-07-2-00", 1, append(slices.Clone(start), slices.Repeat([]string{sep + " not found"}, 7)...))

	// A trailing space in OS79XX.TXT: the phone asks for names with the
	// space in them (CSCdv19260, §3.3).
	files = sip72Root()
	files["OS79XX.TXT"] = []byte("P003-07-2-00 \r\n")
	srv, _, _ = startServer(t, files)
	r = p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "stuck: File not found P003-07-2-00 .bin", "P0S3-06-3-00", 0,
		[]string{"OS79XX.TXT ok", "P003-07-2-00 .loads not found", "P003-07-2-00 .bin not found", "P003-07-2-00 .sbn not found"})
}

func TestEmptySEPLoop(t *testing.T) {
	files := classicRoot(1)
	files["SEP"+mac(0).Hex()+".cnf.xml"] = []byte{}
	srv, _, _ := startServer(t, files)
	o := options(srv, "127.0.0.2")
	o.MaxRequests = 10
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-8-12-00"}
	r := p.Boot(context.Background(), o)
	expect(t, r, "stuck: SEP"+mac(0).Hex()+".cnf.xml loop", "P0S3-8-12-00", 0, nil)
	if len(r.Requests) != 10 {
		t.Errorf("%d requests", len(r.Requests))
	}
}

// java boot: the trust lists and the config file (§1.3).
func javaBoot(m phone.MAC) []string {
	return []string{
		"CTLSEP" + m.Hex() + ".tlv not found", "ITLSEP" + m.Hex() + ".tlv not found",
		"ITLFile.tlv not found", "SEP" + m.Hex() + ".cnf.xml ok",
	}
}

func javaRoot(n int) map[string][]byte {
	f := firmwareFiles()
	for i := range n {
		f["SEP"+mac(i).Hex()+".cnf.xml"] = javaSIP("SIP41.9-4-2SR3-1S")
	}
	return f
}

func javaFlash() []string {
	var s []string
	for _, c := range java942 {
		s = append(s, c+" ok")
	}
	return s
}

func TestJavaUpgrade(t *testing.T) {
	srv, _, _ := startServer(t, javaRoot(1))
	p := Phone{MAC: mac(0), Model: model(t, "7961"), Load: "SIP41.8-3-4S"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	want := append(javaBoot(mac(0)), "SIP41.9-4-2SR3-1S.loads ok")
	want = append(want, javaFlash()...)
	want = append(want, javaBoot(mac(0))...)
	expect(t, r, "up", "SIP41.9-4-2SR3-1S", 1, want)
}

func TestJavaMissingComponent(t *testing.T) {
	files := javaRoot(1)
	delete(files, "cnu41.9-4-2ES26.sbn")
	srv, _, _ := startServer(t, files)
	p := Phone{MAC: mac(0), Model: model(t, "7961"), Load: "SIP41.8-3-4S"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	want := append(javaBoot(mac(0)), "SIP41.9-4-2SR3-1S.loads ok", "jar41sip.9-4-2ES26.sbn ok", "cnu41.9-4-2ES26.sbn not found")
	expect(t, r, "stuck: File not found cnu41.9-4-2ES26.sbn", "SIP41.8-3-4S", 0, want)
}

func TestJavaUnprovisioned(t *testing.T) {
	srv, dir, _ := startServer(t, firmwareFiles())
	o := options(srv, "127.0.0.2")
	o.MaxRequests = 12
	p := Phone{MAC: mac(0), Model: model(t, "7961"), Load: "SIP41.9-4-2SR3-1S"}
	r := p.Boot(context.Background(), o)
	expect(t, r, "stuck: Unprovisioned", "SIP41.9-4-2SR3-1S", 0, nil)
	if len(r.Requests) != 12 {
		t.Errorf("%d requests, want the bound", len(r.Requests))
	}

	// Saving the file while it polls lets it go on (§1.3).
	sep := "SEP" + mac(0).Hex() + ".cnf.xml"
	polls := 0
	o.Log = func(line string) {
		if strings.Contains(line, sep+": not found") {
			if polls++; polls == 3 {
				os.WriteFile(filepath.Join(dir, sep), javaSIP("SIP41.9-4-2SR3-1S"), 0o644)
			}
		}
	}
	r = p.Boot(context.Background(), o)
	expect(t, r, "up", "SIP41.9-4-2SR3-1S", 0, nil)
	if n := len(r.Requests); n != 7 {
		t.Errorf("%d requests, want 3 trust lists + 4 SEP", n)
	}
}

func TestJavaSCCPDefault(t *testing.T) {
	// An SCCP 7961 without a file of its own reads XMLDefault.cnf.xml,
	// whose loadInformation30018 names a SIP load: once on SIP, the
	// missing file makes it an unprovisioned SIP phone (§1.3).
	files := firmwareFiles()
	files["XMLDefault.cnf.xml"] = xmlDefault()
	srv, _, _ := startServer(t, files)
	o := options(srv, "127.0.0.2")
	o.MaxRequests = 20
	p := Phone{MAC: mac(0), Model: model(t, "7961"), Load: "SCCP41.8-5-2S"}
	r := p.Boot(context.Background(), o)
	boot := javaBoot(mac(0))
	boot[3] = "SEP" + mac(0).Hex() + ".cnf.xml not found"
	want := append(slices.Clone(boot), "XMLDefault.cnf.xml ok", "SIP41.9-4-2SR3-1S.loads ok")
	want = append(want, javaFlash()...)
	want = append(want, boot...)
	want = append(want, slices.Repeat(boot[3:], 20-len(want))...)
	expect(t, r, "stuck: Unprovisioned", "SIP41.9-4-2SR3-1S", 1, want)
	if r.Protocol != "SIP" {
		t.Errorf("protocol %s", r.Protocol)
	}
}

func TestJavaFactoryReset(t *testing.T) {
	srv, _, _ := startServer(t, javaRoot(1))
	p := Phone{MAC: mac(0), Model: model(t, "7961"), Load: "SIP41.8-3-4S", FactoryReset: true}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	want := append([]string{"term61.default.loads ok"}, javaFlash()...)
	want = append(want, javaBoot(mac(0))...)
	want = append(want, "SIP41.9-4-2SR3-1S.loads ok")
	expect(t, r, "up", "SIP41.9-4-2SR3-1S", 1, want)
	if r.Protocol != "SIP" {
		t.Errorf("protocol %s", r.Protocol)
	}
}

func TestCTLLoop(t *testing.T) {
	h := mac(0).Hex()
	ctl := "CTLSEP" + h + ".tlv"
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-8-12-00", CTLLoop: true}

	// Never served: the phone asks until the bound.
	srv, _, _ := startServer(t, classicRoot(1))
	o := options(srv, "127.0.0.2")
	o.MaxRequests = 15
	r := p.Boot(context.Background(), o)
	expect(t, r, "stuck: "+ctl+" loop", "P0S3-8-12-00", 0, slices.Repeat([]string{ctl + " not found"}, 15))

	// An empty file moves it along.
	files := classicRoot(1)
	files[ctl] = nil
	srv, dir, _ := startServer(t, files)
	want := ual812(mac(0))
	want[0] = ctl + " ok"
	r = p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "up", "P0S3-8-12-00", 0, want)

	// Feb 2005: the empty file is fetched again and again …
	p.CTLLoop, p.CTLLoopEmpty = false, true
	o = options(srv, "127.0.0.2")
	o.MaxRequests = 8
	r = p.Boot(context.Background(), o)
	expect(t, r, "stuck: "+ctl+" loop", "P0S3-8-12-00", 0, slices.Repeat([]string{ctl + " ok"}, 8))

	// … until it is removed.
	served := 0
	o.MaxRequests = 40
	o.Log = func(line string) {
		if strings.Contains(line, ctl+": ok") {
			if served++; served == 3 {
				os.Remove(filepath.Join(dir, ctl))
			}
		}
	}
	r = p.Boot(context.Background(), o)
	want = append(slices.Repeat([]string{ctl + " ok"}, 3), ual812(mac(0))...)
	expect(t, r, "up", "P0S3-8-12-00", 0, want)
}

func TestRun(t *testing.T) {
	const n = 10
	files := classicRoot(n)
	for i := 1; i < n; i += 2 {
		files["SEP"+mac(i).Hex()+".cnf.xml"] = javaSIP("SIP41.9-4-2SR3-1S")
	}
	srv, _, seen := startServer(t, files)
	var phones []Phone
	for i := range n {
		p := Phone{MAC: mac(i), Model: model(t, "7960"), Load: "P0S3-07-2-00"}
		if i%2 == 1 {
			p = Phone{MAC: mac(i), Model: model(t, "7961"), Load: "SIP41.8-3-4S"}
		}
		phones = append(phones, p)
	}
	start := time.Now()
	reports := Run(context.Background(), phones, options(srv, "127.0.0.2"))
	t.Logf("%d phones up in %v", n, time.Since(start))
	from := map[string]netip.Addr{}
	for _, e := range seen() {
		if strings.HasPrefix(e.file, "SEP") {
			from[e.file] = e.from
		}
	}
	for i, r := range reports {
		want := "P0S3-8-12-00"
		if i%2 == 1 {
			want = "SIP41.9-4-2SR3-1S"
		}
		if r.MAC != mac(i) || r.State != "up" || r.Load != want || r.Reboots != 1 {
			t.Errorf("phone %d: %s %s %q %s, %d reboots", i, r.MAC, r.Model, r.State, r.Load, r.Reboots)
		}
		// A 7940/7960 never asks for an ITL file; a Java phone probes
		// ITLSEP<MAC>.tlv and ITLFile.tlv on every boot (§1.3): a server
		// may tell the families apart by it.
		itl := 0
		for _, q := range r.Requests {
			if strings.HasPrefix(q.Name, "ITL") {
				itl++
			}
		}
		if wantITL := 2 * (i % 2) * (1 + r.Reboots); itl != wantITL {
			t.Errorf("phone %d (%s): %d ITL requests, want %d", i, r.Model, itl, wantITL)
		}
		sep := "SEP" + mac(i).Hex() + ".cnf.xml"
		if got, want := from[sep], netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}); got != want {
			t.Errorf("phone %d asked for %s from %v, want %v", i, sep, got, want)
		}
	}
}

func TestTFTPError(t *testing.T) {
	// An error other than "file not found" is tried once more (§0.5 covers
	// only not found), then the phone gives up.
	srv, _, _ := startServer(t, classicRoot(1), "SIPDefault.cnf")
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-8-12-00"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	if !strings.HasPrefix(r.State, "stuck: TFTP error on SIPDefault.cnf: ") || !strings.Contains(r.State, "refused by the test") {
		t.Errorf("state %q", r.State)
	}
	got := trace(r)
	if len(got) != 5 || !strings.HasPrefix(got[3], "SIPDefault.cnf error: ") || got[4] != got[3] {
		t.Errorf("requests:\n  %s", strings.Join(got, "\n  "))
	}
}

func TestNotSimulated(t *testing.T) {
	p := Phone{MAC: mac(0), Model: model(t, "7912"), Load: "CP7912080000SIP060111A"}
	r := p.Boot(context.Background(), Options{Server: netip.MustParseAddrPort("127.0.0.1:9")})
	if !strings.HasPrefix(r.State, "stuck: 7912 phones") || len(r.Requests) != 0 {
		t.Errorf("state %q, %d requests", r.State, len(r.Requests))
	}
}
