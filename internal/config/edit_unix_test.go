//go:build unix && !aix

package config

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestEditKeepsOwner: as root, an edit keeps the file's owner and group;
// a user who may write the file but cannot give a new copy its owner is
// refused, and the file stays as it was.
func TestEditKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file another owner")
	}
	// Not t.TempDir: its parent is private, and user 4323 runs a binary here.
	dir, err := os.MkdirTemp("", "phoneboot-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	path := filepath.Join(dir, "phoneboot.toml")
	os.WriteFile(path, []byte(edited), 0o600)
	if err := os.Chown(path, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	if err := AddPhone(path, true, NewPhone{MAC: mac(t, "00137F0000AA"), Model: "7940", Protocol: "SCCP"}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 4321 || s.Gid != 4322 || st.Mode().Perm() != 0o600 {
		t.Errorf("owner %d:%d mode %v, want 4321:4322 0600", s.Uid, s.Gid, st.Mode().Perm())
	}

	st, _ = os.Stat(path + ".lock")
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 4321 || s.Gid != 4322 || st.Mode().Perm() != 0o600 {
		t.Errorf("lock file owner %d:%d mode %v, want the config's owner 4321:4322, 0600", s.Uid, s.Gid, st.Mode().Perm())
	}

	// User 4323 may write the file (0666) and its folder, but its copy
	// would be its own: refused, nothing written.
	os.Chmod(path, 0o666)
	os.Remove(path + ".lock") // the lock of 4321 is not for 4323 to open
	before := read(t, path)
	exe := filepath.Join(dir, "editor.test")
	copyFile(t, exe)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PHONEBOOT_TEST_ADD="+path, "PHONEBOOT_TEST_MAC=00:13:7f:00:00:bb")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 4323, Gid: 4323}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "belongs to 4321:4322; phoneboot runs as 4323:4323") || !strings.Contains(string(out), "nothing written") {
		t.Errorf("edit by another user: %v: %s", err, out)
	}
	if read(t, path) != before {
		t.Error("the refused edit changed the file")
	}
	st, _ = os.Stat(path)
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 4321 || s.Gid != 4322 {
		t.Errorf("owner %d:%d after a refused edit", s.Uid, s.Gid)
	}
	noTempFiles(t, dir)
}

// copyFile copies the test binary to dst, executable by everyone (its
// own folder may be private).
func copyFile(t *testing.T, dst string) {
	t.Helper()
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
