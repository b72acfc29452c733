package cli

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp"
)

// TestServeCreatesDataDirAndServes: "phoneboot serve --data D" creates
// D/tftp, serves what is put there to a real client, and stops cleanly on
// SIGTERM.
func TestServeCreatesDataDirAndServes(t *testing.T) {
	curlBin := testutil.Tool(t, "curl")
	p, port, data := serve(t)
	root := filepath.Join(data, "tftp")
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		t.Fatalf("%s was not created: %v", root, err)
	}
	content := []byte("<device><loadInformation>SIP70.9-4-2SR3-1S</loadInformation></device>\n")
	if err := os.WriteFile(filepath.Join(root, "SEP001122334455.cnf.xml"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "got")
	if err := curl(t, curlBin, port, "SEP001122334455.cnf.xml", out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
		t.Fatalf("curl got %q, want %q", got, content)
	}
	p.waitLog(t, "outcome=ok", 5*time.Second)
	p.signal(t, syscall.SIGTERM)
	if code := p.exit(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(p.stderr.String(), "stopped") {
		t.Errorf("no \"stopped\" in the log:\n%s", p.stderr)
	}
}

// TestServePortInUse: when the TFTP address is taken, serve exits at once
// with a non-zero code and a message that says so and what to do.
func TestServePortInUse(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.LocalAddr().String()
	code, _, stderr := runQuick(t, "serve", "--data", filepath.Join(t.TempDir(), "d"), "--tftp-addr", addr)
	if code == 0 {
		t.Fatalf("exit code 0 with %s already in use", addr)
	}
	for _, want := range []string{addr, "already in use", "--tftp-addr"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("message does not mention %q:\n%s", want, stderr)
		}
	}
}

// TestServeBadAddress: an address that cannot be parsed, or that is not
// on this machine, is explained (binding 192.0.2.1, TEST-NET-1, fails
// locally: no packet is sent).
func TestServeBadAddress(t *testing.T) {
	for addr, want := range map[string]string{
		"nonsense":      "host:port",
		"192.0.2.1:69":  "no interface",
		"127.0.0.1:abc": "cannot listen",
	} {
		code, _, stderr := runQuick(t, "serve", "--data", filepath.Join(t.TempDir(), "d"), "--tftp-addr", addr)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("--tftp-addr %s: exit code %d, message %q; want non-zero and %q", addr, code, stderr, want)
		}
	}
}

// TestSIGTERMLetsTransferFinish: SIGTERM during a slow transfer stops new
// requests but lets the running transfer end; the client gets the whole
// file and phoneboot exits 0 soon after, within its shutdown timeout.
func TestSIGTERMLetsTransferFinish(t *testing.T) {
	// A long minimum timeout keeps the server from retransmitting while
	// the slow client dawdles between ACKs.
	p, port, data := serve(t, "--shutdown-timeout", "20s", "--tftp-min-timeout", "1s", "--tftp-rate", "0")
	content := bytes.Repeat([]byte("0123456789abcdef"), 100*512/16)
	content = append(content, "tail"...)
	if err := os.WriteFile(filepath.Join(data, "tftp", "slow.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	c := udp(t)
	send(t, c, server, tftp.AppendRequest(nil, tftp.OpRRQ, "slow.bin", tftp.ModeOctet))
	var got []byte
	var tid netip.AddrPort
	signalled, complete := false, false
	block := uint16(1)
	for iter := 0; iter < 1000 && !complete; iter++ {
		b, from, err := recv(c, 5*time.Second)
		if err != nil {
			t.Fatalf("waiting for block %d: %v", block, err)
		}
		n, payload, err := tftp.ParseData(b)
		if err != nil {
			t.Fatalf("block %d: got a non-DATA packet % x", block, b[:min(len(b), 40)])
		}
		if n != block {
			continue // a retransmission crossed our ACK
		}
		tid = from
		got = append(got, payload...)
		if block == 10 && !signalled {
			p.signal(t, syscall.SIGTERM)
			signalled = true
			p.waitLog(t, "shutting down", 5*time.Second)
			// The listener is closed: a new request gets no answer.
			q := udp(t)
			send(t, q, server, tftp.AppendRequest(nil, tftp.OpRRQ, "slow.bin", tftp.ModeOctet))
			if b, _, err := recv(q, 300*time.Millisecond); err == nil {
				t.Errorf("a new request during shutdown was answered: % x", b[:min(len(b), 40)])
			}
		}
		if !p.running() {
			t.Fatalf("phoneboot exited at block %d, before the transfer ended", block)
		}
		time.Sleep(15 * time.Millisecond) // the slow client
		send(t, c, tid, tftp.AppendAck(nil, block))
		complete = len(payload) < 512
		block++
	}
	if !complete || !signalled {
		t.Fatalf("transfer incomplete after %d blocks (signalled: %v)", block-1, signalled)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("got %d bytes, want %d", len(got), len(content))
	}
	finished := time.Now()
	if code := p.exit(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if d := p.exited.Sub(finished); d > 5*time.Second {
		t.Errorf("phoneboot took %v to exit after the transfer ended", d)
	}
	if strings.Contains(p.stderr.String(), "shutdown timeout reached") {
		t.Errorf("the transfer was cut by the shutdown timeout")
	}
}

// TestSIGTERMCutsStalledTransfer: a transfer that does not finish within
// --shutdown-timeout is cut, and phoneboot still exits 0 promptly.
func TestSIGTERMCutsStalledTransfer(t *testing.T) {
	p, port, data := serve(t, "--shutdown-timeout", "1s", "--tftp-retries", "100", "--tftp-max-timeout", "1s")
	if err := os.WriteFile(filepath.Join(data, "tftp", "stall.bin"), make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	c := udp(t)
	send(t, c, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), tftp.AppendRequest(nil, tftp.OpRRQ, "stall.bin", tftp.ModeOctet))
	if _, _, err := recv(c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Never ACK: with 100 retries the transfer would run for minutes.
	signalled := time.Now()
	p.signal(t, syscall.SIGTERM)
	if code := p.exit(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if d := p.exited.Sub(signalled); d > 4*time.Second {
		t.Errorf("exit took %v with --shutdown-timeout 1s", d)
	}
	if !strings.Contains(p.stderr.String(), "shutdown timeout reached") {
		t.Errorf("no word that the transfer was cut:\n%s", p.stderr)
	}
}

// TestBadFlags: invalid flag values and unknown flags exit non-zero with a
// one-line reason naming the flag, before creating anything on disk.
func TestBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--tftp-rollover", "2"}, "phoneboot: serve: --tftp-rollover must be 0 or 1, not 2"},
		{[]string{"--tftp-rollover", "-1"}, "--tftp-rollover must be 0 or 1"},
		{[]string{"--tftp-max-blksize", "7"}, "--tftp-max-blksize must be from 8 to 65464"},
		{[]string{"--tftp-max-blksize", "65465"}, "--tftp-max-blksize must be from 8 to 65464"},
		{[]string{"--tftp-max-windowsize", "0"}, "--tftp-max-windowsize must be from 1 to 65535"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--db", "mysql://u:secret@127.0.0.1/x"}, `--db must be a postgres:// URL, not "mysql://u:xxxxx@127.0.0.1/x"`},
		{[]string{"extra"}, "unexpected argument \"extra\""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "d")
			code, stdout, stderr := runQuick(t, append([]string{"serve", "--data", data, "--tftp-addr", "127.0.0.1:0"}, c.args...)...)
			if code == 0 {
				t.Fatalf("exit code 0")
			}
			lines := nonEmptyLines(stderr)
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was created despite the bad flag", data)
			}
		})
	}
	t.Run("unknown flag", func(t *testing.T) {
		// One line: the reason and where to look, not the whole flag list.
		code, _, stderr := runQuick(t, "serve", "--data", filepath.Join(t.TempDir(), "d"), "--bogus")
		if code == 0 {
			t.Fatalf("exit code 0")
		}
		lines := nonEmptyLines(stderr)
		if len(lines) != 1 || lines[0] != "phoneboot: flag provided but not defined: -bogus (see phoneboot serve --help)" {
			t.Errorf("stderr is not the one-line reason:\n%s", stderr)
		}
	})
}

// TestNoArgsHelpVersion: bare "phoneboot" prints the usage and fails;
// "version" prints one line and succeeds; "help" succeeds; an unknown
// command fails.
func TestNoArgsHelpVersion(t *testing.T) {
	code, stdout, stderr := runQuick(t)
	if code == 0 || !strings.Contains(stderr, "Usage:") || !strings.Contains(stderr, "no command given") || stdout != "" {
		t.Errorf("no arguments: code %d, stdout %q, stderr %q; want non-zero, usage on stderr", code, stdout, stderr)
	}
	for _, arg := range []string{"version", "--version"} {
		code, stdout, stderr = runQuick(t, arg)
		if code != 0 || !regexp.MustCompile(`^phoneboot \S+\n$`).MatchString(stdout) || stderr != "" {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want 0 and one line \"phoneboot VERSION\"", arg, code, stdout, stderr)
		}
	}
	for _, arg := range []string{"help", "--help", "-h"} {
		code, stdout, _ = runQuick(t, arg)
		if code != 0 || !strings.Contains(stdout, "phoneboot serve") {
			t.Errorf("%s: code %d, stdout %q; want 0 and the usage", arg, code, stdout)
		}
	}
	code, _, stderr = runQuick(t, "frobnicate")
	if code == 0 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, stderr)
	}
	// serve --help lists the flags on stdout and succeeds, like --help.
	code, stdout, stderr = runQuick(t, "serve", "--help")
	if code != 0 || !strings.Contains(stdout, "-tftp-addr") || !strings.Contains(stdout, "-shutdown-timeout") {
		t.Errorf("serve --help: code %d, want 0 and the flags on stdout:\n%s%s", code, stdout, stderr)
	}
}

// udp opens a client socket on 127.0.0.1.
func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *net.UDPConn, to netip.AddrPort, b []byte) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func recv(c *net.UDPConn, d time.Duration) ([]byte, netip.AddrPort, error) {
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(d))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, from, err
	}
	return buf[:n], from, nil
}

// TestCheckConfig: "check" explains a broken phoneboot.toml with file and
// line, accepts a good one, and "serve" refuses to start on a broken one.
func TestCheckConfig(t *testing.T) {
	data := t.TempDir()
	code, stdout, _ := runQuick(t, "check", "--data", data)
	if code != 0 || !strings.Contains(stdout, "not there") {
		t.Errorf("no config: code %d, stdout %q", code, stdout)
	}
	cfg := filepath.Join(data, "phoneboot.toml")
	if err := os.WriteFile(cfg, []byte("[[phone]]\nmac = \"00137F38B3DE\"\nmodel = \"7960\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runQuick(t, "check", "--data", data)
	if code != 0 || !strings.Contains(stdout, "ok: ") || !strings.Contains(stdout, "1 phones") {
		t.Errorf("good config: code %d, stdout %q", code, stdout)
	}
	if err := os.WriteFile(cfg, []byte("[[phone]]\nmac = \"00137F38B3DE\"\nlable = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := cfg + `:3: unknown key "phone.lable" (did you mean "label"?)`
	for _, args := range [][]string{{"check", "--data", data}, {"serve", "--data", data, "--tftp-addr", "127.0.0.1:0"}} {
		code, stdout, stderr := runQuick(t, args...)
		if code == 0 || !strings.Contains(stdout+stderr, want) {
			t.Errorf("%s with a broken config: code %d, output %q; want %q", args[0], code, stdout+stderr, want)
		}
	}
}
