package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp"
)

// client describes how a third-party program fetches a file.
type client struct {
	name    string
	tool    string // program name for testutil.Tool
	blksize int    // the block size the server must have agreed to
	window  int    // the window size the server must have agreed to
	mult    string // served file that is an exact multiple of blksize
	get     func(s *server, remote, local string) []string
}

var clients = []client{
	{name: "curl", tool: "curl", blksize: 512, window: 1, mult: mult512,
		get: func(s *server, remote, local string) []string {
			// -g: no URL globbing, so an IPv6 literal in brackets works.
			return []string{"-sS", "-g", "-o", local, s.url(remote)}
		}},
	{name: "tftp-hpa", tool: "tftp", blksize: 512, window: 1, mult: mult512,
		get: func(s *server, remote, local string) []string {
			return []string{"-m", "binary", s.host(), s.port(), "-c", "get", remote, local}
		}},
	{name: "atftp", tool: "atftp", blksize: 1428, window: 16, mult: mult1428,
		get: func(s *server, remote, local string) []string {
			// "tsize enable" would be sent as the word "enable": ask with 0.
			return []string{"--option", "blksize 1428", "--option", "windowsize 16", "--option", "tsize 0",
				"-g", "-r", remote, "-l", local, s.host(), s.port()}
		}},
	{name: "busybox", tool: "busybox", blksize: 512, window: 1, mult: mult512,
		get: func(s *server, remote, local string) []string {
			return []string{"tftp", "-g", "-r", remote, "-l", local, s.host(), s.port()}
		}},
}

// fetch runs c to get remote and checks the bytes and the server's event.
func fetch(t *testing.T, c client, bin string, s *server, remote, want string) tftp.Event {
	t.Helper()
	local := filepath.Join(t.TempDir(), "out")
	out, err := run(t, bin, c.get(s, remote, local)...)
	if err != nil {
		t.Fatalf("%s get %s: %v\n%s", c.name, remote, err, out)
	}
	checkFile(t, local, want)
	ev := s.event(t, remote)
	if ev.Outcome != tftp.OutcomeOK || ev.Bytes != servedSize(t, want) {
		t.Fatalf("%s get %s: event outcome %q (%s), %d bytes acknowledged; all attempts: %q", c.name, remote, ev.Outcome, ev.Error, ev.Bytes, s.attempts(remote))
	}
	if n := len(s.attempts(remote)); n > 1 {
		t.Logf("%s get %s took %d requests: %q", c.name, remote, n, s.attempts(remote))
	}
	return ev
}

// TestClientsFetch: every client fetches a one-block file, a 2 MiB file
// and a file that is an exact multiple of its block size (the transfer
// must end with an empty DATA block, RFC 1350 §6), byte for byte, with
// the options it asked for.
func TestClientsFetch(t *testing.T) {
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			bin := testutil.Tool(t, c.tool)
			s := startServer(t, serverOpts{})
			for _, name := range []string{smallFile, twoMB, c.mult} {
				ev := fetch(t, c, bin, s, name, name)
				if ev.Blksize != c.blksize || ev.Windowsize != c.window {
					t.Errorf("%s: negotiated blksize %d windowsize %d, want %d and %d", name, ev.Blksize, ev.Windowsize, c.blksize, c.window)
				}
				if name == c.mult && ev.Size%int64(ev.Blksize) != 0 {
					t.Errorf("%s is %d bytes, not a multiple of blksize %d: the test file is wrong", name, ev.Size, ev.Blksize)
				}
			}
		})
	}
}

// TestClientsRollover: a 40 MiB file in 512-byte blocks needs 81920
// blocks, so the block number wraps after 65535 (to 0, what these
// clients expect; no RFC defines it, peers.md §4 item 8). atftp runs with
// windowsize 16 so that windows straddle the wrap. The clients run side by
// side against one server: that is also a small concurrency test.
func TestClientsRollover(t *testing.T) {
	s := startServer(t, serverOpts{})
	rollover := []client{clients[0], clients[1], clients[3], {
		name: "atftp-512", tool: "atftp", blksize: 512, window: 16,
		get: func(s *server, remote, local string) []string {
			return []string{"--option", "blksize 512", "--option", "windowsize 16", "--option", "tsize 0",
				"-g", "-r", remote, "-l", local, s.host(), s.port()}
		}}}
	if n := servedSize(t, bigFile) / 512; n <= 65535 {
		t.Fatalf("%s has %d blocks: it does not cross block 65535", bigFile, n)
	}
	// Each client asks for the file under its own spelling (the server
	// finds files case-insensitively) so that the events can be told apart.
	spelling := map[string]string{"curl": "big.bin", "tftp-hpa": "BIG.bin", "busybox": "Big.Bin", "atftp-512": "bIG.BIN"}
	for _, c := range rollover {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bin := testutil.Tool(t, c.tool)
			ev := fetch(t, c, bin, s, spelling[c.name], bigFile)
			if ev.Blksize != 512 || ev.Windowsize != c.window {
				t.Errorf("negotiated blksize %d windowsize %d, want 512 and %d", ev.Blksize, ev.Windowsize, c.window)
			}
		})
	}
}

// TestNetascii: tftp-hpa in ascii mode. The server sends LF as CR LF and
// CR as CR NUL (RFC 764), the client turns them back, so the file arrives
// as it is on disk; the event shows the netascii size on the wire.
func TestNetascii(t *testing.T) {
	bin := testutil.Tool(t, "tftp")
	s := startServer(t, serverOpts{})
	local := filepath.Join(t.TempDir(), "text.txt")
	out, err := run(t, bin, "-m", "ascii", s.host(), s.port(), "-c", "get", textFile, local)
	if err != nil {
		t.Fatalf("tftp -m ascii: %v\n%s", err, out)
	}
	checkFile(t, local, textFile)
	ev := s.event(t, textFile)
	wire := netascii(textContent)
	if ev.Outcome != tftp.OutcomeOK || ev.Mode != tftp.ModeNetascii || ev.Size != int64(len(wire)) {
		t.Errorf("event outcome %q mode %q size %d, want ok, netascii, %d bytes on the wire", ev.Outcome, ev.Mode, ev.Size, len(wire))
	}
}

// TestNetasciiBlockEnds: tftp-hpa in ascii mode fetches a file whose
// netascii form has a CR as the last byte of every 512-byte block, the LF
// or NUL that completes it at the start of the next: nothing is lost or
// added at a block end.
func TestNetasciiBlockEnds(t *testing.T) {
	checkBlockEnds(t)
	bin := testutil.Tool(t, "tftp")
	s := startServer(t, serverOpts{})
	local := filepath.Join(t.TempDir(), blockEnds)
	if out, err := run(t, bin, "-m", "ascii", s.host(), s.port(), "-c", "get", blockEnds, local); err != nil {
		t.Fatalf("tftp -m ascii: %v\n%s", err, out)
	}
	checkFile(t, local, blockEnds)
	if ev := s.event(t, blockEnds); ev.Outcome != tftp.OutcomeOK || ev.Size != int64(len(netascii(blockEndsText))) {
		t.Errorf("event outcome %q size %d, want ok, %d bytes on the wire", ev.Outcome, ev.Size, len(netascii(blockEndsText)))
	}
}

// TestNetasciiLarge: tftp-hpa in ascii mode fetches 2 MiB of text whose
// LF, CR LF and bare CR the server converts while it sends (4096 blocks,
// pairs split at block ends all along): the file arrives as it is on disk.
func TestNetasciiLarge(t *testing.T) {
	bin := testutil.Tool(t, "tftp")
	s := startServer(t, serverOpts{})
	local := filepath.Join(t.TempDir(), linesFile)
	if out, err := run(t, bin, "-m", "ascii", s.host(), s.port(), "-c", "get", linesFile, local); err != nil {
		t.Fatalf("tftp -m ascii: %v\n%s", err, out)
	}
	checkFile(t, local, linesFile)
	if ev := s.event(t, linesFile); ev.Outcome != tftp.OutcomeOK || ev.Mode != tftp.ModeNetascii || ev.Size <= 2<<20 {
		t.Errorf("event outcome %q mode %q size %d, want ok, netascii, more than 2 MiB on the wire", ev.Outcome, ev.Mode, ev.Size)
	}
}

// netascii is the wire form of a text (RFC 764).
func netascii(s string) string { return strings.NewReplacer("\n", "\r\n", "\r", "\r\x00").Replace(s) }

// checkBlockEnds makes sure blockEndsText does what it is for.
func checkBlockEnds(t *testing.T) {
	t.Helper()
	wire := netascii(blockEndsText)
	n := 0
	for end := 511; end+1 < len(wire); end += 512 {
		if wire[end] != '\r' || (wire[end+1] != '\n' && wire[end+1] != 0) {
			t.Fatalf("test file: netascii byte %d is %q %q, want CR then LF or NUL", end, wire[end], wire[end+1])
		}
		n++
	}
	if n < 6 {
		t.Fatalf("test file: only %d block ends", n)
	}
}

// TestPhoneNames: Cisco phones and their firmware ask for names with a
// leading "/" or "./", with backslashes, and in another case than the
// file on disk. tftp-hpa and busybox send the name exactly as given; curl
// keeps a second leading slash of the URL path.
func TestPhoneNames(t *testing.T) {
	names := map[string]string{
		"/" + cnfFile:                        cnfFile,
		"./" + cnfFile:                       cnfFile,
		"sep001122334455.CNF.XML":            cnfFile,
		"/Sep001122334455.cnf.xml":           cnfFile,
		`Firmware\Term71.default.loads`:      loadsFile,
		`\firmware\TERM71.DEFAULT.LOADS`:     loadsFile,
		"firmware/term71.default.loads":      loadsFile,
		"//Firmware//./Term71.default.loads": loadsFile,
	}
	for _, c := range []client{clients[1], clients[3]} {
		t.Run(c.name, func(t *testing.T) {
			bin := testutil.Tool(t, c.tool)
			s := startServer(t, serverOpts{})
			for remote, want := range names {
				fetch(t, c, bin, s, remote, want)
			}
		})
	}
	t.Run("curl", func(t *testing.T) {
		bin := testutil.Tool(t, "curl")
		s := startServer(t, serverOpts{})
		local := filepath.Join(t.TempDir(), "out")
		if out, err := run(t, bin, "-sS", "-o", local, s.url("/"+strings.ToUpper(cnfFile))); err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		checkFile(t, local, cnfFile)
		if ev := s.event(t, "/"+strings.ToUpper(cnfFile)); ev.Outcome != tftp.OutcomeOK {
			t.Errorf("event outcome %q", ev.Outcome)
		}
	})
	t.Run("missing", func(t *testing.T) {
		// A file that does not exist: error 1, and tftp-hpa says so.
		bin := testutil.Tool(t, "tftp")
		s := startServer(t, serverOpts{})
		local := filepath.Join(t.TempDir(), "out")
		out, _ := run(t, bin, "-m", "binary", s.host(), s.port(), "-c", "get", "SEPFFFFFFFFFFFF.cnf.xml", local)
		if !strings.Contains(out, "Error code 1") {
			t.Errorf("tftp-hpa output %q, want \"Error code 1\" (file not found)", out)
		}
		if b, _ := os.ReadFile(local); len(b) != 0 {
			t.Errorf("got %d bytes for a missing file", len(b))
		}
	})
}

// TestIPv6: curl and tftp-hpa over [::1]. Skipped when the machine has
// no IPv6 loopback, unless PHONEBOOT_REQUIRE_INTEROP=1.
func TestIPv6(t *testing.T) {
	testutil.IPv6Loopback(t)
	s := startServer(t, serverOpts{listen: "[::1]:0"})
	t.Run("curl", func(t *testing.T) {
		bin := testutil.Tool(t, "curl")
		ev := fetch(t, clients[0], bin, s, smallFile, smallFile)
		if !ev.Remote.Addr().Is6() || !ev.Local.IsLoopback() {
			t.Errorf("event remote %v local %v, want ::1", ev.Remote, ev.Local)
		}
	})
	t.Run("tftp-hpa", func(t *testing.T) {
		bin := testutil.Tool(t, "tftp")
		local := filepath.Join(t.TempDir(), "out")
		if out, err := run(t, bin, "-6", "-m", "binary", s.host(), s.port(), "-c", "get", twoMB, local); err != nil {
			t.Fatalf("tftp -6: %v\n%s", err, out)
		}
		checkFile(t, local, twoMB)
	})
}
