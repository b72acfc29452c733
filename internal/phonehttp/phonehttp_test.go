package phonehttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/files"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonetftp"
	"phoneboot/internal/provision"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// Phone A runs its target; phone B has still to fetch it. Each has its
// own address (inventory ip), as the identity policy wants.
const inventory = `[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"

[site.loads]
7960 = "P0S3-8-12-00"

[[phone]]
mac = "00:13:7F:00:02:01"
model = "7960"
ip = "127.0.0.21"
running_load = "P0S3-8-12-00"
  [[phone.line]]
  extension = "201"
  password = "alpha-secret"

[[phone]]
mac = "00:13:7F:00:02:02"
model = "7960"
ip = "127.0.0.22"
  [[phone.line]]
  extension = "202"
  password = "beta-secret"
`

const (
	addrA, addrB, stranger = "127.0.0.21", "127.0.0.22", "127.0.0.66"
	load                   = "P0S3-8-12-00"
)

var macA, macB = mustMAC("00:13:7F:00:02:01"), mustMAC("00:13:7F:00:02:02")

func mustMAC(s string) phone.MAC {
	m, err := phone.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// fixture is one provisioner served over HTTP and TFTP on loopback, as
// serve runs them.
type fixture struct {
	t    *testing.T
	root string // the TFTP root
	prov *provision.Provisioner
	svc  *Service
	http string         // host:port
	tftp netip.AddrPort // the TFTP server
	mu   sync.Mutex
	evs  []event.Event
}

func newFixture(t *testing.T, set func(*Service)) *fixture {
	t.Helper()
	root := t.TempDir()
	fwtest.WriteLoad(t, root, load, 300000, fwtest.Classic(load)...)
	fwtest.Write(t, root, "big.bin", fwtest.Random("big.bin", 24<<20))
	fwtest.Write(t, root, "sub/inner.txt", []byte("inner"))
	dir, err := files.OpenDir(root, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	f := &fixture{t: t, root: root}
	f.prov, err = provision.New(provision.Options{Root: root, Files: dir, Templates: filepath.Join(t.TempDir(), "templates"), OnEvent: f.record})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("phoneboot.toml", []byte(inventory))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.prov.Update(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	f.svc = &Service{Prov: f.prov, Record: f.record}
	if set != nil {
		set(f.svc)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.svc, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.http = ln.Addr().String()

	tsvc := &phonetftp.Service{Prov: f.prov, Record: f.record}
	ts := &tftp.Server{Resolver: tsvc, OnEvent: tsvc.Transferred}
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.tftp = conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	go ts.Serve(ctx, conns[0])
	return f
}

func (f *fixture) record(ev event.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evs = append(f.evs, ev)
}

// waitEvent waits (at most 5s) for an event that match accepts.
func (f *fixture) waitEvent(match func(event.Event) bool) event.Event {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, ev := range f.evs {
			if match(ev) {
				f.mu.Unlock()
				return ev
			}
		}
		f.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("no such event within 5s; have %+v", f.events())
	return event.Event{}
}

func (f *fixture) events() []event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event.Event(nil), f.evs...)
}

// client is an HTTP client whose connections come from the address from,
// as the phone there.
func (f *fixture) client(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, DisableCompression: true}
	f.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// get does method on name from the address from, with header lines
// "Key: value".
func (f *fixture) get(from, method, name string, header ...string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, "http://"+f.http+"/"+name, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := f.client(from).Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, b
}

// tftpGet fetches name over TFTP from the address from, with windowsize.
func (f *fixture) tftpGet(from, name string) ([]byte, error) {
	c := tftptest.Client{Server: f.tftp, Local: netip.MustParseAddr(from), Blksize: 1428, Windowsize: 8, Timeout: 300 * time.Millisecond, Retries: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b bytes.Buffer
	_, err := c.Get(ctx, name, &b)
	return b.Bytes(), err
}

// raw sends a request line as given (no client cleans it) and returns
// the answer.
func (f *fixture) raw(from, line string) (*http.Response, string) {
	f.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", f.http)
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%s\r\nHost: phoneboot\r\nConnection: close\r\n\r\n", line)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		f.t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSameBytesAsTFTP(t *testing.T) {
	f := newFixture(t, nil)
	names := []string{"SEP00137F000201.cnf.xml", "SIP00137F000201.cnf", "XMLDefault.cnf.xml", "SIPDefault.cnf",
		"OS79XX.TXT", load + ".loads"}
	names = append(names, fwtest.Classic(load)...)
	for _, name := range names {
		resp, body := f.get(addrA, "GET", name)
		want, err := f.tftpGet(addrA, name)
		if err != nil {
			t.Fatalf("%s over TFTP: %v", name, err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) || len(want) == 0 {
			t.Errorf("%s: HTTP %d with %d bytes, TFTP %d bytes, equal %v", name, resp.StatusCode, len(body), len(want), bytes.Equal(body, want))
		}
		if resp.ContentLength != int64(len(want)) {
			t.Errorf("%s: Content-Length %d, want %d", name, resp.ContentLength, len(want))
		}
		wantType := "application/octet-stream"
		if strings.HasSuffix(strings.ToLower(name), ".xml") {
			wantType = "text/xml"
		}
		if ct := resp.Header.Get("Content-Type"); ct != wantType {
			t.Errorf("%s: Content-Type %q, want %q", name, ct, wantType)
		}
	}
	if _, b := f.get(addrA, "GET", "SIP00137F000201.cnf"); !strings.Contains(string(b), "alpha-secret") {
		t.Errorf("phone A's own file lacks its password:\n%s", b)
	}
	// Every whole download is in phone A's timeline, over "http".
	ev := f.waitEvent(func(ev event.Event) bool { return ev.Source == event.HTTP && ev.File == load+".sb2" })
	if ev.MAC != macA || ev.Kind != event.Request || ev.Outcome != event.OK || ev.Bytes != 300000 || ev.IP.String() != addrA {
		t.Errorf("event of %s.sb2: %+v", load, ev)
	}
}

func TestHeadAndRanges(t *testing.T) {
	f := newFixture(t, nil)
	comp := load + ".sb2"
	whole := fwtest.Random(comp, 300000)

	resp, body := f.get(addrA, "HEAD", comp)
	if resp.StatusCode != 200 || resp.ContentLength != 300000 || len(body) != 0 || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %d, Content-Length %d, %d bytes of body, Accept-Ranges %q", resp.StatusCode, resp.ContentLength, len(body), resp.Header.Get("Accept-Ranges"))
	}
	f.waitEvent(func(ev event.Event) bool { return ev.File == comp && ev.Outcome == event.Probe })

	for _, c := range []struct {
		rng          string
		from, to     int
		contentRange string
	}{
		{"bytes=0-99", 0, 100, "bytes 0-99/300000"},
		{"bytes=1000-1999", 1000, 2000, "bytes 1000-1999/300000"},
		{"bytes=-500", 299500, 300000, "bytes 299500-299999/300000"},
		{"bytes=299990-", 299990, 300000, "bytes 299990-299999/300000"},
	} {
		resp, body := f.get(addrA, "GET", comp, "Range: "+c.rng)
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, whole[c.from:c.to]) ||
			resp.Header.Get("Content-Range") != c.contentRange || resp.ContentLength != int64(c.to-c.from) {
			t.Errorf("Range %s: %d, Content-Range %q, Content-Length %d, %d bytes (right ones: %v)", c.rng, resp.StatusCode,
				resp.Header.Get("Content-Range"), resp.ContentLength, len(body), bytes.Equal(body, whole[c.from:c.to]))
		}
	}
	resp, body = f.get(addrA, "GET", comp, "Range: bytes=400000-")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != "bytes */300000" ||
		!strings.Contains(string(body), "outside the file (300000 bytes)") {
		t.Errorf("unsatisfiable range: %d, Content-Range %q, %q", resp.StatusCode, resp.Header.Get("Content-Range"), body)
	}
	ev := f.waitEvent(func(ev event.Event) bool { return ev.File == comp && ev.Outcome == event.Partial })
	if ev.MAC != macA || ev.Bytes != 100 || ev.Source != event.HTTP {
		t.Errorf("partial event: %+v", ev)
	}
	// A range that is the whole file is a download like any other.
	loader := fwtest.Classic(load)[0]
	if resp, body := f.get(addrA, "GET", loader, "Range: bytes=0-"); resp.StatusCode != http.StatusPartialContent || len(body) != 300000 {
		t.Errorf("Range bytes=0-: %d, %d bytes", resp.StatusCode, len(body))
	}
	f.waitEvent(func(ev event.Event) bool { return ev.File == loader && ev.Outcome == event.OK && ev.Bytes == 300000 })
}

// A firmware file fetched in parts is not a file the phone has: only
// whole downloads teach provision that phone B now runs the load, as
// complete TFTP transfers do.
func TestRangesDoNotCompleteALoad(t *testing.T) {
	f := newFixture(t, nil)
	if resp, _ := f.get(addrB, "GET", load+".loads"); resp.StatusCode != 200 {
		t.Fatalf("%s.loads: %d", load, resp.StatusCode)
	}
	for _, c := range fwtest.Classic(load) {
		for _, rng := range []string{"bytes=0-149999", "bytes=150000-"} {
			if resp, _ := f.get(addrB, "GET", c, "Range: "+rng); resp.StatusCode != http.StatusPartialContent {
				t.Fatalf("%s %s: %d", c, rng, resp.StatusCode)
			}
		}
	}
	f.get(addrB, "GET", "SIPDefault.cnf")
	time.Sleep(100 * time.Millisecond) // the reports of the transfers
	if got := f.prov.Running(macB); got != "" {
		t.Fatalf("after ranges only, phone B runs %q; want nothing learned", got)
	}
	f.get(addrB, "GET", load+".loads")
	for _, c := range fwtest.Classic(load) {
		f.get(addrB, "GET", c)
	}
	f.waitEvent(func(ev event.Event) bool { return ev.Kind == event.Load && ev.MAC == macB })
	if got := f.prov.Running(macB); got != load {
		t.Fatalf("after whole downloads, phone B runs %q; want %s", got, load)
	}
}

func TestNamesRefusedInWords(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		line   string
		status int
		says   string
	}{
		{"GET / HTTP/1.1", 404, "no file named"},
		{"GET /sub/ HTTP/1.1", 404, "is a directory in the TFTP root, not a file"},
		{"GET /sub HTTP/1.1", 404, "is a directory in the TFTP root, not a file"},
		{"GET /../etc/passwd HTTP/1.1", 400, `must not contain ".."`},
		{"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1", 400, `must not contain ".."`},
		{`GET /sub\..\..\secret HTTP/1.1`, 400, `must not contain ".."`},
		{"GET /sub%5c..%5c..%5csecret HTTP/1.1", 400, `must not contain ".."`},
		{"GET /a%00b HTTP/1.1", 400, "control character 0x00"},
		{"GET /SEP00137F000201.cnf.xml?x=../../etc HTTP/1.1", 400, "no query string"},
		{"GET /SEP00137F000201.cnf.xml? HTTP/1.1", 400, "no query string"},
		{"GET /" + strings.Repeat("a", 300) + " HTTP/1.1", 400, "the limit is 255"},
		{"GET /nothing-here.bin HTTP/1.1", 404, "nothing-here.bin is not in the TFTP root"},
		{"GET /SEP00137F000201.cnf.xml.sgn HTTP/1.1", 404, "phoneboot does not sign configs"},
		{"GET /CTLSEP00137F000201.tlv HTTP/1.1", 404, "no security"},
		{"POST /SEP00137F000201.cnf.xml HTTP/1.1", 405, "GET their files"},
		{"DELETE /x HTTP/1.1", 405, "GET their files"},
	} {
		resp, body := f.raw(addrA, c.line)
		if resp.StatusCode != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.line, resp.StatusCode, body, c.status, c.says)
		}
		if c.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", c.line, resp.Header.Get("Allow"))
		}
		if strings.Contains(body, "root:") || strings.Contains(body, "inner.txt") {
			t.Errorf("%s: answer shows a file or a listing: %q", c.line, body)
		}
	}
	// A sub-folder file named in full is served, like over TFTP.
	if resp, body := f.raw(addrA, "GET /sub/inner.txt HTTP/1.1"); resp.StatusCode != 200 || body != "inner" {
		t.Errorf("sub/inner.txt: %d %q", resp.StatusCode, body)
	}
}

// Phone A's file asked from phone B's address and from a stranger's is
// refused as over TFTP, with nothing of A changed.
func TestIdentityPolicy(t *testing.T) {
	f := newFixture(t, nil)
	before, _ := f.prov.Book().Get(macA)
	for _, from := range []string{addrB, stranger} {
		for _, name := range []string{"SIP00137F000201.cnf", "SEP00137F000201.cnf.xml"} {
			resp, body := f.get(from, "GET", name)
			_, terr := f.tftpGet(from, name)
			var te *tftptest.Error
			if resp.StatusCode != 404 || strings.Contains(string(body), "alpha-secret") || !strings.Contains(string(body), "only to its own address") {
				t.Errorf("%s from %s over HTTP: %d %q", name, from, resp.StatusCode, body)
			}
			if !errors.As(terr, &te) || te.Code != tftp.ErrFileNotFound || !strings.Contains(string(body), te.Message) {
				t.Errorf("%s from %s: TFTP says %v, HTTP %q", name, from, terr, body)
			}
		}
		f.get(from, "GET", load+".loads") // what a phone rebooting into a load asks
	}
	after, _ := f.prov.Book().Get(macA)
	if after.Running != before.Running || after.IP != before.IP || after.Fetching != nil {
		t.Errorf("phone A changed: before %+v, after %+v", before, after)
	}
	ev := f.waitEvent(func(ev event.Event) bool {
		return ev.Kind == event.Foreign && ev.MAC == macA && strings.Contains(ev.Detail, "over http")
	})
	if ev.IP.String() != addrB && ev.IP.String() != stranger {
		t.Errorf("foreign event names %s", ev.IP)
	}
	for _, ev := range f.events() {
		if ev.Source == event.HTTP && ev.MAC == macA {
			t.Errorf("a foreign request is in phone A's timeline as its own: %+v", ev)
		}
	}
}

func TestRateLimitAnswered(t *testing.T) {
	f := newFixture(t, func(s *Service) { s.RatePerSource, s.RateBurst = 1, 3 })
	var resp *http.Response
	var body []byte
	for range 4 {
		resp, body = f.get(addrA, "GET", "XMLDefault.cnf.xml")
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		!strings.Contains(string(body), "too many requests from 127.0.0.21: the limit is 1 per second") {
		t.Errorf("over the limit: %d, Retry-After %q, %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := f.get(addrB, "GET", "XMLDefault.cnf.xml"); resp.StatusCode != 200 {
		t.Errorf("another address is limited by the first: %d", resp.StatusCode)
	}
	ev := f.waitEvent(func(ev event.Event) bool { return ev.Source == event.HTTP && ev.Outcome == event.Refused })
	if ev.MAC != macA {
		t.Errorf("refused request attributed to %v, want phone A by its address", ev.MAC)
	}
}

// stalled opens a download of big.bin from from and reads only its
// first bytes, with a receive buffer too small for the rest.
func (f *fixture) stalled(from string) net.Conn {
	f.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second,
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
	c, err := d.Dial("tcp", f.http)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: phoneboot\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1000)); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// A phone that stops reading holds its download only StallTimeout, and
// meanwhile the cap on downloads answers others 503.
func TestStalledClientAndBusy(t *testing.T) {
	f := newFixture(t, func(s *Service) { s.StallTimeout, s.MaxActive = 500*time.Millisecond, 1 })
	f.stalled(addrA)
	resp, body := f.get(addrB, "GET", "XMLDefault.cnf.xml")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), "server busy: 1 downloads running") {
		t.Errorf("while one download runs (cap 1): %d, Retry-After %q, %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	ev := f.waitEvent(func(ev event.Event) bool { return ev.File == "big.bin" })
	if ev.Outcome != event.Timeout || ev.MAC != macA || ev.Bytes >= 24<<20 || !strings.Contains(ev.Detail, "stopped reading") {
		t.Errorf("stalled download: %+v", ev)
	}
	if resp, _ := f.get(addrB, "GET", "XMLDefault.cnf.xml"); resp.StatusCode != 200 {
		t.Errorf("after the stalled download ended: %d", resp.StatusCode)
	}
}

// A phone that hangs up mid-body is a cut-off transfer, not a download.
func TestDisconnectMidBody(t *testing.T) {
	f := newFixture(t, nil)
	f.stalled(addrA).Close()
	ev := f.waitEvent(func(ev event.Event) bool { return ev.File == "big.bin" })
	if !ev.Outcome.CutOff() || ev.Bytes >= 24<<20 {
		t.Errorf("download cut by the phone: %+v", ev)
	}
}
