package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/testutil"
)

const httpInventory = `[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"

[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"

[[phone]]
mac = "00:13:7F:00:03:01"
model = "7960"
ip = "127.0.0.41"
running_load = "P0S3-8-12-00"
  [[phone.line]]
  extension = "301"
  password = "http-alpha"

[[phone]]
mac = "00:1E:4A:00:03:02"
model = "7961"
ip = "127.0.0.42"
running_load = "SIP41.9-4-2SR3-1S"
  [[phone.line]]
  extension = "302"
  password = "httpbeta"
`

// serveHTTP starts serve with the phones' HTTP service on a free loopback
// port and returns it, the TFTP port and the HTTP address.
func serveHTTP(t *testing.T, data string, extra ...string) (*proc, int, netip.AddrPort) {
	t.Helper()
	p, port, _ := serveData(t, data, append([]string{"--http-addr", "127.0.0.1:0", "--admin-addr", "", "--syslog-addr", ""}, extra...)...)
	return p, port, p.listenAddr(t, "phone HTTP listening", 10*time.Second)
}

// httpGot is one curl exchange.
type httpGot struct {
	code    int
	body    []byte
	headers string // as received, lower-cased
}

// curlHTTP runs curl over HTTP from the source address from (the phone
// there) with extra arguments, and returns what it got.
func curlHTTP(t *testing.T, bin string, from string, srv netip.AddrPort, name string, args ...string) httpGot {
	t.Helper()
	dir := t.TempDir()
	hdr, out := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"-sS", "--interface", from, "-D", hdr, "-o", out, "-w", "%{http_code}"}, args...)
	args = append(args, fmt.Sprintf("http://%s/%s", srv, name))
	b, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
	}
	code, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	body, _ := os.ReadFile(out)
	h, _ := os.ReadFile(hdr)
	return httpGot{code: code, body: body, headers: strings.ToLower(string(h))}
}

// TestPhoneHTTPMatchesTFTP fetches every file two phones get, generated
// ones and firmware from the TFTP root and from the catalog, with curl
// over HTTP and over TFTP from each phone's own address: the same bytes.
// Then HEAD, ranges, reasons for 404, the identity policy and the
// phone's timeline.
func TestPhoneHTTPMatchesTFTP(t *testing.T) {
	curlBin := testutil.Tool(t, "curl")
	data := filepath.Join(t.TempDir(), "data")
	root := filepath.Join(data, "tftp")
	fwtest.WriteLoad(t, root, "P0S3-8-12-00", 200000, fwtest.Classic("P0S3-8-12-00")...)
	javaComps := fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")
	pkg := fwtest.LoadFiles("SIP41.9-4-2SR3-1S", 150000, javaComps...)
	pkg["term61.default.loads"] = fwtest.TermFile("61", "SIP41.9-4-2SR3-1S", javaComps...)
	zip := filepath.Join(t.TempDir(), "cmterm-7961-sip.9-4-2ES26.zip")
	fwtest.Zip(t, zip, pkg)
	// The 8.5(2) a 79x1 of unknown load must run first (§4.4): its
	// package's term61.default.loads is what a factory-reset 7961 gets.
	oldComps := fwtest.Java("SIP41.8-5-2S", "8-5-2TH1-9")
	oldPkg := fwtest.LoadFiles("SIP41.8-5-2S", 1000, oldComps...)
	oldPkg["term61.default.loads"] = fwtest.TermFile("61", "SIP41.8-5-2S", oldComps...)
	oldZip := filepath.Join(t.TempDir(), "cmterm-7961-sip.8-5-2TH1-9.zip")
	fwtest.Zip(t, oldZip, oldPkg)
	if code, stdout, stderr := runQuick(t, "firmware", "import", "--data", data, zip, oldZip); code != 0 {
		t.Fatalf("firmware import: %d\n%s%s", code, stdout, stderr)
	}
	fwtest.Write(t, data, "phoneboot.toml", []byte(httpInventory))
	_, port, srv := serveHTTP(t, data)

	const a, b = "127.0.0.41", "127.0.0.42"
	files := map[string][]string{
		a: append([]string{"SEP00137F000301.cnf.xml", "SIP00137F000301.cnf", "SIPDefault.cnf", "XMLDefault.cnf.xml", "OS79XX.TXT",
			"P0S3-8-12-00.loads"}, fwtest.Classic("P0S3-8-12-00")...),
		b: append([]string{"SEP001E4A000302.cnf.xml", "XMLDefault.cnf.xml", "term61.default.loads", "SIP41.9-4-2SR3-1S.loads"}, javaComps...),
	}
	for _, from := range []string{a, b} {
		for _, name := range files[from] {
			got := curlHTTP(t, curlBin, from, srv, name)
			out := filepath.Join(t.TempDir(), "tftp")
			if err := curlFrom(t, curlBin, netip.MustParseAddr(from), port, name, out); err != nil {
				t.Fatalf("%s over TFTP from %s: %v", name, from, err)
			}
			want, _ := os.ReadFile(out)
			if got.code != 200 || len(want) == 0 || !bytes.Equal(got.body, want) {
				t.Errorf("%s from %s: HTTP %d with %d bytes, TFTP %d bytes, equal %v", name, from, got.code, len(got.body), len(want), bytes.Equal(got.body, want))
			}
			if !strings.Contains(got.headers, fmt.Sprintf("content-length: %d\r\n", len(want))) {
				t.Errorf("%s: headers lack the right Content-Length (%d):\n%s", name, len(want), got.headers)
			}
		}
	}

	// HEAD, and ranges of a catalog file (which has a Last-Modified).
	comp := javaComps[2]
	whole := pkg[comp]
	head := curlHTTP(t, curlBin, b, srv, comp, "-I") // curl -I writes the headers as its output
	if head.code != 200 || !strings.Contains(head.headers, "content-length: 150000\r\n") ||
		!strings.Contains(head.headers, "last-modified: ") || !strings.Contains(head.headers, "accept-ranges: bytes") {
		t.Errorf("HEAD %s: %d:\n%s", comp, head.code, head.headers)
	}
	for _, c := range []struct {
		rng      string
		from, to int
	}{{"0-99", 0, 100}, {"70000-70999", 70000, 71000}, {"-256", 150000 - 256, 150000}} {
		got := curlHTTP(t, curlBin, b, srv, comp, "-r", c.rng)
		if got.code != 206 || !bytes.Equal(got.body, whole[c.from:c.to]) ||
			!strings.Contains(got.headers, fmt.Sprintf("content-range: bytes %d-%d/150000", c.from, c.to-1)) {
			t.Errorf("range %s: %d, %d bytes:\n%s", c.rng, got.code, len(got.body), got.headers)
		}
	}
	if got := curlHTTP(t, curlBin, b, srv, comp, "-r", "900000-"); got.code != 416 || !strings.Contains(string(got.body), "outside the file (150000 bytes)") {
		t.Errorf("unsatisfiable range: %d %q", got.code, got.body)
	}

	// Names not there get 404 with the reason.
	for name, says := range map[string]string{
		"RINGLIST.DAT":                "no ring tones",
		"SEP00137F000301.cnf.xml.sgn": "phoneboot does not sign configs",
		"CTLSEP00137F000301.tlv":      "no security",
		"nothing.bin":                 "nothing.bin is not in the TFTP root",
	} {
		if got := curlHTTP(t, curlBin, a, srv, name); got.code != 404 || !strings.Contains(string(got.body), says) {
			t.Errorf("%s: %d %q, want 404 saying %q", name, got.code, got.body, says)
		}
	}

	// Phone A's file from phone B's address: refused like over TFTP.
	got := curlHTTP(t, curlBin, b, srv, "SIP00137F000301.cnf")
	if got.code != 404 || strings.Contains(string(got.body), "http-alpha") || !strings.Contains(string(got.body), "only to its own address") {
		t.Errorf("phone A's SIP file from phone B's address: %d %q", got.code, got.body)
	}
	if err := curlFrom(t, curlBin, netip.MustParseAddr(b), port, "SIP00137F000301.cnf", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("phone A's SIP file from phone B's address over TFTP: served")
	}
	curlHTTP(t, curlBin, b, srv, "P0S3-07-4-00.loads") // what a phone told to downgrade would ask
	if got := curlHTTP(t, curlBin, a, srv, "SIP00137F000301.cnf"); !strings.Contains(string(got.body), "http-alpha") {
		t.Errorf("phone A's own file from its address after the foreign requests: %d %q", got.code, got.body)
	}

	// The fetches are in the phones' timelines, over http.
	var show string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, show, _ = runQuick(t, "phones", "show", "00:13:7F:00:03:01", "--data", data)
		if strings.Contains(show, "over http") && strings.Contains(show, "P0S3-8-12-00.sb2") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{`ip 127\.0\.0\.41`, `load P0S3-8-12-00 `, `http +ok +127\.0\.0\.41 +P0S3-8-12-00\.sb2`,
		`http +ok +127\.0\.0\.41 +SIP00137F000301\.cnf`, `foreign +127\.0\.0\.42 +SIP00137F000301\.cnf`} {
		if !regexp.MustCompile(want).MatchString(show) {
			t.Errorf("phones show of phone A lacks %s:\n%s", want, show)
		}
	}
	_, showB, _ := runQuick(t, "phones", "show", "001E4A000302", "--data", data)
	for _, want := range []string{`http +partial +127\.0\.0\.42 +` + regexp.QuoteMeta(comp), `http +probe +127\.0\.0\.42 +` + regexp.QuoteMeta(comp)} {
		if !regexp.MustCompile(want).MatchString(showB) {
			t.Errorf("phones show of phone B lacks %s:\n%s", want, showB)
		}
	}
}

// TestPhoneHTTPRateLimit: --tftp-rate limits HTTP requests per address
// too, answered 429 with Retry-After and the reason; --http-addr "" turns
// the service off.
func TestPhoneHTTPRateLimit(t *testing.T) {
	curlBin := testutil.Tool(t, "curl")
	_, _, srv := serveHTTP(t, filepath.Join(t.TempDir(), "data"), "--tftp-rate", "1", "--tftp-burst", "2")
	var got httpGot
	for range 4 {
		got = curlHTTP(t, curlBin, "127.0.0.43", srv, "XMLDefault.cnf.xml")
	}
	if got.code != 429 || !strings.Contains(got.headers, "retry-after: 1\r\n") ||
		!strings.Contains(string(got.body), "too many requests from 127.0.0.43: the limit is 1 per second") {
		t.Errorf("over the limit: %d %q\n%s", got.code, got.body, got.headers)
	}
	if got := curlHTTP(t, curlBin, "127.0.0.44", srv, "XMLDefault.cnf.xml"); got.code != 200 {
		t.Errorf("another address: %d %q", got.code, got.body)
	}

	p, _, _ := serveData(t, filepath.Join(t.TempDir(), "data"), "--http-addr", "", "--admin-addr", "", "--syslog-addr", "")
	time.Sleep(300 * time.Millisecond)
	if log := p.stderr.String(); strings.Contains(log, "phone HTTP") {
		t.Errorf("--http-addr \"\" still serves HTTP:\n%s", log)
	}
}
