// Package e2e holds the dashboard's browser tests: Debian's chromium,
// driven by playwright-core (pinned in package.json; `npm ci` here
// installs it, as .ci/run does), against a real `phoneboot serve` fed by
// simulated phones. `go test ./e2e` runs them; without chromium, node or
// node_modules they are skipped, and fail when PHONEBOOT_REQUIRE_INTEROP=1.
// Each scenario saves a 1280×800 screenshot to docs/screenshots/ (or to
// $PHONEBOOT_SCREENSHOTS).
package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/testutil"
)

const inventory = `[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"
[site.loads]
7960 = "P0S3-8-12-00"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7960"
label = "Reception"
  [[phone.line]]
  extension = "201"
  password = "s3cret-201"

[[phone]]
mac = "00:13:7F:00:00:03"
model = "7960"
label = "Lobby"

[[phone]]
mac = "00:13:7F:00:00:04"
model = "7960"
label = "Storeroom"

[[phone]]
mac = "00:13:7F:00:00:05"
model = "7940"
label = "Workshop"
`

// phoneboot is the binary under test, built once by TestMain.
var phoneboot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "phoneboot-e2e-")
	if err != nil {
		panic(err)
	}
	phoneboot = filepath.Join(dir, "phoneboot")
	if out, err := exec.Command("go", "build", "-o", phoneboot, "../cmd/phoneboot").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestPublicBindRefused needs no browser: serve on a public admin address
// without a token stops before serving anything, saying what to do.
func TestPublicBindRefused(t *testing.T) {
	refuses(t, phoneboot, t.TempDir())
}

func TestDashboard(t *testing.T) {
	chromium := testutil.Tool(t, "chromium")
	nodeBin := testutil.Tool(t, "node")
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		testutil.Unavailable(t, "e2e/node_modules has no playwright-core (run: cd e2e && npm ci)")
	}
	shots, err := filepath.Abs(filepath.Join("..", "docs", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("PHONEBOOT_SCREENSHOTS"); d != "" {
		shots = d
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := phoneboot
	data := filepath.Join(tmp, "data")
	os.MkdirAll(data, 0o755)
	if err := os.WriteFile(filepath.Join(data, "phoneboot.toml"), []byte(inventory), 0o644); err != nil {
		t.Fatal(err)
	}
	// The target load is in the catalog from the start; the browser
	// uploads another.
	const target, other = "P0S3-8-12-00", "P0S3-8-11-00"
	pre := filepath.Join(tmp, "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, pre, fwtest.LoadFiles(target, 64<<10, fwtest.Classic(target)...))
	if out, err := exec.Command(bin, "firmware", "import", "--data", data, pre).CombinedOutput(); err != nil {
		t.Fatalf("firmware import: %v\n%s", err, out)
	}
	zip := filepath.Join(tmp, "cmterm-7960-sip.8-11-00.zip")
	fwtest.Zip(t, zip, fwtest.LoadFiles(other, 64<<10, fwtest.Classic(other)...))

	refusal := refuses(t, bin, filepath.Join(tmp, "public"))

	srv := startServe(t, bin, data, "")
	tftp := srv.addr(t, "tftp listening")
	admin := srv.addr(t, "admin web listening")
	// A few phones boot first: two upgrade to the target, one loops on
	// its CTL file, and another host asks for Reception's files.
	simulate(t, bin, data, tftp, "00:13:7F:38:B3:DE", "127.0.0.2", "--load", "P0S3-8-11-00")
	simulate(t, bin, data, tftp, "00:13:7F:00:00:03", "127.0.0.3", "--load", "P0S3-8-11-00")
	simulate(t, bin, data, tftp, "00:13:7F:00:00:04", "127.0.0.4", "--ctl-loop", "--ctl-loop-empty", "--retry", "50ms")
	for range 3 {
		simulate(t, bin, data, tftp, "00:13:7F:38:B3:DE", "127.0.0.99", "--timeout", "3s")
	}
	time.Sleep(1500 * time.Millisecond) // the store writes events a second later

	// A second phoneboot, with a token, for the login.
	const token = "e2e-token-0123456789abcdef"
	guarded := filepath.Join(tmp, "guarded")
	os.MkdirAll(guarded, 0o755)
	os.WriteFile(filepath.Join(guarded, "phoneboot.toml"), []byte(inventory), 0o644)
	tsrv := startServe(t, bin, guarded, token)
	tadmin := tsrv.addr(t, "admin web listening")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "dashboard.js")
	cmd.Env = append(os.Environ(), "BASE_URL=http://"+admin, "PHONEBOOT="+bin, "DATA="+data, "TFTP="+tftp,
		"FIRMWARE_ZIP="+zip, "REFUSAL="+refusal, "SHOTS="+shots, "CHROMIUM="+chromium,
		"TOKEN_URL=http://"+tadmin, "TOKEN="+token)
	out, err := cmd.CombinedOutput()
	t.Logf("browser tests:\n%s", out)
	if err != nil {
		t.Fatalf("browser tests failed: %v (serve said:\n%s)", err, srv.log())
	}
}

// refuses runs serve on a public admin address without a token: it must
// stop at once, saying what to do.
func refuses(t *testing.T, bin, data string) string {
	t.Helper()
	os.MkdirAll(data, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data", data, "--tftp-addr", "127.0.0.1:0", "--admin-addr", "0.0.0.0:8069", // refused before it listens
		"--http-addr", "", "--syslog-addr", "")
	cmd.Env = append(os.Environ(), "PHONEBOOT_ADMIN_TOKEN=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("serve --admin-addr 0.0.0.0:8069 without a token did not refuse: %v\n%s", err, stderr.String())
	}
	said := stderr.String()
	for _, want := range []string{"would be open to the network without a token", "--admin-token", "PHONEBOOT_ADMIN_TOKEN",
		"--admin-addr 127.0.0.1:8069", "docs/dashboard.md"} {
		if !strings.Contains(said, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, said)
		}
	}
	// The refusal itself, without the log lines before it.
	if i := strings.Index(said, "phoneboot: serve:"); i >= 0 {
		said = said[i:]
	}
	return strings.TrimSpace(said)
}

type serveProc struct {
	mu     sync.Mutex
	stderr bytes.Buffer
}

func (p *serveProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// addr waits for the log line msg="…" addr=… and returns the address.
func (p *serveProc) addr(t *testing.T, msg string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="` + regexp.QuoteMeta(msg) + `" addr=(\S+)`)
	for range 200 {
		if m := re.FindStringSubmatch(p.log()); m != nil {
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve never logged %q:\n%s", msg, p.log())
	return ""
}

// startServe runs serve on data with the admin token ("" none).
func startServe(t *testing.T, bin, data, token string) *serveProc {
	t.Helper()
	p := &serveProc{}
	cmd := exec.Command(bin, "serve", "--data", data, "--tftp-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--http-addr", "", "--syslog-addr", "", "--tftp-rate", "0", "--shutdown-timeout", "2s")
	cmd.Env = append(os.Environ(), "PHONEBOOT_ADMIN_TOKEN="+token)
	cmd.Stderr = p
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// simulate boots one simulated 7960 from local (at most 30 s).
func simulate(t *testing.T, bin, data, tftp, mac, local string, extra ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	args := append([]string{"sim", "--data", data, "--server", tftp, "--model", "7960", "--mac", mac, "--local", local, "--timeout", "30s"}, extra...)
	out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput() // a stuck phone exits non-zero
	t.Logf("sim %s: %s", mac, strings.TrimSpace(string(out)))
}
