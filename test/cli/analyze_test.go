package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/testutil"
)

// tcpdumpOn captures the loopback packets of filter into a pcap file
// until stop (or the test's end). tcpdump needs CAP_NET_RAW: as another
// user the test is skipped, and fails under PHONEBOOT_REQUIRE_INTEROP=1.
type tcpdumpOn struct {
	cmd    *exec.Cmd
	file   string
	stderr *syncBuffer
	done   chan error
}

func startTcpdump(t *testing.T, filter string) *tcpdumpOn {
	t.Helper()
	bin := testutil.Tool(t, "tcpdump")
	if os.Geteuid() != 0 {
		testutil.Unavailable(t, "capturing on lo needs root (CAP_NET_RAW)")
	}
	c := &tcpdumpOn{file: filepath.Join(t.TempDir(), "boot.pcap"), stderr: &syncBuffer{}, done: make(chan error, 1)}
	// --immediate-mode: each packet handed over at once (with TPACKET_V3
	// a stop loses the packets of the block not yet delivered); -U: and
	// written at once; -B: a 32 MB kernel buffer, so that a burst is not
	// dropped; -s 0: whole packets; -Z root: no privilege drop,
	// so the file in the test's directory can be written.
	c.cmd = exec.Command(bin, "-i", "lo", "-n", "--immediate-mode", "-B", "32768", "-U", "-s", "0", "-Z", "root", "-w", c.file, filter)
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() { c.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.stderr.String(), "listening on") {
		select {
		case err := <-c.done:
			c.done <- err
			testutil.Unavailable(t, "tcpdump could not capture on lo: %v: %s", err, c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start within 10s: %s", c.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// stop ends the capture and returns its file.
func (c *tcpdumpOn) stop(t *testing.T) string {
	t.Helper()
	if c.cmd.ProcessState != nil {
		return c.file
	}
	time.Sleep(200 * time.Millisecond) // the last packets reach the capture
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		t.Errorf("tcpdump did not stop within 10s")
	}
	t.Logf("tcpdump: %s", c.stderr.String())
	return c.file
}

type phoneRow struct {
	MAC, State, Model, IP, Load string
	Findings                    []struct{ Rule, Severity string }
}

type analyzed struct {
	Servers []struct {
		Addr     string
		Protocol string
		Port     int
		Requests int
	}
	Phones []struct {
		phoneRow
		Events []struct {
			Source, File, Outcome string
			Facts                 struct{ Server string }
		}
	}
	Damage *struct{ Packet int }
}

func rulesOf(r phoneRow) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Rule+"/"+f.Severity)
	}
	slices.Sort(out)
	return out
}

// TestAnalyzeRoundTrip: phones boot against phoneboot serve while
// tcpdump captures the loopback; every finding the live server raises
// (phones --json) is also raised by analyze --json on the capture: one
// rules engine, fed from the store or from the wire.
func TestAnalyzeRoundTrip(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	root := filepath.Join(data, "tftp")
	pkgs := t.TempDir()
	fwtest.Zip(t, filepath.Join(pkgs, "P0S3-8-12-00.zip"), fwtest.LoadFiles("P0S3-8-12-00", 1000, fwtest.Classic("P0S3-8-12-00")...))
	if code, out, errOut := runQuick(t, "firmware", "import", "--data", data, filepath.Join(pkgs, "P0S3-8-12-00.zip")); code != 0 {
		t.Fatalf("import: %s%s", out, errOut)
	}
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
[site.loads]
7960 = "P0S3-8-12-00"
[provision]
ctl_loop_requests = 3
`))
	m, _ := phone.ModelByName("7960")
	var phones []sim.Phone
	add := func(n int, quirk func(*sim.Phone)) {
		mac, _ := phone.ParseMAC(fmt.Sprintf("00:13:7F:14:00:%02X", n))
		p := sim.Phone{MAC: mac, Model: m, Load: "P0S3-8-12-00"}
		if quirk != nil {
			quirk(&p)
		}
		phones = append(phones, p)
	}
	add(1, nil)
	add(2, func(p *sim.Phone) { p.CTLLoop = true })                       // the seed page's CTL loop
	add(3, func(p *sim.Phone) { p.CTLLoop, p.CTLLoopEmpty = true, true }) // and its empty-file variation
	add(4, nil)                                                           // a load that is not there:
	fwtest.Write(t, root, phones[3].MAC.DeviceName()+".cnf.xml", []byte(`<device><deviceProtocol>SIP</deviceProtocol><loadInformation model="IP Phone 7960">P0S3-9-99-00</loadInformation></device>`))

	// A 7961 after a factory reset, with no term file for it (no target):
	// it booted once before, so its address is known.
	m61, _ := phone.ModelByName("7961")
	reset, _ := phone.ParseMAC("00:13:7F:14:00:06")
	phones = append(phones, sim.Phone{MAC: reset, Model: m61, Load: "SIP41.9-4-2SR3-1S", FactoryReset: true})

	curlBin := testutil.Tool(t, "curl")
	capture := startTcpdump(t, "net 127.0.14.0/24 and (udp or tcp)")
	_, port, httpAddr := serveHTTP(t, data)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := sim.Options{Server: server, Local: netip.MustParseAddr("127.0.14.2"), Retry: 20 * time.Millisecond, MaxRequests: 60, Timeout: 30 * time.Second}
	warm := phones[len(phones)-1]
	warm.FactoryReset = false
	wo := o
	wo.Local = netip.AddrFrom4([4]byte{127, 0, 14, byte(2 + len(phones) - 1)})
	warm.Boot(ctx, wo)
	sim.Run(ctx, phones, o)
	// A phone that fetches its config over HTTP on 6970.
	httpPhone := "00:13:7f:14:00:09"
	if got := curlHTTP(t, curlBin, "127.0.14.9", httpAddr, "SEP00137F140009.cnf.xml"); got.code != 200 {
		t.Fatalf("curl: %d", got.code)
	}
	file := capture.stop(t)

	// The live view, once every phone is in it.
	var live []phoneRow
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, stdout, stderr := runQuick(t, "phones", "--json", "--data", data)
		if code != 0 {
			t.Fatalf("phones: %s", stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &live); err != nil {
			t.Fatal(err)
		}
		if len(live) >= len(phones)+1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, stdout, stderr := runQuick(t, "analyze", "--json", "--data", data, "--tftp-port", strconv.Itoa(port), "--http-port", strconv.Itoa(int(httpAddr.Port())), file)
	if code != 0 {
		t.Fatalf("analyze: exit %d: %s", code, stderr)
	}
	var got analyzed
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	byMAC := map[string]phoneRow{}
	httpSeen := false
	for _, p := range got.Phones {
		byMAC[p.MAC] = p.phoneRow
		for _, ev := range p.Events {
			httpSeen = httpSeen || p.MAC == httpPhone && ev.Source == "http" && ev.File == "SEP00137F140009.cnf.xml" && ev.Outcome == "ok"
		}
	}
	if !httpSeen {
		t.Errorf("the HTTP request of %s is not in the analysis", httpPhone)
	}
	raised := map[string]bool{}
	for _, l := range live {
		a, ok := byMAC[l.MAC]
		if !ok {
			t.Errorf("%s (live: %s %v) is not in the analysis", l.MAC, l.State, rulesOf(l))
			continue
		}
		for _, r := range rulesOf(l) {
			raised[strings.Split(r, "/")[0]] = true
			if !slices.Contains(rulesOf(a), r) {
				_, out, _ := runQuick(t, "analyze", "--data", data, "--tftp-port", strconv.Itoa(port), "--phone", l.MAC, file)
				_, liveOut, _ := runQuick(t, "phones", "show", l.MAC, "--data", data)
				t.Logf("live:\n%s\ncapture:\n%s", liveOut, out)
				t.Errorf("%s: live finding %s not raised by analyze (analyze: %s %v)", l.MAC, r, a.State, rulesOf(a))
			}
		}
		if l.MAC == "00:13:7f:14:00:01" && (l.Load != "P0S3-8-12-00" || a.Load != l.Load) {
			t.Errorf("%s: live load %q, capture %q: the capture shows the load it runs", l.MAC, l.Load, a.Load)
		}
		if l.State != a.State {
			t.Logf("%s: live state %q, capture %q", l.MAC, l.State, a.State)
		}
	}
	// The scenarios did raise what they are about.
	for _, r := range []string{"ctl-loop", "missing-file", "missing-term-file"} {
		if !raised[r] {
			t.Errorf("no phone raised %s live: %+v", r, live)
		}
	}
	if len(got.Servers) != 2 || got.Servers[0].Addr != "127.0.0.1" || got.Servers[0].Port != port || got.Servers[1].Protocol != "http" {
		t.Errorf("servers: %+v", got.Servers)
	}

	// The table and a phone's timeline, as people read them.
	code, stdout, _ = runQuick(t, "analyze", "--data", data, "--tftp-port", strconv.Itoa(port), file)
	if code != 0 || !strings.Contains(stdout, "MAC  ") || !strings.Contains(stdout, "CTLSEP00137F140002.tlv") {
		t.Errorf("analyze table: exit %d\n%s", code, stdout)
	}
}

// TestAnalyzeForeignServer: a phone boots from dnsmasq, a TFTP server
// that is not phoneboot; the analysis names that server and the phone's
// files it did not have.
func TestAnalyzeForeignServer(t *testing.T) {
	dnsmasq := testutil.Tool(t, "dnsmasq")
	root := t.TempDir()
	// dnsmasq serves TFTP on port 69 only: an address of the loopback
	// whose port 69 is free.
	addr := ""
	for _, a := range []string{"127.0.14.100", "127.0.14.101", "127.0.14.102"} {
		if udpFree(a + ":69") {
			addr = a
			break
		}
	}
	if addr == "" {
		testutil.Unavailable(t, "port 69 is busy on 127.0.14.100-102")
	}
	if err := os.WriteFile(filepath.Join(root, "SEP00137F140010.cnf.xml"), []byte(`<device><loadInformation model="IP Phone 7960">P0S3-9-99-00</loadInformation></device>`), 0o644); err != nil {
		t.Fatal(err)
	}
	capture := startTcpdump(t, "udp and net 127.0.14.0/24")
	var logs bytes.Buffer
	cmd := exec.Command(dnsmasq, "-d", "--port=0", "--enable-tftp", "--tftp-root="+root, "--listen-address="+addr,
		"--bind-interfaces", "--user=root", "--conf-file=/dev/null", "--log-facility=-")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for udpFree(addr+":69") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	m, _ := phone.ModelByName("7960")
	mac, _ := phone.ParseMAC("00:13:7F:14:00:10")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := sim.Phone{MAC: mac, Model: m, Load: "P0S3-8-12-00"}
	p.Boot(ctx, sim.Options{Server: netip.AddrPortFrom(netip.MustParseAddr(addr), 69), Local: netip.MustParseAddr("127.0.14.20"), Retry: 20 * time.Millisecond, MaxRequests: 30, Timeout: 20 * time.Second})
	file := capture.stop(t)

	code, stdout, stderr := runQuick(t, "analyze", "--json", "--data", t.TempDir(), file)
	if code != 0 {
		t.Fatalf("analyze: exit %d: %s", code, stderr)
	}
	var got analyzed
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Servers) != 1 || got.Servers[0].Addr != addr || got.Servers[0].Port != 69 || got.Servers[0].Requests == 0 {
		t.Fatalf("servers: %+v (dnsmasq: %s)", got.Servers, logs.String())
	}
	if len(got.Phones) != 1 || got.Phones[0].MAC != mac.String() {
		t.Fatalf("phones: %+v", got.Phones)
	}
	ph := got.Phones[0]
	for _, ev := range ph.Events {
		if ev.Source == "tftp" && ev.Facts.Server != addr {
			t.Errorf("event %+v: server %q, want dnsmasq's %s", ev, ev.Facts.Server, addr)
		}
	}
	if !slices.Contains(rulesOf(ph.phoneRow), "missing-file/error") {
		t.Errorf("findings %v (the config names a load dnsmasq does not have)", rulesOf(ph.phoneRow))
	}
	code, stdout, _ = runQuick(t, "analyze", "--data", t.TempDir(), file)
	if code != 0 || !strings.Contains(stdout, "TFTP server "+addr+" port 69") {
		t.Errorf("analyze does not name dnsmasq:\n%s", stdout)
	}
}

// TestAnalyzeDamaged: a capture cut short is analysed up to the cut;
// analyze says where and exits non-zero.
func TestAnalyzeDamaged(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cut.pcap")
	// A pcap header, one whole packet record, then half a record.
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	rec := []byte{1, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 14, 0, 0, 0}
	frame := make([]byte, 14)
	b := append(append(append(hdr, rec...), frame...), rec[:10]...)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runQuick(t, "analyze", "--data", t.TempDir(), file)
	if code == 0 || !strings.Contains(stderr, "damaged at packet 2 (byte 54)") || !strings.Contains(stdout, "1 packets") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, _, stderr = runQuick(t, "analyze", "--data", t.TempDir(), filepath.Join(t.TempDir(), "missing.pcap"))
	if code == 0 || !strings.Contains(stderr, "cannot open the capture") {
		t.Errorf("missing file: exit %d: %s", code, stderr)
	}
}

// udpFree reports whether a UDP address can be bound now.
func udpFree(addr string) bool {
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestAnalyzeStaleServerARP: a phone in a network namespace keeps a TFTP
// server address nobody has on its segment; its kernel ARPs for it
// again and again, tcpdump on the other end of the veth captures that,
// and analyze names the address (arp-unanswered), the phone by the MAC
// its frames come from.
func TestAnalyzeStaleServerARP(t *testing.T) {
	n := testutil.Netns(t)
	tcpdump := testutil.Tool(t, "tcpdump")
	mac := "00:13:7f:14:00:20"
	n.Exec(t, "ip", "link", "set", "dev", n.Peer, "address", mac)
	phoneIP, stale := n.Addr(20), n.Addr(99)
	n.Exec(t, "ip", "addr", "add", netip.PrefixFrom(phoneIP, 24).String(), "dev", n.Peer)
	file := filepath.Join(t.TempDir(), "stale.pcap")
	var td syncBuffer
	dump := exec.Command(tcpdump, "-i", n.Host, "-n", "--immediate-mode", "-U", "-s", "0", "-Z", "root", "-w", file, "arp or udp")
	dump.Stderr = &td
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	capDone := make(chan struct{})
	go func() { dump.Wait(); close(capDone) }()
	t.Cleanup(func() { dump.Process.Kill(); <-capDone })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(td.String(), "listening on") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// The phone asks the stale server for its CTL file; nothing answers
	// its ARP, so no request even leaves it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sim := n.Command(ctx, binary, "sim", "--server", netip.AddrPortFrom(stale, 69).String(), "--local", phoneIP.String(),
		"--mac", mac, "--timeout", "4s", "--retry", "500ms")
	out, _ := sim.CombinedOutput()
	dump.Process.Signal(syscall.SIGINT)
	select {
	case <-capDone:
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not stop")
	}
	code, stdout, stderr := runQuick(t, "analyze", "--json", "--data", t.TempDir(), file)
	if code != 0 {
		t.Fatalf("analyze: exit %d: %s", code, stderr)
	}
	var got analyzed
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	for _, p := range got.Phones {
		if p.MAC == mac && slices.Contains(rulesOf(p.phoneRow), "arp-unanswered/error") {
			return
		}
	}
	t.Errorf("no arp-unanswered finding for %s asking for %s:\n%s\nsim: %s\ntcpdump: %s", mac, stale, stdout, out, td.String())
}
