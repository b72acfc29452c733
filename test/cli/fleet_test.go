package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/store/pgtest"
	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp/tftptest"
)

// startNode starts a node of a fleet named name on the PostgreSQL
// database url, with its own data directory; fleet is its fleet.toml
// ("": none yet). It returns the process, its TFTP port and its data.
func startNode(t *testing.T, url, name, fleet string, extra ...string) (*proc, int, string) {
	t.Helper()
	data := filepath.Join(t.TempDir(), name)
	fwtest.Write(t, data, "phoneboot.toml", []byte("[node]\nname = \""+name+"\"\n"))
	if fleet != "" {
		fwtest.Write(t, data, "fleet.toml", []byte(fleet))
	}
	args := append([]string{"--db", url, "--http-addr=", "--admin-addr=", "--syslog-addr=", "--reload-interval", "500ms"}, extra...)
	return serveData(t, data, args...)
}

// TestFleetInventory: two nodes on one PostgreSQL share one inventory. A
// phone added on node a (phoneboot phones add, into a's fleet.toml) is in
// node b's generated files within seconds, and b's fleet.toml is a's.
func TestFleetInventory(t *testing.T) {
	url := pgtest.URL(t)
	a, _, dataA := startNode(t, url, "a", "[[phone]]\nmac = \"00137F380021\"\nmodel = \"7960\"\n")
	a.waitLog(t, "fleet file: edit shared with the other nodes", 10*time.Second)
	b, portB, dataB := startNode(t, url, "b", "", "--admin-addr", "127.0.0.1:0")
	b.waitLog(t, "fleet file: another node's edit taken", 10*time.Second)
	curlBin := testutil.Tool(t, "curl")
	admin := b.listenAddr(t, "admin web listening", 10*time.Second)
	waitUntil(t, 10*time.Second, "both nodes in /api/v1/nodes", func() bool {
		out, _ := exec.Command(curlBin, "-s", "http://"+admin.String()+"/api/v1/nodes").Output()
		var got struct {
			Nodes []struct {
				Name string
				This bool
			}
		}
		return json.Unmarshal(out, &got) == nil && len(got.Nodes) == 2 && got.Nodes[0].Name == "a" &&
			!got.Nodes[0].This && got.Nodes[1].This
	})

	c := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(portB)),
		Local: netip.MustParseAddr("127.0.3.22"), Timeout: time.Second, Retries: 2}
	const file = "SIP00137F380022.cnf"
	get := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var buf bytes.Buffer
		if _, err := c.Get(ctx, file, &buf); err != nil {
			return err.Error()
		}
		return buf.String()
	}
	if got := get(); strings.Contains(got, "line1_name") {
		t.Fatalf("b serves %s before it is in the inventory:\n%s", file, got)
	}
	code, _, stderr := runQuick(t, "phones", "add", "00137F380022", "--model", "7960", "--protocol", "SIP",
		"--line", "201:s3cret:Reception", "--data", dataA)
	if code != 0 {
		t.Fatalf("phones add: %s", stderr)
	}
	added := time.Now()
	waitUntil(t, 15*time.Second, "the phone added on a in b's files", func() bool {
		return strings.Contains(get(), `line1_name: "201"`)
	})
	t.Logf("added on node a, served by node b %v later", time.Since(added).Round(100*time.Millisecond))
	fa, _ := os.ReadFile(filepath.Join(dataA, "fleet.toml"))
	fb, _ := os.ReadFile(filepath.Join(dataB, "fleet.toml"))
	if !bytes.Equal(fa, fb) || !strings.Contains(string(fb), "00:13:7f:38:00:22") {
		t.Errorf("fleet.toml differs:\na:\n%s\nb:\n%s", fa, fb)
	}
}

// fleetPhone is a simulated phone of TestFleetOutage: it asks its node
// for its config every 100 ms from its own address, and counts answers.
type fleetPhone struct {
	mac      string // as in file names: 00137F381001
	node     string
	from     netip.Addr
	port     atomic.Int32 // its node's TFTP port (a restarted node has a new one)
	answered atomic.Int64
	slow     atomic.Int64 // answers that took over a second
}

func (p *fleetPhone) run(ctx context.Context) {
	for ctx.Err() == nil {
		c := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p.port.Load())),
			Local: p.from, Timeout: 500 * time.Millisecond, Retries: 1}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		start := time.Now()
		if _, err := c.Get(rctx, "SEP"+p.mac+".cnf.xml", io.Discard); err == nil {
			p.answered.Add(1)
			if time.Since(start) > time.Second {
				p.slow.Add(1)
			}
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stored is how many requests of p's config the store has, and whether
// each was seen by p's node.
func (p *fleetPhone) stored(t *testing.T, url string) (n int, byNode bool) {
	t.Helper()
	code, stdout, stderr := runQuick(t, "phones", "show", p.mac, "--limit", "0", "--json",
		"--data", t.TempDir(), "--db", url)
	if code != 0 {
		t.Fatalf("phones show: %s", stderr)
	}
	var out struct{ Events []event.Event }
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("phones show: %v\n%s", err, stdout)
	}
	byNode = true
	for _, ev := range out.Events {
		if ev.Kind == event.Request && ev.File == "SEP"+p.mac+".cnf.xml" {
			n++
			byNode = byNode && ev.Node == p.node
		}
	}
	return n, byNode
}

// TestFleetOutage: two nodes on one PostgreSQL, phones on each asking
// for their configs. PostgreSQL stopped (-outage, 5 s by default; 30 s
// with -args -outage 30s): both nodes go on answering from memory, and
// afterwards every answered request is stored, by the node that answered
// it. Then node b restarts in the middle of the storm: node a's phones
// notice nothing, and b's requests after its return are stored too.
func TestFleetOutage(t *testing.T) {
	url := pgtest.OwnURL(t)
	var fleet strings.Builder
	var phones []*fleetPhone
	for i := range 8 {
		p := &fleetPhone{mac: fmt.Sprintf("00137F3810%02X", i+1), node: "a",
			from: netip.AddrFrom4([4]byte{127, 0, 4, byte(i + 1)})}
		if i%2 == 1 {
			p.node, p.from = "b", netip.AddrFrom4([4]byte{127, 0, 5, byte(i + 1)})
		}
		fmt.Fprintf(&fleet, "[[phone]]\nmac = %q\nmodel = \"7960\"\n", p.mac)
		phones = append(phones, p)
	}
	extra := []string{"--events-rate", "0"}
	a, portA, _ := startNode(t, url, "a", fleet.String(), extra...)
	a.waitLog(t, "fleet file: edit shared", 10*time.Second)
	b, portB, dataB := startNode(t, url, "b", "", extra...)
	b.waitLog(t, "fleet file: another node's edit taken", 10*time.Second)
	for _, p := range phones {
		p.port.Store(int32(map[string]int{"a": portA, "b": portB}[p.node]))
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range phones {
		wg.Go(func() { p.run(ctx) })
	}
	defer func() { stop(); wg.Wait() }()
	time.Sleep(time.Second)

	// PostgreSQL stopped in the middle of the storm.
	fromA, fromB := a.logLen(), b.logLen()
	before := make([]int64, len(phones))
	for i, p := range phones {
		before[i] = p.answered.Load()
	}
	pgtest.Stop(t)
	time.Sleep(*outageFlag)
	for i, p := range phones {
		if p.answered.Load()-before[i] < int64(outageFlag.Seconds()) {
			t.Errorf("%s on node %s: %d answers in a %v outage", p.mac, p.node, p.answered.Load()-before[i], *outageFlag)
		}
	}
	a.waitLogSince(t, fromA, "store: unreachable, events are buffered in memory", 10*time.Second)
	b.waitLogSince(t, fromB, "store: unreachable, events are buffered in memory", 10*time.Second)
	if err := pgtest.Start(); err != nil {
		t.Fatal(err)
	}
	a.waitLogSince(t, fromA, "store: reachable again", 30*time.Second)
	b.waitLogSince(t, fromB, "store: reachable again", 30*time.Second)

	// Node b restarted in the middle of the storm.
	time.Sleep(time.Second)
	onA := map[*fleetPhone]int64{}
	for _, p := range phones {
		onA[p] = p.answered.Load()
	}
	restart := time.Now()
	b.signal(t, syscall.SIGTERM)
	if code := b.exit(t, 20*time.Second); code != 0 {
		t.Fatalf("node b exited %d:\n%s", code, b.stderr.String())
	}
	time.Sleep(2 * time.Second)
	b, portB, _ = serveData(t, dataB, "--db", url, "--http-addr=", "--admin-addr=", "--syslog-addr=",
		"--reload-interval", "500ms", "--events-rate", "0")
	t.Logf("node b down and back in %v", time.Since(restart).Round(100*time.Millisecond))
	for _, p := range phones {
		if p.node == "b" {
			p.port.Store(int32(portB))
		}
	}
	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()
	for _, p := range phones {
		if p.node == "a" && p.answered.Load()-onA[p] < 30 {
			t.Errorf("%s on node a: %d answers while b restarted", p.mac, p.answered.Load()-onA[p])
		}
		if p.slow.Load() > 0 {
			t.Errorf("%s on node %s: %d answers took over a second", p.mac, p.node, p.slow.Load())
		}
	}

	// Everything answered is stored, by the node that answered it.
	var total int64
	for _, p := range phones {
		total += p.answered.Load()
		waitUntil(t, 30*time.Second, p.mac+"'s requests stored", func() bool {
			n, _ := p.stored(t, url)
			return int64(n) == p.answered.Load()
		})
		if _, byNode := p.stored(t, url); !byNode {
			t.Errorf("%s: an event not marked as node %s's", p.mac, p.node)
		}
	}
	code, stdout, stderr := runQuick(t, "phones", "--json", "--data", t.TempDir(), "--db", url)
	var rows []struct{ MAC, Node string }
	if code != 0 || json.Unmarshal([]byte(stdout), &rows) != nil || len(rows) != len(phones) {
		t.Fatalf("phones: %d %s %s", code, stdout, stderr)
	}
	for i, r := range rows {
		if r.Node != phones[i].node {
			t.Errorf("%s: last seen by node %q, want %q", r.MAC, r.Node, phones[i].node)
		}
	}
	t.Logf("%d requests answered by two nodes through a %v PostgreSQL outage and a restart of b, all stored",
		total, *outageFlag)
}
