package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPhonesAddConcurrentAndSafe (issue 12 finding 7): 100 "phoneboot
// phones add" at once keep all 100 phones (one that cannot get the lock
// would say so and exit non-zero: never a silent loss); a 0600 file stays
// 0600; labels are TOML strings ("Café" is written and read back as
// itself).
func TestPhonesAddConcurrentAndSafe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o755)
	cfg := filepath.Join(data, "phoneboot.toml")
	if err := os.WriteFile(cfg, []byte("# our phones\n[site]\nprotocol = \"SIP\"\nsip_proxy = \"127.0.0.1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 100
	macOf := func(i int) string { return fmt.Sprintf("00:13:7f:aa:%02x:%02x", i>>8, i&0xff) }
	procs := make([]*proc, n)
	for i := range procs {
		procs[i] = start(t, "phones", "add", macOf(i), "--model", "7960", "--label", "Café", "--line", fmt.Sprintf("%d:s3cret", 200+i), "--data", data)
	}
	added := map[string]bool{}
	for i, p := range procs {
		code := p.exit(t, 60*time.Second)
		switch stderr := p.stderr.String(); {
		case code == 0:
			added[macOf(i)] = true
		case !strings.Contains(stderr, "nothing written"):
			t.Errorf("add %d failed (exit %d) without saying nothing was written: %s", i, code, stderr)
		}
	}
	if len(added) != n {
		t.Errorf("%d of %d adds succeeded", len(added), n)
	}
	rows := inventory(t, data)
	for mac := range added {
		if label, ok := rows[mac]; !ok {
			t.Errorf("%s was reported added but is not in the file", mac)
		} else if label != "Café" {
			t.Errorf("%s has label %q, want Café", mac, label)
		}
	}
	if len(rows) != len(added) {
		t.Errorf("%d phones in the file, %d adds succeeded", len(rows), len(added))
	}
	if st, err := os.Stat(cfg); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode after phones add: %v %v, want 0600", st.Mode().Perm(), err)
	}
	text, _ := os.ReadFile(cfg)
	if !strings.HasPrefix(string(text), "# our phones\n") || !strings.Contains(string(text), "label = \"Café\"\n") {
		t.Errorf("phoneboot.toml:\n%.400s", text)
	}
	leftovers(t, data)
}

// TestPhonesAddThroughSymlink: a phoneboot.toml that is a symlink (to a
// file kept under etc/) stays a symlink; the file it points to is edited
// and keeps its mode; rm goes through the link too.
func TestPhonesAddThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	data, etc := filepath.Join(dir, "data"), filepath.Join(dir, "etc")
	os.MkdirAll(data, 0o755)
	os.MkdirAll(etc, 0o755)
	real := filepath.Join(etc, "phoneboot.toml")
	if err := os.WriteFile(real, []byte("[site]\nprotocol = \"SCCP\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(data, "phoneboot.toml")
	if err := os.Symlink("../etc/phoneboot.toml", link); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		if code, _, stderr := runQuick(t, append(args, "--data", data)...); code != 0 {
			t.Fatalf("phoneboot %v: exit %d: %s", args, code, stderr)
		}
	}
	run("phones", "add", "00:13:7f:00:00:01", "--model", "7940", "--label", "Réception \"front\" \\ desk")
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("phoneboot.toml is no longer a symlink: %v %v", st.Mode(), err)
	}
	if st, _ := os.Stat(real); st.Mode().Perm() != 0o640 {
		t.Errorf("the linked file's mode is %v, want 0640", st.Mode().Perm())
	}
	if rows := inventory(t, data); rows["00:13:7f:00:00:01"] != "Réception \"front\" \\ desk" {
		t.Errorf("inventory through the link: %q", rows)
	}
	run("phones", "rm", "00:13:7f:00:00:01")
	if b, _ := os.ReadFile(real); string(b) != "[site]\nprotocol = \"SCCP\"\n" {
		t.Errorf("after add and rm the linked file is\n%s", b)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("rm replaced the symlink: %v", err)
	}
	leftovers(t, etc)
	leftovers(t, data)
}

// inventory is MAC → label of the inventory phones phoneboot phones
// --json lists.
func inventory(t *testing.T, data string) map[string]string {
	t.Helper()
	code, stdout, stderr := runQuick(t, "phones", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("phones --json: exit %d: %s", code, stderr)
	}
	var rows []struct{ MAC, Label, Source string }
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("phones --json: %v\n%s", err, stdout)
	}
	out := map[string]string{}
	for _, r := range rows {
		if r.Source == "inventory" {
			out[r.MAC] = r.Label
		}
	}
	return out
}

// leftovers fails on temporary files an edit left in dir.
func leftovers(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind in %s: %s", dir, e.Name())
		}
	}
}
