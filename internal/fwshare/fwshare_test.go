package fwshare

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/files"
	"phoneboot/internal/firmware"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phonehttp"
	"phoneboot/internal/provision"
	"phoneboot/internal/store"
)

const (
	sip812 = "P0S3-8-12-00"
	java   = "SIP41.9-4-2SR3-1S"
	build  = "9-4-2ES26"
)

// node is one node of a test fleet: its catalog, its handle on the shared
// store, its phone HTTP server sharing the catalog (on 127.0.0.x:0), and
// its Sharer, whose log the test reads.
type node struct {
	name    string
	dbPath  string // the SQLite file of the fleet
	catalog *firmware.Catalog
	db      *store.Store
	svc     *phonehttp.Service
	url     string
	sharer  *Sharer
	log     *syncBuffer
}

// newNode opens a node on the SQLite file db (two handles on one file
// are two nodes on one database, as far as these rows go), serving on
// host.
func newNode(t *testing.T, name, db, host string, set func(*phonehttp.Service)) *node {
	t.Helper()
	ctx := context.Background()
	cat, err := firmware.OpenCatalog(filepath.Join(t.TempDir(), name, "firmware"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n := &node{name: name, dbPath: db, catalog: cat, db: s, log: &syncBuffer{}}
	n.svc = &phonehttp.Service{Shared: cat}
	if set != nil {
		set(n.svc)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: n.svc, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	n.url = "http://" + ln.Addr().String() + "/"
	n.sharer = &Sharer{Store: s, Catalog: cat, Node: name, RetryWait: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(n.log, nil))}
	if err := s.Announce(ctx, store.NodeInfo{Name: name, FirmwareURL: n.url, Started: time.Now(), Seen: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return n
}

// twoNodes is node a (with the loads of pkgs imported and published)
// and node b (an empty catalog) on one database.
func twoNodes(t *testing.T, setA func(*phonehttp.Service), pkgs ...string) (a, b *node) {
	t.Helper()
	db := filepath.Join(t.TempDir(), store.FileName)
	a = newNode(t, "building-a", db, "127.0.0.1", setA)
	b = newNode(t, "building-b", db, "127.0.0.2", nil)
	if len(pkgs) > 0 {
		if _, err := a.catalog.Import(pkgs...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.sharer.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// packages writes a 7960 SIP package (loader, extra .bin) and a 7961 one
// with term files, and returns their paths.
func packages(t *testing.T, size int) []string {
	t.Helper()
	dir := t.TempDir()
	classic := fwtest.LoadFiles(sip812, size, fwtest.Classic(sip812)...)
	classic["P003-8-12-00.bin"] = fwtest.Random("P003-8-12-00.bin", 700)
	comps := fwtest.Java(java, build)
	javaFiles := fwtest.LoadFiles(java, size, comps...)
	javaFiles["term61.default.loads"] = fwtest.TermFile("61", java, comps...)
	fwtest.Zip(t, filepath.Join(dir, "cmterm-7960-sip.8-12-00.zip"), classic)
	fwtest.Zip(t, filepath.Join(dir, "cmterm-7961-sip.zip"), javaFiles)
	return []string{filepath.Join(dir, "cmterm-7960-sip.8-12-00.zip"), filepath.Join(dir, "cmterm-7961-sip.zip")}
}

func held(t *testing.T, s *store.Store) map[string][]string {
	t.Helper()
	rows, err := s.HeldLoads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		if r.Removed {
			out[r.Node] = append(out[r.Node], r.ID+" (removed)")
		} else {
			out[r.Node] = append(out[r.Node], r.ID)
		}
	}
	return out
}

func loadIDs(c *firmware.Catalog) []string {
	var out []string
	for _, l := range c.Loads() {
		out = append(out, l.ID)
	}
	return out
}

// noStaging fails when a fetch left files in the catalog's folder beside
// its loads.
func noStaging(t *testing.T, c *firmware.Catalog) {
	t.Helper()
	entries, _ := os.ReadDir(c.Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left in the catalog: %s", e.Name())
		}
	}
}

// TestFetchFromAnotherNode: node b fetches both loads node a holds, every
// file byte for byte, term files and extras too, and tells the fleet it
// holds them now.
func TestFetchFromAnotherNode(t *testing.T) {
	a, b := twoNodes(t, nil, packages(t, 20000)...)
	if got := held(t, a.db); !reflect.DeepEqual(got, map[string][]string{"building-a": {sip812, java}}) {
		t.Fatalf("after a's Publish: %v", got)
	}
	imported := 0
	b.sharer.Imported = func(context.Context) { imported++ }
	rep, err := b.sharer.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Added, []string{sip812, java}) || len(rep.Failed) != 0 || imported != 1 {
		t.Fatalf("Fetch = %+v (Imported called %d times)\n%s", rep, imported, b.log)
	}
	for _, l := range a.catalog.Loads() {
		got, ok := b.catalog.Load(l.ID)
		if !ok || !reflect.DeepEqual(got.Files(), l.Files()) || got.Source != "node building-a" || got.FetchedFrom != "building-a" {
			t.Errorf("b's %s = %+v\nwant the files of %+v", l.ID, got, l)
		}
		if err := b.catalog.Verify(l.ID); err != nil {
			t.Error(err)
		}
	}
	if got := held(t, a.db); !reflect.DeepEqual(got, map[string][]string{"building-a": {sip812, java}, "building-b": {sip812, java}}) {
		t.Fatalf("after b's fetch: %v", got)
	}
	noStaging(t, b.catalog)
	// Nothing more to fetch; a's removal reaches the rows at its Publish.
	if rep, err := b.sharer.Fetch(context.Background()); err != nil || len(rep.Added)+len(rep.Failed)+rep.Left != 0 {
		t.Fatalf("second Fetch = %+v, %v", rep, err)
	}
	if err := a.catalog.Remove(java); err != nil {
		t.Fatal(err)
	}
	if changed, err := a.sharer.Publish(context.Background()); err != nil || !changed {
		t.Fatalf("Publish after a removal = %v, %v", changed, err)
	}
	if got := held(t, a.db); !reflect.DeepEqual(got, map[string][]string{"building-a": {sip812, java + " (removed)"}, "building-b": {sip812, java}}) {
		t.Fatalf("after a's removal: %v", got)
	}
	// a removed it: a does not fetch it back from b.
	if rep, err := a.sharer.Fetch(context.Background()); err != nil || len(rep.Added)+len(rep.Failed)+rep.Left != 0 {
		t.Fatalf("a's Fetch after its removal = %+v, %v", rep, err)
	}
	if changed, err := a.sharer.Publish(context.Background()); err != nil || changed {
		t.Fatalf("Publish with nothing new = %v, %v", changed, err)
	}
}

// TestNeverNamesALoadItCannotServe: a config targeting a load that only
// another node holds names no load (and no upgrade) on this node; once
// the fetch has imported it, the config names it.
func TestNeverNamesALoadItCannotServe(t *testing.T) {
	a, b := twoNodes(t, nil, packages(t, 5000)...)
	_ = a
	root := t.TempDir()
	dir, err := files.OpenDir(root, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	prov, err := provision.New(provision.Options{Root: root, Files: dir, Templates: filepath.Join(t.TempDir(), "templates"), Firmware: b.catalog})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("phoneboot.toml", []byte(`[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"
[site.loads]
7960 = "P0S3-8-12-00"
[[phone]]
mac = "00:13:7F:00:02:01"
model = "7960"
ip = "127.0.0.21"
running_load = "P0S3-07-2-00"
`))
	if err != nil {
		t.Fatal(err)
	}
	problems, err := prov.Update(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(problemText(problems), "\n"), sip812) {
		t.Errorf("problems before the fetch do not name the missing load: %v", problems)
	}
	cnf := func() string {
		t.Helper()
		f, err := prov.Open(context.Background(), provision.Request{Name: "SEP00137F000201.cnf.xml",
			Client: netip.MustParseAddrPort("127.0.0.21:5000"), Transport: event.TFTP})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	named := func(c string) string {
		m := regexp.MustCompile(`<loadInformation[^>]*>([^<]*)</loadInformation>`).FindStringSubmatch(c)
		if m == nil {
			t.Fatalf("no loadInformation in\n%s", c)
		}
		return m[1]
	}
	if c := cnf(); named(c) != "" {
		t.Fatalf("before the fetch, the config names a load:\n%s", c)
	}
	if _, err := b.sharer.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Imported's reload, as the node does it.
	if _, err := prov.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if c := cnf(); named(c) != sip812 {
		t.Fatalf("after the fetch, the config does not name %s:\n%s", sip812, c)
	}
}

func problemText(ps []provision.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// TestFetchMismatch: a file whose bytes differ from the manifest (here,
// the manifest a's row says) is not imported, the log names the node,
// the load and the file, and nothing is left behind; the load is not
// tried again until the backoff ends or a notice comes.
func TestFetchMismatch(t *testing.T) {
	a, b := twoNodes(t, nil, packages(t, 5000)[0])
	ctx := context.Background()
	rows, err := a.db.HeldLoads(ctx)
	if err != nil || len(rows) != 1 {
		t.Fatal(rows, err)
	}
	bad := rows[0]
	bad.Manifest.Files = append([]store.ManifestFile(nil), bad.Manifest.Files...)
	victim := bad.Manifest.Files[1].Name
	bad.Manifest.Files[1].SHA256 = strings.Repeat("0", 64)
	if err := a.db.PutHeldLoad(ctx, bad); err != nil {
		t.Fatal(err)
	}
	rep, err := b.sharer.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != 0 || !reflect.DeepEqual(rep.Failed, []string{sip812}) {
		t.Fatalf("Fetch = %+v", rep)
	}
	if ids := loadIDs(b.catalog); len(ids) != 0 {
		t.Fatalf("b's catalog after a mismatch: %v", ids)
	}
	noStaging(t, b.catalog)
	line := b.log.String()
	for _, want := range []string{"nothing imported", "node=building-a", "load=" + sip812, "file=" + victim, "differs from the manifest"} {
		if !strings.Contains(line, want) {
			t.Errorf("log does not say %q:\n%s", want, line)
		}
	}
	if rep, _ := b.sharer.Fetch(ctx); len(rep.Failed) != 0 || rep.Left != 1 {
		t.Errorf("a second Fetch within the backoff = %+v", rep)
	}
	b.sharer.forgetFailures()
	if rep, _ := b.sharer.Fetch(ctx); len(rep.Failed) != 1 {
		t.Errorf("a Fetch after a notice = %+v", rep)
	}
}

// TestFetchRefusesHostileManifests: rows no import could take, or that
// would write outside the staging folder, are never fetched.
func TestFetchRefusesHostileManifests(t *testing.T) {
	_, b := twoNodes(t, nil)
	ctx := context.Background()
	sum := strings.Repeat("a", 64)
	for id, files := range map[string][]store.ManifestFile{
		"L-dotdot":  {{Name: "../../etc/x", Size: 1, SHA256: sum}},
		"L-hidden":  {{Name: ".import-x", Size: 1, SHA256: sum}},
		"L-archive": {{Name: "x.zip", Size: 1, SHA256: sum}},
		"L-twice":   {{Name: "a.sbn", Size: 1, SHA256: sum}, {Name: "A.SBN", Size: 1, SHA256: sum}},
		"L-sum":     {{Name: "a.sbn", Size: 1, SHA256: "zz"}},
		"L-huge":    {{Name: "a.sbn", Size: 1 << 40, SHA256: sum}},
		"L-empty":   nil,
		"../L":      {{Name: "a.sbn", Size: 1, SHA256: sum}},
	} {
		if err := b.db.PutHeldLoad(ctx, store.HeldLoad{ID: id, Node: "building-a", Manifest: store.Manifest{Files: files}}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := b.sharer.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added)+len(rep.Failed) != 0 || rep.Left != 8 {
		t.Fatalf("Fetch = %+v\n%s", rep, b.log)
	}
	if n := strings.Count(b.log.String(), "nothing imported"); n != 8 {
		t.Errorf("%d log lines for 8 bad manifests:\n%s", n, b.log)
	}
	noStaging(t, b.catalog)
}

// TestRateLimitedNodeIsWaitedFor: a node whose phone HTTP server allows
// one request a second (the per-address limit phones have) still hands
// over a whole load: the fetch waits as Retry-After says.
func TestRateLimitedNodeIsWaitedFor(t *testing.T) {
	_, b := twoNodes(t, func(s *phonehttp.Service) { s.RatePerSource, s.RateBurst = 2, 1 }, packages(t, 3000)[0])
	start := time.Now()
	rep, err := b.sharer.Fetch(context.Background())
	if err != nil || !reflect.DeepEqual(rep.Added, []string{sip812}) {
		t.Fatalf("Fetch = %+v, %v\n%s", rep, err, b.log)
	}
	t.Logf("4 files at 2 requests/s: %v", time.Since(start).Round(10*time.Millisecond))
}

// TestRoundCaps: one Fetch takes at most LoadsPerRound loads; the rest
// wait for the next.
func TestRoundCaps(t *testing.T) {
	_, b := twoNodes(t, nil, packages(t, 1000)...)
	b.sharer.LoadsPerRound = 1
	rep, err := b.sharer.Fetch(context.Background())
	if err != nil || len(rep.Added) != 1 || rep.Left != 1 {
		t.Fatalf("first Fetch = %+v, %v", rep, err)
	}
	rep, err = b.sharer.Fetch(context.Background())
	if err != nil || len(rep.Added) != 1 || rep.Left != 0 {
		t.Fatalf("second Fetch = %+v, %v", rep, err)
	}
}

// TestPublishRepairs: a catalog and rows that disagree (a crash between
// an import or removal and its Publish) agree after the next Publish;
// other nodes' rows are not touched.
func TestPublishRepairs(t *testing.T) {
	a, _ := twoNodes(t, nil)
	ctx := context.Background()
	sum := strings.Repeat("b", 64)
	for _, l := range []store.HeldLoad{
		{ID: "P0S3-07-2-00", Node: "building-a", Manifest: store.Manifest{Files: []store.ManifestFile{{Name: "x.sbn", Size: 1, SHA256: sum}}}},
		{ID: "P0S3-07-2-00", Node: "building-c", Manifest: store.Manifest{Files: []store.ManifestFile{{Name: "x.sbn", Size: 1, SHA256: sum}}}},
	} {
		if err := a.db.PutHeldLoad(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.catalog.Import(packages(t, 1000)[0]); err != nil {
		t.Fatal(err)
	}
	if changed, err := a.sharer.Publish(ctx); err != nil || !changed {
		t.Fatalf("Publish = %v, %v", changed, err)
	}
	if got := held(t, a.db); !reflect.DeepEqual(got, map[string][]string{"building-a": {"P0S3-07-2-00 (removed)", sip812}, "building-c": {"P0S3-07-2-00"}}) {
		t.Fatalf("rows after the repair: %v", got)
	}
}

// TestRemovedStaysRemoved: a node that removed a load does not fetch it
// back from the nodes that still hold it, not even from a node that
// fetched it later; an admin's import of it again, on any node, does.
func TestRemovedStaysRemoved(t *testing.T) {
	pkgs := packages(t, 1000)[:1]
	a, b := twoNodes(t, nil, pkgs...)
	ctx := context.Background()
	c := newNode(t, "building-c", a.dbPath, "127.0.0.3", nil)
	if rep, err := b.sharer.Fetch(ctx); err != nil || len(rep.Added) != 1 {
		t.Fatalf("b's Fetch = %+v, %v", rep, err)
	}
	if err := b.catalog.Remove(sip812); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sharer.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	// A third node fetches it, later than b's removal.
	time.Sleep(5 * time.Millisecond)
	if rep, err := c.sharer.Fetch(ctx); err != nil || len(rep.Added) != 1 {
		t.Fatalf("c's Fetch = %+v, %v", rep, err)
	}
	if rep, err := b.sharer.Fetch(ctx); err != nil || len(rep.Added)+len(rep.Failed)+rep.Left != 0 {
		t.Fatalf("b's Fetch after its removal = %+v, %v", rep, err)
	}
	// Imported again on a (its Imported is in seconds: a later second).
	if err := a.catalog.Remove(sip812); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := a.catalog.Import(pkgs...); err != nil {
		t.Fatal(err)
	}
	if _, err := a.sharer.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := b.sharer.Fetch(ctx); err != nil || len(rep.Added) != 1 {
		t.Fatalf("b's Fetch after a's new import = %+v, %v", rep, err)
	}
	if got := held(t, a.db); !reflect.DeepEqual(got, map[string][]string{"building-a": {sip812}, "building-b": {sip812}, "building-c": {sip812}}) {
		t.Fatalf("rows: %v", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
