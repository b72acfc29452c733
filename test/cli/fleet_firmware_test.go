package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/firmware"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/store"
	"phoneboot/internal/store/pgtest"
	"phoneboot/internal/tftp/tftptest"
)

// The fleet's file of these tests: one 7960 on SIP 7.2, at 127.0.0.21,
// whose target is SIP 8.12; no node has 8.12 at first.
const fleetFW = `[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"
[site.loads]
7960 = "P0S3-8-12-00"
[[phone]]
mac = "00:13:7F:00:15:01"
model = "7960"
ip = "127.0.0.21"
running_load = "P0S3-07-2-00"
`

const (
	fleetLoad    = "P0S3-8-12-00"
	fleetMAC     = "00137F001501"
	fwPhoneAddr  = "127.0.0.21"
	fwViewerAddr = "127.0.0.31" // fetches firmware by name as any client may
)

// fleetNode is one phoneboot serve of a fleet on a PostgreSQL database:
// its data, and the phone HTTP port its firmware_url names (fixed, so
// that it is the same after a restart).
type fleetNode struct {
	name, data, db string
	httpPort       int
	extra          []string
	p              *proc
	tftp           atomic.Int32
	admin          netip.AddrPort
}

func newFleetNode(t *testing.T, name, db string, extra ...string) *fleetNode {
	t.Helper()
	n := &fleetNode{name: name, data: filepath.Join(t.TempDir(), name), db: db, httpPort: freeTCPPort(t), extra: extra}
	fwtest.Write(t, n.data, "phoneboot.toml", fmt.Appendf(nil, "[node]\nname = %q\nfirmware_url = \"http://127.0.0.1:%d/\"\n", name, n.httpPort))
	fwtest.Write(t, n.data, "fleet.toml", []byte(fleetFW))
	return n
}

// start runs serve and waits until its firmware sharing has run once.
func (n *fleetNode) start(t *testing.T) {
	t.Helper()
	args := append([]string{"--db", n.db, "--http-addr", fmt.Sprintf("127.0.0.1:%d", n.httpPort),
		"--admin-addr", "127.0.0.1:0", "--syslog-addr", ""}, n.extra...)
	p, port, _ := serveData(t, n.data, args...)
	n.p = p
	n.tftp.Store(int32(port))
	n.admin = p.listenAddr(t, "admin web listening", 10*time.Second)
	p.listenAddr(t, "phone HTTP listening", 10*time.Second)
}

func (n *fleetNode) kill(t *testing.T) {
	t.Helper()
	n.p.signal(t, syscall.SIGKILL)
	n.p.exit(t, 10*time.Second)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get fetches name over TFTP from the node, from the address from.
func (n *fleetNode) get(ctx context.Context, from, name string) ([]byte, error) {
	c := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.tftp.Load())),
		Local: netip.MustParseAddr(from), Timeout: 300 * time.Millisecond, Retries: 3}
	var b bytes.Buffer
	_, err := c.Get(ctx, name, &b)
	return b.Bytes(), err
}

var loadInfoRE = regexp.MustCompile(`<loadInformation[^>]*>([^<]*)</loadInformation>`)

// named is the load the node's config for the test phone names ("" for
// none), or an error when the node does not answer.
func (n *fleetNode) named(ctx context.Context) (string, error) {
	b, err := n.get(ctx, fwPhoneAddr, "SEP"+fleetMAC+".cnf.xml")
	if err != nil {
		return "", err
	}
	m := loadInfoRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("no loadInformation in %q", b)
	}
	return string(m[1]), nil
}

// fleetPackage writes a 7960 SIP package of load id whose two images
// are size bytes each.
func fleetPackage(t *testing.T, id string, size int) (string, map[string][]byte) {
	t.Helper()
	files := fwtest.LoadFiles(id, size, fwtest.Classic(id)...)
	path := filepath.Join(t.TempDir(), "cmterm-7960-sip."+id+".zip")
	fwtest.Zip(t, path, files)
	return path, files
}

// catalogOf reads a node's catalog from its data directory, checking
// every file of every load against the sizes and sha256 of its import:
// a load is there whole, or not at all.
func catalogOf(t *testing.T, data string) []string {
	t.Helper()
	c, err := firmware.OpenCatalog(filepath.Join(data, "firmware"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Problems(); len(p) > 0 {
		t.Errorf("%s: catalog problems: %v", data, p)
	}
	var ids []string
	for _, l := range c.Loads() {
		if err := c.Verify(l.ID); err != nil {
			t.Errorf("%s: %v", data, err)
		}
		ids = append(ids, l.ID)
	}
	return ids
}

// heldBy is the loads firmware_loads says each node holds (not the rows
// of loads a node removed).
func heldBy(t *testing.T, db string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := store.OpenURL(ctx, t.TempDir(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.HeldLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		if !r.Removed {
			out[r.Node] = append(out[r.Node], r.ID)
		}
	}
	return out
}

// consistent fails unless each node's rows are its catalog, every load
// of which is whole.
func consistent(t *testing.T, db string, nodes ...*fleetNode) {
	t.Helper()
	held := heldBy(t, db)
	for _, n := range nodes {
		if got, want := held[n.name], catalogOf(t, n.data); !slices.Equal(got, want) {
			t.Errorf("firmware_loads says %s holds %v; its catalog holds %v", n.name, got, want)
		}
	}
}

// TestFleetFirmwareFetch: node A imports a load (phoneboot firmware
// import, while A serves); node B, which never imported it, fetches it
// within seconds; until then B's config for a phone targeting it names
// no load; then a phone booting on B is told to run it, downloads it
// byte for byte as the package has it, and runs it.
func TestFleetFirmwareFetch(t *testing.T) {
	db := pgtest.URL(t)
	a, b := newFleetNode(t, "node-a", db), newFleetNode(t, "node-b", db)
	a.start(t)
	b.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if got, err := b.named(ctx); err != nil || got != "" {
		t.Fatalf("before any import, B's config names %q (%v)", got, err)
	}
	pkg, files := fleetPackage(t, fleetLoad, 2<<20)
	from := b.p.logLen()
	if code, _, stderr := runQuick(t, "firmware", "import", "--data", a.data, pkg); code != 0 {
		t.Fatalf("firmware import: %s", stderr)
	}
	imported := time.Now()
	b.p.waitLogSince(t, from, "firmware: fetched a load from another node", 20*time.Second)
	took := time.Since(imported)
	// The fetch is logged once the load is in B's catalog; B's config
	// names it once B has loaded its config again, right after.
	waitUntil(t, 5*time.Second, "B's config names the load", func() bool {
		got, _ := b.named(ctx)
		return got == fleetLoad
	})
	named := time.Since(imported)
	m, _ := phone.ModelByName("7960")
	mac, _ := phone.ParseMAC(fleetMAC)
	rep := sim.Phone{MAC: mac, Model: m, Load: "P0S3-07-2-00"}.Boot(ctx, sim.Options{
		Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.tftp.Load())),
		Local:  netip.MustParseAddr(fwPhoneAddr), Retry: 20 * time.Millisecond, Timeout: 30 * time.Second})
	if rep.Load != fleetLoad || rep.State != "up" {
		t.Fatalf("the phone on B: runs %s, %s; requests %+v", rep.Load, rep.State, rep.Requests)
	}
	got := map[string]string{}
	for _, r := range rep.Requests {
		if r.Result == "ok" && r.SHA256 != "" {
			got[r.Name] = r.SHA256
		}
	}
	for name, data := range files {
		sum := sha256.Sum256(data)
		if got[name] != hex.EncodeToString(sum[:]) {
			t.Errorf("the phone's %s: sha256 %q, want the package's %x", name, got[name], sum)
		}
	}
	consistent(t, db, a, b)
	t.Logf("B fetched %s (4 MiB) %v after A's import ended, named it in its config %v after; the phone on B upgraded with %d requests",
		fleetLoad, took.Round(10*time.Millisecond), named.Round(10*time.Millisecond), len(rep.Requests))
}

// TestFleetFirmwareKill9: kill -9 of a node in the middle of a firmware
// import, or of a fetch, leaves every node's catalog consistent: each
// load whole or absent, firmware_loads matching each catalog once the
// node is back, and node B never names a load it cannot serve whole.
//
// Made slow for the kill, test-only and with real settings: the upload
// to A's API is streamed by the test, which stops half way; A's phone
// HTTP allows one request a second (--tftp-rate 1), so B's fetch of a
// load's three files takes seconds.
func TestFleetFirmwareKill9(t *testing.T) {
	db := pgtest.URL(t)
	a := newFleetNode(t, "node-a", db, "--tftp-rate", "1", "--tftp-burst", "1")
	b := newFleetNode(t, "node-b", db, "--tftp-rate", "0")
	a.start(t)
	b.start(t)
	pkg, files := fleetPackage(t, fleetLoad, 4<<20)
	zipped, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}

	// Whenever B's config names a load, every file of it must be there on
	// B, whole: checked all along, while B is up.
	var (
		checks, named atomic.Int32
		bUp           atomic.Bool // false from just before B is killed
		wg            sync.WaitGroup
		mu            sync.Mutex
		bad           []string
	)
	bUp.Store(true)
	watch, stopWatch := context.WithCancel(context.Background())
	wg.Go(func() {
		for i := 0; i < 100000 && watch.Err() == nil; i++ {
			ctx, cancel := context.WithTimeout(watch, 3*time.Second)
			load, err := b.named(ctx)
			if err == nil && load != "" {
				named.Add(1)
				for name, data := range files {
					got, err := b.get(ctx, fwViewerAddr, name)
					if err != nil && watch.Err() == nil && bUp.Load() {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("B names %s but %s: %v", load, name, err))
						mu.Unlock()
					} else if err == nil && !bytes.Equal(got, data) {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("B names %s but serves %d other bytes as %s", load, len(got), name))
						mu.Unlock()
					}
				}
			}
			if err == nil {
				checks.Add(1)
			}
			cancel()
			time.Sleep(50 * time.Millisecond)
		}
	})
	defer func() { stopWatch(); wg.Wait() }()

	// 1. A killed while an upload to its API is being imported: half of
	// the package is in, the rest never comes.
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, "http://"+a.admin.String()+"/api/v1/firmware?name="+filepath.Base(pkg), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/zip")
	go func() {
		pw.Write(zipped[:len(zipped)/2])
		<-watch.Done() // the rest never comes: the node dies first
		pw.Close()
	}()
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitUntil(t, 20*time.Second, "half the upload staged on A", func() bool {
		return stagedBytes(t, filepath.Join(a.data, "firmware"), ".import-upload-") >= int64(len(zipped)/4)
	})
	a.kill(t)
	if ids := catalogOf(t, a.data); len(ids) != 0 {
		t.Fatalf("A killed mid-import holds %v", ids)
	}
	a.start(t)
	consistent(t, db, a, b)

	// 2. The whole package this time; B fetches it from A (slowly) and is
	// killed in the middle of the fetch.
	from := b.p.logLen()
	resp, err := http.Post("http://"+a.admin.String()+"/api/v1/firmware?name="+filepath.Base(pkg), "application/zip", bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload to A: %s", resp.Status)
	}
	waitUntil(t, 20*time.Second, "B fetching, a file of the load staged", func() bool {
		return stagedBytes(t, filepath.Join(b.data, "firmware"), ".import-fetch-") > 0
	})
	bUp.Store(false)
	b.kill(t)
	if strings.Contains(b.p.stderr.String()[from:], "fetched a load") {
		t.Fatal("B finished the fetch before it was killed: the kill proves nothing")
	}
	if ids := catalogOf(t, b.data); len(ids) != 0 {
		t.Fatalf("B killed mid-fetch holds %v", ids)
	}
	if held := heldBy(t, db); len(held["node-b"]) != 0 {
		t.Fatalf("B killed mid-fetch is said to hold %v", held["node-b"])
	}
	b.start(t)
	bUp.Store(true)
	b.p.waitLog(t, "firmware: fetched a load from another node", 30*time.Second)
	waitUntil(t, 10*time.Second, "B's config names the load", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		got, _ := b.named(ctx)
		return got == fleetLoad
	})
	consistent(t, db, a, b)

	// 3. A killed between an import and its publication: the import done
	// while A is down (as if A died right after its import's rename). At
	// start A publishes what its catalog holds, and B fetches it.
	a.kill(t)
	pkg2, _ := fleetPackage(t, "P0S3-8-11-00", 1<<20)
	if code, _, stderr := runQuick(t, "firmware", "import", "--data", a.data, pkg2); code != 0 {
		t.Fatalf("firmware import: %s", stderr)
	}
	if held := heldBy(t, db); slices.Contains(held["node-a"], "P0S3-8-11-00") {
		t.Fatal("the load imported while A was down is already published")
	}
	from = b.p.logLen()
	a.start(t)
	b.p.waitLogSince(t, from, "load=P0S3-8-11-00", 30*time.Second)
	waitUntil(t, 10*time.Second, "B holds both loads", func() bool {
		return reflect.DeepEqual(catalogOf(t, b.data), []string{"P0S3-8-11-00", fleetLoad})
	})
	consistent(t, db, a, b)

	stopWatch()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, s := range bad {
		t.Error(s)
	}
	if named.Load() == 0 {
		t.Error("B's config was never seen naming the load: the watch proved nothing")
	}
	t.Logf("B's config read %d times while up, %d of them naming a load, every file of which B then served whole", checks.Load(), named.Load())
}

// stagedBytes is the size of the files in the catalog's staging folders
// whose names start with prefix.
func stagedBytes(t *testing.T, dir, prefix string) int64 {
	t.Helper()
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		filepath.WalkDir(filepath.Join(dir, e.Name()), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	return n
}
