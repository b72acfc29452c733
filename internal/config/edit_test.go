package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"phoneboot/internal/phone"
)

// TestMain doubles as the editor process of TestParallelAddsKeepEveryPhone.
func TestMain(m *testing.M) {
	if path := os.Getenv("PHONEBOOT_TEST_ADD"); path != "" {
		mac, err := phone.ParseMAC(os.Getenv("PHONEBOOT_TEST_MAC"))
		if err == nil {
			err = AddPhone(path, false, NewPhone{MAC: mac, Model: "7960", Protocol: "SIP", Label: "é",
				Lines: []Line{{Extension: "201", Password: "s3cret"}}})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func mac(t testing.TB, s string) phone.MAC {
	t.Helper()
	m, err := phone.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noTempFiles: a refused or finished edit leaves no temporary file.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

const edited = `# our phones
[site]
protocol = "SIP"   # everyone
sip_proxy = "pbx.example.net"

[[phone]]   # the front desk
mac = "00:13:7F:38:B3:DE"
model = "7960"
  [[phone.line]]
  extension = "201"
  password = "a"

# the lab
[[phone]]
mac = "0013.7f38.b3df"
model = "7940"
protocol = "SCCP"

# loop breakers
[provision]
ctl_loop_requests = 3
`

func TestAddAndRemoveKeepTheText(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "phoneboot.toml")
	os.WriteFile(path, []byte(edited), 0o640)

	p := NewPhone{MAC: mac(t, "00137F0000AA"), Model: "CP-7961G", Label: "Lab",
		Lines: []Line{{Extension: "301", Password: "pw", Name: "Lab", AuthUser: "u301"}, {Extension: "302", Password: "pw2"}}}
	if err := AddPhone(path, true, p); err != nil {
		t.Fatal(err)
	}
	text := read(t, path)
	if !strings.HasPrefix(text, edited+"\n[[phone]]\n") {
		t.Fatalf("the old text changed:\n%s", text)
	}
	c, err := Read(path, true)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Phones[2]
	if got.MAC != p.MAC || got.Model.Name != "7961" || got.Label != "Lab" || len(got.Lines) != 2 || got.Lines[0] != p.Lines[0] || got.Lines[1] != p.Lines[1] {
		t.Fatalf("added phone = %+v", got)
	}
	if c.Provision.CTLLoopRequests != 3 {
		t.Error("the [provision] table before the new phone lost a key")
	}

	// Removing it gives the file back as it was.
	if err := RemovePhone(path, p.MAC); err != nil {
		t.Fatal(err)
	}
	if text := read(t, path); text != edited {
		t.Fatalf("add then rm:\n%s\nwant\n%s", text, edited)
	}
	// A phone in the middle: its block and its comment go, the comment
	// above the next table stays.
	if err := RemovePhone(path, mac(t, "00137F38B3DF")); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(edited, "# the lab\n[[phone]]\nmac = \"0013.7f38.b3df\"\nmodel = \"7940\"\nprotocol = \"SCCP\"\n\n", "", 1)
	if text := read(t, path); text != want {
		t.Fatalf("rm of the second phone:\n%s\nwant\n%s", text, want)
	}
	// A header with a comment after it is found too.
	if err := RemovePhone(path, mac(t, "00137F38B3DE")); err != nil {
		t.Fatal(err)
	}
	want = "# our phones\n[site]\nprotocol = \"SIP\"   # everyone\nsip_proxy = \"pbx.example.net\"\n\n# loop breakers\n[provision]\nctl_loop_requests = 3\n"
	if text := read(t, path); text != want {
		t.Fatalf("rm of the first phone:\n%s\nwant\n%s", text, want)
	}
	c, err = Read(path, true)
	if err != nil || len(c.Phones) != 0 || c.Site.SIPProxy.Name != "pbx.example.net" || c.Provision.CTLLoopRequests != 3 {
		t.Fatalf("after removing all: %v %+v\n%s", err, c, read(t, path))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the old 0640", st.Mode().Perm())
	}
	noTempFiles(t, dir)
}

func TestEditRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "phoneboot.toml")
	os.WriteFile(path, []byte(edited), 0o644)
	st0, _ := os.Stat(path)
	unchanged := func(what string) {
		t.Helper()
		if text := read(t, path); text != edited {
			t.Errorf("%s changed the file:\n%s", what, text)
		}
		if st, _ := os.Stat(path); !os.SameFile(st, st0) {
			t.Errorf("%s replaced the file", what)
		}
	}

	err := AddPhone(path, true, NewPhone{MAC: mac(t, "0013.7f38.b3de"), Model: "7960"})
	if !errors.Is(err, ErrPhoneExists) || err.Error() != "00:13:7f:38:b3:de is already in the inventory (line 6)" {
		t.Errorf("duplicate: %v", err)
	}
	unchanged("a duplicate add")

	// SIP line without password: Parse refuses, with file and line.
	err = AddPhone(path, true, NewPhone{MAC: mac(t, "00137F0000BB"), Model: "7960", Lines: []Line{{Extension: "202"}}})
	var es Errors
	if err == nil || !errors.As(err, &es) || !strings.Contains(err.Error(), "would make "+path+" invalid, nothing written") ||
		!strings.Contains(err.Error(), path+":27: phone 00:13:7f:00:00:bb: SIP line 1 (202) has no password") {
		t.Errorf("invalid add: %v", err)
	}
	// The problem points into the new entry, as SetPhone's do.
	var ee *EntryError
	if !errors.As(err, &ee) || ee.EntryLine(es[0].Line) != 5 || !strings.HasPrefix(ee.Entry, "[[phone]]\n") {
		t.Errorf("invalid add: not an EntryError into the entry: %#v", err)
	}
	unchanged("an invalid add")
	err = AddPhone(path, true, NewPhone{MAC: mac(t, "00137F0000BB"), Model: "7999"})
	if err == nil || !strings.Contains(err.Error(), `unknown model "7999"`) {
		t.Errorf("unknown model: %v", err)
	}
	err = AddPhone(path, true, NewPhone{MAC: mac(t, "00137F0000BB"), Label: "caf\xe9"})
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("Latin-1 label: %v", err)
	}
	if err := AddPhone(path, true, NewPhone{}); err == nil {
		t.Error("a phone without MAC was added")
	}
	unchanged("refused adds")

	if err := RemovePhone(path, mac(t, "00137F0000CC")); !errors.Is(err, ErrNoSuchPhone) {
		t.Errorf("rm of an unknown phone: %v", err)
	}
	unchanged("rm of an unknown phone")

	// A named file must exist; rm of a missing one finds no phone.
	missing := filepath.Join(dir, "other.toml")
	if err := AddPhone(missing, true, NewPhone{MAC: mac(t, "00137F0000BB")}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("add to a missing named file: %v", err)
	}
	if err := RemovePhone(missing, mac(t, "00137F0000BB")); !errors.Is(err, ErrNoSuchPhone) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("rm from a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a refused edit created the file")
	}
	noTempFiles(t, dir)
}

// TestAddCreatesPrivateFile: a new file, and its folder, come into being
// with the first phone; it holds SIP passwords, so only its owner reads it.
func TestAddCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "phoneboot.toml")
	if err := AddPhone(path, false, NewPhone{MAC: mac(t, "00137F0000AA"), Model: "7960", Protocol: "SIP", Lines: []Line{{Extension: "201", Password: "pw"}}}); err != nil {
		t.Fatal(err)
	}
	if text := read(t, path); !strings.HasPrefix(text, "[[phone]]\nmac = \"00:13:7f:00:00:aa\"\n") {
		t.Errorf("new file:\n%s", text)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600", st.Mode().Perm())
	}
	c, err := Read(path, true)
	if err != nil || len(c.Phones) != 1 || c.Phones[0].Lines[0].Password != "pw" {
		t.Fatalf("%v %+v", err, c)
	}
}

// TestEditThroughSymlink: the file a symlink points to is edited, and the
// symlink stays one (as with a config kept under /etc, linked from the
// data folder).
func TestEditThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "etc"), 0o755)
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	real := filepath.Join(dir, "etc", "phoneboot.toml")
	os.WriteFile(real, []byte(edited), 0o600)
	link := filepath.Join(dir, "data", "phoneboot.toml")
	if err := os.Symlink("../etc/phoneboot.toml", link); err != nil {
		t.Fatal(err)
	}
	if err := AddPhone(link, true, NewPhone{MAC: mac(t, "00137F0000AA"), Model: "7940", Protocol: "SCCP"}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v %v", st.Mode(), err)
	}
	if text := read(t, real); !strings.Contains(text, "00:13:7f:00:00:aa") {
		t.Errorf("the linked file was not edited:\n%s", text)
	}
	if st, _ := os.Stat(real); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if _, err := os.Stat(real + ".lock"); err != nil {
		t.Errorf("the lock is not next to the linked file: %v", err)
	}
	if err := RemovePhone(link, mac(t, "00137F0000AA")); err != nil {
		t.Fatal(err)
	}
	if read(t, real) != edited {
		t.Error("rm through the link did not restore the file")
	}
	// A dangling link names the file to create.
	os.Remove(real)
	if err := AddPhone(link, false, NewPhone{MAC: mac(t, "00137F0000AA")}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 || !strings.Contains(read(t, real), "00:13:7f:00:00:aa") {
		t.Errorf("dangling link: %v %v", st, err)
	}
	noTempFiles(t, filepath.Join(dir, "etc"))
}

// TestEditEscapesTOML: values are written as TOML basic strings, so that
// what goes in comes back out (Go's %q writes \xe9 and \a, which TOML does
// not have).
func TestEditEscapesTOML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoneboot.toml")
	values := []string{"é", "Réception", "日本語", "a \"quoted\" word", `back\slash`, "tab\there", "new\nline", "cr\rlf",
		"bell\a", "nul\x00", "esc\x1b[0m", "del\x7f", "\u2028", "emoji 📞", `'single'`, "#not a comment", "]]"}
	for i, v := range values {
		m := phone.MAC{0, 0x13, 0x7f, 0, 1, byte(i + 1)}
		err := AddPhone(path, false, NewPhone{MAC: m, Model: "7960", Protocol: "SCCP", Label: v,
			Lines: []Line{{Extension: v, Name: v, AuthUser: v, Password: v}}})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
	}
	c, err := Read(path, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		p := c.Phones[i]
		if l := p.Lines[0]; p.Label != v || l.Extension != v || l.Name != v || l.AuthUser != v || l.Password != v {
			t.Errorf("%q came back as %q %+v", v, p.Label, l)
		}
	}
	if text := read(t, path); !strings.Contains(text, `label = "é"`) || !strings.Contains(text, `label = "bell\u0007"`) {
		t.Errorf("é is not written as itself or \\a not as \\u0007:\n%s", text)
	}
	// Every phone is still found by its MAC.
	for i := range values {
		if err := RemovePhone(path, phone.MAC{0, 0x13, 0x7f, 0, 1, byte(i + 1)}); err != nil {
			t.Fatalf("rm %d: %v", i, err)
		}
	}
	if text := read(t, path); strings.TrimSpace(text) != "" {
		t.Errorf("left after removing every phone:\n%s", text)
	}
}

// TestParallelAddsKeepEveryPhone: 100 "phoneboot phones add" at once,
// each its own process, each a different phone: the lock serialises them
// and the file ends with all 100. Goroutines of one process are kept
// apart too (flock locks belong to open files, not processes).
func TestParallelAddsKeepEveryPhone(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "phoneboot.toml")
	os.WriteFile(path, []byte("# our phones\n[site]\nsip_proxy = \"pbx.example.net\"\n"), 0o600)
	const procs, goroutines = 100, 50
	macOf := func(i int) phone.MAC { return phone.MAC{0, 0x13, 0x7f, 0xaa, byte(i >> 8), byte(i)} }

	cmds := make([]*exec.Cmd, procs)
	outs := make([]strings.Builder, procs)
	for i := range cmds {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "PHONEBOOT_TEST_ADD="+path, "PHONEBOOT_TEST_MAC="+macOf(i).String())
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	var wg sync.WaitGroup
	errs := make([]error, goroutines)
	for i := range goroutines {
		wg.Go(func() {
			errs[i] = AddPhone(path, true, NewPhone{MAC: macOf(procs + i), Model: "7940", Protocol: "SCCP"})
		})
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("editor %d: %v: %s", i, err, outs[i].String())
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	c, err := Read(path, true)
	if err != nil {
		t.Fatal(err)
	}
	have := map[phone.MAC]bool{}
	for _, p := range c.Phones {
		have[p.MAC] = true
	}
	for i := range procs + goroutines {
		if !have[macOf(i)] {
			t.Errorf("phone %s was lost", macOf(i))
		}
	}
	if len(c.Phones) != procs+goroutines || !strings.HasPrefix(read(t, path), "# our phones\n") {
		t.Errorf("%d phones, want %d", len(c.Phones), procs+goroutines)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	noTempFiles(t, dir)
}

// FuzzTOMLString: whatever text a phone's label, line name or password
// holds, tomlString writes one line that the TOML decoder reads back as
// the same text, with UTF-8 as it is (é stays é, not \xe9 or \u00e9).
// Corpus in testdata/fuzz/FuzzTOMLString.
func FuzzTOMLString(f *testing.F) {
	for _, s := range []string{"", "Café", `a "b" \ c`, "tab\tnl\ncr\r", "\x00\x1b[2J\x7f", "\u0085\u2028\u202e", "'''", `"""`, "#x ]]", "📞 日本語", `\u00e9`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // AddPhone refuses these before quoting
		}
		q := tomlString(s)
		if strings.ContainsAny(q, "\n\r") {
			t.Fatalf("tomlString(%q) = %q spans lines", s, q)
		}
		for _, r := range s {
			if r >= 0x80 && !strings.ContainsRune(q, r) {
				t.Fatalf("tomlString(%q) = %q escapes %U", s, q, r)
			}
		}
		var v struct{ V string }
		if _, err := toml.Decode("v = "+q+" # comment\n", &v); err != nil {
			t.Fatalf("tomlString(%q) = %s: %v", s, q, err)
		}
		if v.V != s {
			t.Fatalf("tomlString(%q) = %s reads back as %q", s, q, v.V)
		}
	})
}
