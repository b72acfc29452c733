package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// TestNetasciiMemory (issue 12, finding 3): netascii is converted while it
// is sent, so 20 netascii reads of a 16 MiB text at once raise the peak
// RSS of phoneboot (VmHWM against VmRSS before) by less than 50 MB; it
// was 573 MB when each read converted the whole file first. Every client
// gets the exact netascii bytes, and tsize announces their count.
func TestNetasciiMemory(t *testing.T) {
	const readers, limitMB = 20, 50
	data := filepath.Join(t.TempDir(), "data")
	text := testutil.Text(16<<20, 7)
	if err := os.MkdirAll(filepath.Join(data, "tftp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "tftp", "big.txt"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	wire := testutil.Netascii(text)
	want := sha256.Sum256(wire)
	text = nil

	p, port, _ := serveData(t, data, "--tftp-rate", "0")
	before := procStatus(t, p, "VmRSS")
	client := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		Mode: tftp.ModeNetascii, Blksize: 8192, Windowsize: 8, Tsize: true, Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, readers)
	for i := range readers {
		wg.Go(func() {
			h := sha256.New()
			st, err := client.Get(ctx, "big.txt", h)
			switch {
			case err != nil:
				errs[i] = err
			case st.Tsize != int64(len(wire)):
				errs[i] = fmt.Errorf("tsize %d, want %d (the netascii size)", st.Tsize, len(wire))
			case !bytes.Equal(h.Sum(nil), want[:]):
				errs[i] = fmt.Errorf("got %d bytes that are not the file in netascii (%d bytes)", st.Bytes, len(wire))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("reader %d: %v", i, err)
		}
	}
	peak := procStatus(t, p, "VmHWM")
	t.Logf("phoneboot RSS before %d MB, peak during %d netascii reads of %d bytes: %d MB (+%d MB)",
		before>>20, readers, len(wire), peak>>20, (peak-before)>>20)
	if rise := peak - before; rise >= limitMB<<20 {
		t.Errorf("peak RSS rose by %d MB during %d netascii reads of a 16 MiB file, want under %d MB", rise>>20, readers, limitMB)
	}
}

// procStatus returns a memory field of /proc/PID/status ("VmRSS",
// "VmHWM") of the running phoneboot, in bytes.
func procStatus(t *testing.T, p *proc, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc status %s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc status has no %s", field)
	return 0
}

// TestFIFOInRoot (issue 12, finding 10): a FIFO in the TFTP root, one
// served by name and one that the reload reads (a .loads file), neither
// hangs the start, a read request, nor the shutdown: the request is
// refused at once in words, and SIGTERM ends phoneboot promptly. Opening a
// FIFO blocks until someone writes to it, and the shutdown waited for
// that transfer for ever.
func TestFIFOInRoot(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	root := filepath.Join(data, "tftp")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"logo.bmp", "P0S3-08-12-00.loads"} {
		if err := syscall.Mkfifo(filepath.Join(root, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, port, _ := serveData(t, data)
	client := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Timeout: time.Second, Retries: 1}
	for _, name := range []string{"logo.bmp", "LOGO.BMP"} {
		start := time.Now()
		_, err := client.Get(context.Background(), name, io.Discard)
		var te *tftptest.Error
		want := "logo.bmp in the TFTP root is not a regular file (a FIFO)"
		if !errors.As(err, &te) || te.Code != tftp.ErrAccessViolation || te.Message != want {
			t.Errorf("RRQ %s: %v, want error 2 %q", name, err, want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("RRQ %s answered after %v, want at once", name, d)
		}
	}
	stop := time.Now()
	p.signal(t, syscall.SIGTERM)
	if code := p.exit(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if d := p.exited.Sub(stop); d > 3*time.Second {
		t.Errorf("SIGTERM took %v to stop phoneboot, want under 3s", d)
	}
}

// TestRequestLogBounded (issue 12, finding 11): what phoneboot logs of a
// request is bounded whatever the request holds: a 60 KB name is cut at
// 256 bytes, 32,000 empty options make 16 notes and a count of the rest
// (one 65 KB request made a log line of 655 KB).
func TestRequestLogBounded(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(data, "tftp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "tftp", "small.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, port, _ := serveData(t, data)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	manyOptions := append(tftp.AppendRequest(nil, tftp.OpRRQ, "small.txt", tftp.ModeOctet), make([]byte, 2*32000)...)
	for _, c := range []struct {
		what, marker string
		req          []byte
	}{
		{"a 60 KB name", "…[60000 bytes]", tftp.AppendRequest(nil, tftp.OpRRQ, strings.Repeat("A", 60000), tftp.ModeOctet)},
		{"32,000 empty options", "… and 31984 more options dropped or changed, not listed", manyOptions},
	} {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		send(t, conn, server, c.req)
		// Finish the transfer if there is one: ACK its only block.
		b, from, err := recv(conn, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: no answer: %v", c.what, err)
		}
		if blk, _, err := tftp.ParseData(b); err == nil {
			send(t, conn, from, tftp.AppendAck(nil, blk))
		}
		client := "client=" + conn.LocalAddr().String() + " "
		p.waitLog(t, client, 10*time.Second)
		for line := range strings.SplitSeq(p.stderr.String(), "\n") {
			if !strings.Contains(line, client) {
				continue
			}
			t.Logf("%s: log line of %d bytes", c.what, len(line))
			if len(line) > 2048 || !strings.Contains(line, c.marker) {
				t.Errorf("%s: log line of %d bytes, want at most 2048 with %q: %.600s", c.what, len(line), c.marker, line)
			}
		}
	}
}

// TestUploadDirRefused (issue 12, finding 8): serve refuses an upload
// directory that is, is inside or contains (also through a symbolic
// link) a folder phoneboot serves or reads, with a reason in words and
// before it listens: any host may upload, and a SEP<MAC>.cnf.xml uploaded
// into the TFTP root would be served in place of the generated one.
func TestUploadDirRefused(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	for _, d := range []string{"tftp/sub", "firmware", "templates"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(filepath.Join(data, "tftp"), link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{filepath.Join(data, "tftp"), "is inside the TFTP root"},
		{filepath.Join(data, "tftp", "sub"), "is inside the TFTP root"},
		{link, "is inside the TFTP root"},
		{filepath.Join(data, "firmware"), "is inside the firmware catalog"},
		{filepath.Join(data, "templates"), "is inside the templates folder"},
		{data, "contains the TFTP root"},
		{base, "contains the TFTP root"},
	} {
		code, _, stderr := runQuick(t, "serve", "--data", data, "--upload-dir", c.dir, "--tftp-addr", "127.0.0.1:0", "--syslog-addr", "")
		if code == 0 || !strings.Contains(stderr, "--upload-dir "+c.dir+" "+c.want) || !strings.Contains(stderr, "any host may upload") {
			t.Errorf("--upload-dir %s: exit %d, stderr %q; want an error saying it %s", c.dir, code, stderr, c.want)
		}
		if strings.Contains(stderr, "tftp listening") {
			t.Errorf("--upload-dir %s: phoneboot listened before refusing it", c.dir)
		}
	}
}

// TestUploadDirTotal (issue 12, finding 8): --upload-max-total-mb caps
// what the upload directory holds; an upload that would pass it is
// refused with ERROR 3 and leaves nothing, and once the admin frees room
// uploads are taken again.
func TestUploadDirTotal(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	uploads := filepath.Join(data, "uploads")
	if err := os.MkdirAll(uploads, 0o755); err != nil {
		t.Fatal(err)
	}
	_, port, _ := serveData(t, data, "--upload-dir", uploads, "--upload-max-total-mb", "1")
	client := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Blksize: 1428, Timeout: time.Second}
	put := func(name string) error {
		b := testutil.Text(700<<10, 1)
		_, err := client.Put(context.Background(), name, bytes.NewReader(b), int64(len(b)))
		return err
	}
	if err := put("first.bin"); err != nil {
		t.Fatalf("first upload: %v", err)
	}
	var te *tftptest.Error
	if err := put("second.bin"); !errors.As(err, &te) || te.Code != tftp.ErrDiskFull || te.Message != "the upload folder is full (limit 1 MiB)" {
		t.Fatalf("upload past the total: %v, want error 3 \"the upload folder is full (limit 1 MiB)\"", err)
	}
	// The refused upload's temporary file goes right after the ERROR.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		names, _ := filepath.Glob(filepath.Join(uploads, "*"))
		if len(names) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload folder holds %q, want first.bin only", names)
		}
	}
	// The admin makes room: the folder is counted again (at most once a
	// second), and the upload is taken.
	if err := os.Remove(filepath.Join(uploads, "first.bin")); err != nil {
		t.Fatal(err)
	}
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = put("third.bin"); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("upload after room was made: %v", err)
	}
}
