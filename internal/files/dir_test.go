package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Every refusal of Dir is an *Error in words: it reaches the phone's
// screen, the event and the log as it is, so it must never carry a system
// call's text ("openat RINGLIST.DAT: no such file or directory").
func TestDirErrorsInWords(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	write := func(name string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Piano1.raw")
	write("locale/German_Germany/7960-dictionary.xml")
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "out.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop2", filepath.Join(dir, "loop1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop1", filepath.Join(dir, "loop2")); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	cases := []struct {
		name string
		code Code
		msg  string
	}{
		{"RINGLIST.DAT", NotFound, "RINGLIST.DAT is not in the TFTP root"},
		{"German_Germany/7960-kate.xml", NotFound, "German_Germany/7960-kate.xml is not in the TFTP root"},
		{"Piano1.raw/x", NotFound, "Piano1.raw/x is not in the TFTP root"},
		{"locale", NotFound, "locale is a directory in the TFTP root, not a file"},
		{"out.txt", Denied, "out.txt points outside the TFTP root, which phoneboot never serves"},
		{"loop1", Denied, "loop1 in the TFTP root is a symbolic link that loops"},
	}
	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		write("private.cnf")
		if err := os.Chmod(filepath.Join(dir, "private.cnf"), 0); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name string
			code Code
			msg  string
		}{"private.cnf", Denied, "private.cnf is in the TFTP root but phoneboot may not read it (file permissions)"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Open(context.Background(), c.name)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a files.Error", err, err)
			}
			if fe.Code != c.code || fe.Msg != c.msg {
				t.Errorf("got code %d %q, want %d %q", fe.Code, fe.Msg, c.code, c.msg)
			}
			for _, syscallText := range []string{"openat", "no such file", "directory:", "escapes", "too many levels", "errno"} {
				if strings.Contains(err.Error(), syscallText) {
					t.Errorf("error %q holds system call text %q", err, syscallText)
				}
			}
			// Callers that test for kinds still can.
			if c.code == NotFound && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
			}
		})
	}

	// A name found by ignoring case is served, and one that is not there
	// in any case is named as asked.
	if f, err := d.Open(context.Background(), "piano1.RAW"); err != nil || f.Size() != 1 {
		t.Errorf("case-insensitive open: %v", err)
	}
	if _, err := d.Open(context.Background(), "ringlist.dat"); err == nil || err.Error() != "ringlist.dat is not in the TFTP root" {
		t.Errorf("err = %v", err)
	}
}
