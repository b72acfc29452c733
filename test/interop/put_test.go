package interop

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp"
)

// uploader describes how a client sends a file.
type uploader struct {
	name, tool string
	put        func(s *server, local, remote string) []string
}

var uploaders = []uploader{
	{name: "tftp-hpa", tool: "tftp", put: func(s *server, local, remote string) []string {
		return []string{"-m", "binary", s.host(), s.port(), "-c", "put", local, remote}
	}},
	{name: "atftp", tool: "atftp", put: func(s *server, local, remote string) []string {
		return []string{"-p", "-l", local, "-r", remote, s.host(), s.port()}
	}},
	// Blocks over 1020 bytes: the first server cut them to 1020 and
	// committed a truncated file (regression test).
	{name: "atftp-blksize-1428", tool: "atftp", put: func(s *server, local, remote string) []string {
		return []string{"--option", "blksize 1428", "--option", "tsize 0", "-p", "-l", local, "-r", remote, s.host(), s.port()}
	}},
	{name: "curl", tool: "curl", put: func(s *server, local, remote string) []string {
		return []string{"-sS", "-g", "-T", local, s.url(remote)}
	}},
	{name: "busybox", tool: "busybox", put: func(s *server, local, remote string) []string {
		return []string{"tftp", "-p", "-l", local, "-r", remote, s.host(), s.port()}
	}},
}

// TestClientsUpload: every client uploads a 300 KB file and one that is
// an exact multiple of 512 bytes (ends with an empty DATA) into an upload
// directory; each arrives intact under its name, with no temporary left.
func TestClientsUpload(t *testing.T) {
	files := map[string][]byte{"upload.bin": random(300_000, 7), "exact.bin": random(512*32, 8)}
	for _, u := range uploaders {
		t.Run(u.name, func(t *testing.T) {
			bin := testutil.Tool(t, u.tool)
			s := startServer(t, serverOpts{upload: true, maxUpload: 1 << 20, dally: time.Second})
			for name, content := range files {
				local := writeTemp(t, name, content)
				if out, err := run(t, bin, u.put(s, local, name)...); err != nil {
					t.Fatalf("%s put %s: %v\n%s", u.name, name, err, out)
				}
				if ev := s.event(t, name); ev.Outcome != tftp.OutcomeOK || ev.Size != int64(len(content)) {
					t.Errorf("%s: event outcome %q (%s), size %d, want ok and %d", name, ev.Outcome, ev.Error, ev.Size, len(content))
				}
				sameFile(t, filepath.Join(s.upload, name), local)
			}
			names := dirNames(t, s.upload)
			slices.Sort(names)
			if !slices.Equal(names, []string{"exact.bin", "upload.bin"}) {
				t.Errorf("upload directory holds %q, want exactly the two files", names)
			}
		})
	}
}

// TestUploadNetascii: tftp-hpa sends a text file in ascii mode (LF as
// CR LF, CR as CR NUL); the server stores the original bytes.
func TestUploadNetascii(t *testing.T) {
	bin := testutil.Tool(t, "tftp")
	s := startServer(t, serverOpts{upload: true, maxUpload: 1 << 20, dally: time.Second})
	local := writeTemp(t, "text.txt", []byte(textContent))
	if out, err := run(t, bin, "-m", "ascii", s.host(), s.port(), "-c", "put", local, "text.txt"); err != nil {
		t.Fatalf("tftp -m ascii put: %v\n%s", err, out)
	}
	if ev := s.event(t, "text.txt"); ev.Outcome != tftp.OutcomeOK || ev.Mode != tftp.ModeNetascii {
		t.Errorf("event outcome %q mode %q", ev.Outcome, ev.Mode)
	}
	sameFile(t, filepath.Join(s.upload, "text.txt"), local)
}

// TestUploadNetasciiBlockEnds: tftp-hpa in ascii mode sends a text whose
// netascii form has the CR of a CR LF or CR NUL pair as the last byte of
// every 512-byte block: the server stores the original bytes.
func TestUploadNetasciiBlockEnds(t *testing.T) {
	checkBlockEnds(t)
	bin := testutil.Tool(t, "tftp")
	s := startServer(t, serverOpts{upload: true, maxUpload: 1 << 20, dally: time.Second})
	local := writeTemp(t, blockEnds, []byte(blockEndsText))
	if out, err := run(t, bin, "-m", "ascii", s.host(), s.port(), "-c", "put", local, blockEnds); err != nil {
		t.Fatalf("tftp -m ascii put: %v\n%s", err, out)
	}
	if ev := s.event(t, blockEnds); ev.Outcome != tftp.OutcomeOK || ev.Mode != tftp.ModeNetascii || ev.Bytes != int64(len(netascii(blockEndsText))) {
		t.Errorf("event outcome %q mode %q, %d bytes; want ok, netascii, %d bytes on the wire", ev.Outcome, ev.Mode, ev.Bytes, len(netascii(blockEndsText)))
	}
	sameFile(t, filepath.Join(s.upload, blockEnds), local)
}

// TestUploadOverLimit: an upload over the server's limit fails with error
// 3 (RFC 2349 "allocation exceeded") and leaves nothing behind. curl and
// busybox announce the size in tsize (refused before any data); tftp-hpa
// sends no options, so the limit is hit in the middle of the transfer.
// Each client shows the code of the ERROR packet it received in its own
// way: tftp-hpa prints "Error code 3:", busybox "server error: (3)", and
// curl exits 70 (CURLE_REMOTE_DISK_FULL, its mapping of code 3 alone).
func TestUploadOverLimit(t *testing.T) {
	const limit = 1 << 20
	big := random(limit+300_000, 9)
	gotCode3 := map[string]func(out string, err error) bool{
		"tftp-hpa": func(out string, _ error) bool { return strings.Contains(out, "Error code 3:") },
		"busybox":  func(out string, _ error) bool { return strings.Contains(out, "server error: (3)") },
		"curl": func(_ string, err error) bool {
			var ee *exec.ExitError
			return errors.As(err, &ee) && ee.ExitCode() == 70
		},
	}
	for _, u := range []uploader{uploaders[0], uploaders[3], uploaders[4]} {
		t.Run(u.name, func(t *testing.T) {
			bin := testutil.Tool(t, u.tool)
			s := startServer(t, serverOpts{upload: true, maxUpload: limit, dally: time.Second})
			local := writeTemp(t, "big.bin", big)
			out, err := run(t, bin, u.put(s, local, "big.bin")...)
			ev := s.firstEvent(t, "big.bin")
			if ev.Outcome == tftp.OutcomeOK {
				t.Fatalf("an upload over the limit succeeded (client said: %v %s)", err, out)
			}
			if !gotCode3[u.name](out, err) {
				t.Errorf("%s did not receive TFTP error 3 (allocation exceeded): %v\n%s", u.name, err, out)
			}
			if !strings.Contains(ev.Error, "limit") {
				t.Errorf("event error %q, want it to name the limit", ev.Error)
			}
			if u.tool != "tftp" && err == nil {
				// tftp-hpa exits 0 even on a server error; the others must not.
				t.Errorf("%s exited 0 after a refused upload:\n%s", u.name, out)
			}
			if names := dirNames(t, s.upload); len(names) != 0 {
				t.Errorf("upload directory holds %q after a refused upload, want nothing", names)
			}
		})
	}
}
