package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/files"
	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// Files served to every client, made once per test binary in TestMain.
const (
	smallFile = "small.bin"    // 300 bytes: one short block
	twoMB     = "two.bin"      // 2 MiB
	mult512   = "mult512.bin"  // 64 full blocks of 512: needs a final empty DATA
	mult1428  = "mult1428.bin" // 40 full blocks of 1428 (atftp's blksize)
	bigFile   = "big.bin"      // 40 MiB: 81920 blocks of 512, past block 65535
	textFile  = "text.txt"     // line ends for netascii
	blockEnds = "splitcr.txt"  // netascii line ends split across blocks
	linesFile = "lines.txt"    // 2 MiB of text with every kind of line end
	cnfFile   = "SEP001122334455.cnf.xml"
	loadsFile = "Firmware/Term71.default.loads"
)

// textContent mixes every line-end netascii must translate: LF, CR LF, a
// bare CR, and a CR at the very end.
const textContent = "# SEP001122334455\nline two\r\nbare\rCR\n\n<device>\n\tphone\n</device>\r"

// blockEndsText is a text of several 512-byte netascii blocks, each of
// whose last byte is the CR of a line end (CR LF for LF, CR NUL for a bare
// CR, alternately), so that every pair is split across two blocks.
var blockEndsText = func() string {
	var b strings.Builder
	b.WriteString(strings.Repeat("a", 511) + "\n") // wire: 511 bytes, CR | LF
	for i := range 6 {
		// Each later block starts with the pair's second byte.
		end := "\r"
		if i%2 == 1 {
			end = "\n"
		}
		b.WriteString(strings.Repeat(string(rune('b'+i)), 510) + end)
	}
	b.WriteString("last line\n")
	return b.String()
}()

var (
	dataDir string            // the served root
	sums    map[string][]byte // sha256 of each file by name
)

func TestMain(m *testing.M) {
	code, err := setupAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setupAndRun(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "phoneboot-interop-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	dataDir = dir
	sums = map[string][]byte{}
	files := map[string][]byte{
		smallFile: random(300, 1),
		twoMB:     random(2<<20, 2),
		mult512:   random(512*64, 3),
		mult1428:  random(1428*40, 4),
		bigFile:   random(40<<20, 5),
		textFile:  []byte(textContent),
		blockEnds: []byte(blockEndsText),
		linesFile: testutil.Text(2<<20, 6),
		cnfFile:   []byte("<device><loadInformation>Term71.default</loadInformation></device>\n"),
		loadsFile: []byte("firmware load file\n"),
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return 0, err
		}
		s := sha256.Sum256(b)
		sums[name] = s[:]
	}
	return m.Run(), nil
}

// random returns n reproducible pseudo-random bytes (ChaCha8: 40 MiB in
// well under a second).
func random(n int, seed byte) []byte {
	var key [32]byte
	key[0] = seed
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// server is an in-process phoneboot TFTP server on loopback.
type server struct {
	srv    *tftp.Server
	addr   netip.AddrPort
	upload string // upload directory, when enabled
	events *tftptest.Recorder
}

type serverOpts struct {
	listen    string // default 127.0.0.1:0
	upload    bool
	maxUpload int64
	// dally bounds how long the server waits after its last ACK of an
	// upload (RFC 1350 §6) before it reports the transfer: 0 keeps the
	// production default (up to 5s), which only slows the tests down.
	dally time.Duration
}

func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	dir, err := files.OpenDir(dataDir, 512<<20)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{events: tftptest.NewRecorder()}
	s.srv = &tftp.Server{
		Resolver: tftp.ByName(dir),
		Limits:   tftp.Limits{MaxUpload: o.maxUpload},
		OnEvent:  s.events.Add,
	}
	if o.dally > 0 {
		s.srv.Timeout, s.srv.MaxTimeout = o.dally/2, o.dally
	}
	if o.upload {
		s.upload = t.TempDir()
		up, err := tftp.OpenUploadDir(s.upload)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { up.Close() })
		s.srv.Receiver = up
	}
	listen := o.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	conns, err := tftp.Listen(listen)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(context.Background(), conns[0]) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, tftp.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		dir.Close()
	})
	return s
}

func (s *server) host() string { return s.addr.Addr().String() }
func (s *server) port() string { return strconv.Itoa(int(s.addr.Port())) }

// url is the tftp:// URL of a file for curl.
func (s *server) url(name string) string { return "tftp://" + s.addr.String() + "/" + name }

// event waits for a successful transfer of file and returns it; without
// one within 10s it returns the last event for file (or fails). A client
// may retry a request, so earlier failed attempts are not the verdict.
func (s *server) event(t *testing.T, file string) tftp.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		evs, changed := s.events.Snapshot()
		var last *tftp.Event
		for i := range evs {
			if evs[i].File == file {
				if evs[i].Outcome == tftp.OutcomeOK {
					return evs[i]
				}
				last = &evs[i]
			}
		}
		select {
		case <-changed:
		case <-deadline:
			if last != nil {
				return *last
			}
			t.Fatalf("no transfer event for %q within 10s", file)
			return tftp.Event{}
		}
	}
}

// firstEvent waits for the first event for file, whatever its outcome:
// for transfers expected to fail.
func (s *server) firstEvent(t *testing.T, file string) tftp.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		evs, changed := s.events.Snapshot()
		for _, ev := range evs {
			if ev.File == file {
				return ev
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no transfer event for %q within 10s", file)
			return tftp.Event{}
		}
	}
}

// attempts returns every event for file, to explain a failure.
func (s *server) attempts(file string) []string {
	evs, _ := s.events.Snapshot()
	var out []string
	for _, ev := range evs {
		if ev.File == file {
			out = append(out, fmt.Sprintf("%v %s %s", ev.Remote, ev.Outcome, ev.Error))
		}
	}
	return out
}

// run runs a client with a hard 60s limit and no stdin (tftp-hpa would
// otherwise wait for commands).
func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish within 60s: %w", filepath.Base(bin), ctx.Err())
	}
	return out.String(), err
}

// checkFile compares a received file with a served one by sha256.
func checkFile(t *testing.T, got, name string) {
	t.Helper()
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if s := sha256.Sum256(b); !bytes.Equal(s[:], sums[name]) {
		t.Fatalf("%s: received %d bytes with sha256 %x, want sha256 %x", name, len(b), s, sums[name])
	}
}

// sameFile compares two local files by sha256.
func sameFile(t *testing.T, got, want string) {
	t.Helper()
	a, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if sa, sb := sha256.Sum256(a), sha256.Sum256(b); sa != sb {
		t.Fatalf("%s: %d bytes sha256 %x, want %d bytes sha256 %x", got, len(a), sa, len(b), sb)
	}
}

// servedSize returns the size of a served file.
func servedSize(t *testing.T, name string) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(dataDir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// dirNames lists a directory: uploads must leave no temporary behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
