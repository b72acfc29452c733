//go:build unix

package files

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDirRefusesOddFiles (issue 12, finding 10): a FIFO, a socket or a
// device in the TFTP root is refused at once, in words, however its name
// is spelled; opening a FIFO without O_NONBLOCK would wait for a writer
// for ever, and the transfer and the shutdown with it. A symlink to a
// device outside the root is refused as pointing outside.
func TestDirRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "SEP001122334455.cnf.xml"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero")); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, msg string }{
		{"SEP001122334455.cnf.xml", "SEP001122334455.cnf.xml in the TFTP root is not a regular file (a FIFO)"},
		{"sep001122334455.CNF.XML", "SEP001122334455.cnf.xml in the TFTP root is not a regular file (a FIFO)"},
		{"SEP001122334455.CNF.XML/x", "SEP001122334455.CNF.XML/x is not in the TFTP root"},
		{"sock", "sock in the TFTP root is not a regular file (a socket or a device)"},
		{"zero", "zero points outside the TFTP root, which phoneboot never serves"},
	}
	// The null device made inside the root, where mknod is allowed (root).
	if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, int(devNull())); err == nil {
		cases = append(cases, struct{ name, msg string }{"null", "null in the TFTP root is not a regular file (a device)"})
	} else {
		t.Logf("no device node test: mknod: %v", err)
	}
	d, err := OpenDir(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range cases {
		done := make(chan error, 1)
		go func() {
			f, err := d.Open(context.Background(), c.name)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			var fe *Error
			if !errors.As(err, &fe) || fe.Msg != c.msg {
				t.Errorf("Open(%q) = %v, want %q", c.name, err, c.msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%q) still blocked after 5s", c.name)
		}
	}
}

// devNull is the device number of /dev/null.
func devNull() uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/null", &st); err != nil {
		return 0
	}
	return uint64(st.Rdev)
}

// TestReadRegularFIFO: ReadRegular (the .loads files of the TFTP root,
// read at every reload) refuses a FIFO at once, in words.
func TestReadRegularFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "P0S3-08-12-00.loads")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadRegular(p); done <- err }()
	select {
	case err := <-done:
		if got, want := Why(err), "it is not a regular file (a FIFO)"; got != want {
			t.Errorf("Why(%v) = %q, want %q", err, got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadRegular of a FIFO still blocked after 5s")
	}
}
