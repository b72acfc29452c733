package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/store/pgtest"
	"phoneboot/internal/tftp"
)

// binary is the phoneboot executable built by TestMain.
var binary string

func TestMain(m *testing.M) {
	code, err := buildAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cli tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M) (int, error) {
	// The module root is two levels up from this package (test/cli).
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	root := filepath.Join(wd, "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return 0, fmt.Errorf("module root not found from %s: %w", wd, err)
	}
	tmp, err := os.MkdirTemp("", "phoneboot-cli-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	binary = filepath.Join(tmp, "phoneboot")
	// go test puts its own toolchain first in PATH.
	gobin, err := exec.LookPath("go")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, gobin, "build", "-o", binary, "./cmd/phoneboot")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./cmd/phoneboot: %v\n%s", err, out)
	}
	// pgtest.Main: the PostgreSQL cluster a test may start is stopped.
	return pgtest.Main(m), nil
}

// proc is a running phoneboot.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	exited time.Time
}

// start runs phoneboot with args in a fresh working directory (so a
// default --data never lands in the repository). It is killed at cleanup
// if still running, and never lives longer than 90s.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startCommand(t, binary, args...)
}

// startCommand is start for a command that runs phoneboot (the binary
// itself, or "ip netns exec NS binary …").
func startCommand(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, name, args...)
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		cancel()
		if t.Failed() {
			t.Logf("phoneboot %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.stdout, p.stderr)
		}
	})
	return p
}

// exit waits at most d for the process to end and returns its exit code.
func (p *proc) exit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("phoneboot still running after %v\nstderr:\n%s", d, p.stderr)
		return -1
	}
}

// running reports whether the process has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitLog waits at most d for text to appear on stderr.
func (p *proc) waitLog(t *testing.T, text string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.stderr.String(), text) {
		if !p.running() {
			t.Fatalf("phoneboot exited (code %d) before logging %q:\n%s", p.cmd.ProcessState.ExitCode(), text, p.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("phoneboot did not log %q within %v:\n%s", text, d, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logLen is how much phoneboot has logged so far, a mark for waitLogSince.
func (p *proc) logLen() int { return len(p.stderr.String()) }

// waitLogSince waits at most d for text to appear on stderr after the
// first from bytes, and returns the offset just past it.
func (p *proc) waitLogSince(t *testing.T, from int, text string, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if i := strings.Index(p.stderr.String()[from:], text); i >= 0 {
			return from + i + len(text)
		}
		if !p.running() {
			t.Fatalf("phoneboot exited (code %d) before logging %q:\n%s", p.cmd.ProcessState.ExitCode(), text, p.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("phoneboot did not log %q within %v:\n%s", text, d, p.stderr.String()[from:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listenAddr waits at most d for the log line msg="<msg>" addr=HOST:PORT
// (a listener phoneboot opened, e.g. on port 0) and returns the address.
func (p *proc) listenAddr(t *testing.T, msg string, d time.Duration) netip.AddrPort {
	t.Helper()
	p.waitLog(t, `msg="`+msg+`"`, d)
	m := regexp.MustCompile(`msg="` + regexp.QuoteMeta(msg) + `" addr=(\S+)`).FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("log line %q names no addr:\n%s", msg, p.stderr)
	}
	a, err := netip.ParseAddrPort(m[1])
	if err != nil {
		t.Fatalf("log line %q: %v", msg, err)
	}
	return a
}

// waitUDPPort waits at most d until phoneboot itself has a UDP socket
// bound to port (on any address): it is listening there.
func (p *proc) waitUDPPort(t *testing.T, port int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !p.hasUDPPort(port) {
		if !p.running() {
			t.Fatalf("phoneboot exited (code %d) before listening on UDP port %d:\n%s", p.cmd.ProcessState.ExitCode(), port, p.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("phoneboot did not listen on UDP port %d within %v:\n%s", port, d, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasUDPPort reports whether one of the process's sockets (its
// /proc/PID/fd links socket:[INODE]) is a UDP socket on port in its
// network namespace's /proc/PID/net/udp or udp6.
func (p *proc) hasUDPPort(port int) bool {
	dir := fmt.Sprintf("/proc/%d", p.cmd.Process.Pid)
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return false
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(dir + "/fd/" + fd.Name())
		if inode, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	suffix := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"udp", "udp6"} {
		b, err := os.ReadFile(dir + "/net/" + table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) > 9 && strings.HasSuffix(f[1], suffix) && inodes[f[9]] {
				return true
			}
		}
	}
	return false
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// runQuick runs phoneboot to completion (at most 20s) and returns its
// exit code and outputs.
func runQuick(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := start(t, args...)
	code = p.exit(t, 20*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// serve starts "phoneboot serve" on a free loopback port and waits until
// it listens. It returns the process, the port and the data directory.
func serve(t *testing.T, extra ...string) (*proc, int, string) {
	t.Helper()
	return serveData(t, filepath.Join(t.TempDir(), "data"), extra...)
}

// serveData is serve with a data directory the test prepared. TFTP
// listens on 127.0.0.1, or on the host of a --tftp-addr in extra (":0":
// every address); the port is always picked here, since a port found free
// can be taken by someone else before phoneboot binds it: each of the
// attempts gets a new one.
func serveData(t *testing.T, data string, extra ...string) (*proc, int, string) {
	t.Helper()
	host, extra := tftpHost(t, extra)
	var lastErr string
	for range 3 {
		port := freePort(t, host)
		args := append([]string{"serve", "--data", data, "--tftp-addr", net.JoinHostPort(host, strconv.Itoa(port))}, extra...)
		p := start(t, args...)
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(p.stderr.String(), "tftp listening") {
				return p, port, data
			}
			if !p.running() {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		lastErr = p.stderr.String()
		if p.running() {
			t.Fatalf("phoneboot serve did not start listening within 15s:\n%s", lastErr)
		}
	}
	t.Fatalf("phoneboot serve failed to start:\n%s", lastErr)
	return nil, 0, ""
}

// tftpHost takes the --tftp-addr out of serve's extra arguments and
// returns its host (127.0.0.1 without one) and the other arguments.
func tftpHost(t *testing.T, extra []string) (string, []string) {
	t.Helper()
	host, rest := "127.0.0.1", []string{}
	for i := 0; i < len(extra); i++ {
		a := extra[i]
		v, ok := strings.CutPrefix(a, "--tftp-addr=")
		if !ok && a == "--tftp-addr" && i+1 < len(extra) {
			v, ok = extra[i+1], true
			i++
		}
		if !ok {
			rest = append(rest, a)
			continue
		}
		h, _, err := net.SplitHostPort(v)
		if err != nil {
			t.Fatalf("--tftp-addr %q: %v", v, err)
		}
		host = h
	}
	return host, rest
}

// freePort returns a UDP port that was free a moment ago on every socket
// that binding host:port opens, as phoneboot binds it (tftp.Listen): host
// "" is 0.0.0.0 and [::] both.
func freePort(t *testing.T, host string) int {
	t.Helper()
	var err error
	for range 20 {
		var c net.PacketConn
		c, err = net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		var conns []*net.UDPConn
		conns, err = tftp.Listen(net.JoinHostPort(host, strconv.Itoa(port)))
		for _, c := range conns {
			c.Close()
		}
		if err == nil {
			return port
		}
	}
	t.Fatalf("no UDP port free on every address of %q in 20 tries: %v", host, err)
	return 0
}

// curl fetches a file over TFTP from 127.0.0.1 with a 60s limit.
func curl(t *testing.T, bin string, port int, name, out string) error {
	t.Helper()
	return curlFrom(t, bin, netip.MustParseAddr("127.0.0.1"), port, name, out)
}

// curlFrom is curl from the source address from, as the phone there: a
// phone's own files go only to its address.
func curlFrom(t *testing.T, bin string, from netip.Addr, port int, name, out string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sS", "--interface", from.String(), "-o", out, fmt.Sprintf("tftp://127.0.0.1:%d/%s", port, name))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("curl: %v: %s", err, b)
	}
	return nil
}

// replaceFile replaces path with b in one step (a temporary file renamed
// over it, as phoneboot phones add does): a serve that reloads while the
// test writes must never read a half-written or empty file.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".test-tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
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

// nonEmptyLines splits output into its non-blank lines.
func nonEmptyLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
