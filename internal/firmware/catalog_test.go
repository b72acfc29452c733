package firmware

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
)

const (
	sip812  = "P0S3-8-12-00"
	sip41   = "SIP41.9-4-2SR3-1S"
	sccp41  = "SCCP41.9-4-2SR3-1S"
	build41 = "9-4-2ES26"
)

// sip812Files is cmterm-7960-sip.8-12-00.zip: the .loads, the loader as
// .sbn (listed) and .bin (for OS79XX.TXT upgrades), the application, a
// readme; in a folder, as packages often are.
func sip812Files() map[string][]byte {
	files := map[string][]byte{
		"cmterm-7960-sip.8-12-00/P003-8-12-00.bin": fwtest.Random("P003-8-12-00.bin", 700),
		"cmterm-7960-sip.8-12-00/readme.txt":       []byte("Cisco IP Phone 7960 SIP 8.12\n"),
	}
	for name, data := range fwtest.LoadFiles(sip812, 1000, fwtest.Classic(sip812)...) {
		files["cmterm-7960-sip.8-12-00/"+name] = data
	}
	return files
}

// java41Files is a 7941/7961 package with its term files.
func java41Files(id string) map[string][]byte {
	comps := fwtest.Java(id, build41)
	files := fwtest.LoadFiles(id, 2000, comps...)
	files["term41.default.loads"] = fwtest.TermFile("41", id, comps...)
	files["term61.default.loads"] = fwtest.TermFile("61", id, comps...)
	return files
}

func newCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := OpenCatalog(filepath.Join(t.TempDir(), "data", "firmware"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustImport(t *testing.T, c *Catalog, paths ...string) ImportReport {
	t.Helper()
	r, err := c.Import(paths...)
	if err != nil {
		t.Fatalf("Import(%v): %v", paths, err)
	}
	return r
}

func ids(loads []Load) []string {
	var out []string
	for _, l := range loads {
		out = append(out, l.ID)
	}
	return out
}

func names(cs []Component) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// readAll opens name and returns its bytes ("" and false if not found).
func readAll(t *testing.T, f File, ok bool, err error) ([]byte, bool) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}

func open(t *testing.T, c *Catalog, name string) ([]byte, bool) {
	t.Helper()
	f, ok, err := c.Open(name)
	return readAll(t, f, ok, err)
}

// snapshot is what the catalog lists plus every path under the
// catalog's parent directory (to see writes outside the catalog).
func snapshot(t *testing.T, c *Catalog) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.Join(ids(c.Loads()), ",") + "\n")
	parent := filepath.Dir(c.Dir())
	filepath.WalkDir(filepath.Dir(parent), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filepath.Dir(parent), p)
		b.WriteString(rel + "\n")
		return nil
	})
	return b.String()
}

func TestImport7960SIPZip(t *testing.T) {
	c := newCatalog(t)
	pkg := filepath.Join(t.TempDir(), "cmterm-7960-sip.8-12-00.zip")
	files := sip812Files()
	fwtest.Zip(t, pkg, files)
	r := mustImport(t, c, pkg)
	if len(r.Added) != 1 || len(r.Skipped) != 0 {
		t.Fatalf("report = %+v", r)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "readme.txt") {
		t.Errorf("notes = %q, want readme.txt ignored", r.Notes)
	}
	l := r.Added[0]
	loads := files["cmterm-7960-sip.8-12-00/P0S3-8-12-00.loads"]
	want := Load{
		ID: sip812, Protocol: "SIP", Models: []string{"7940", "7960"},
		LoadsFile: &Component{Name: "P0S3-8-12-00.loads", Size: int64(len(loads)), SHA256: sum(loads)},
		Components: []Component{
			{Name: "P003-8-12-00.sbn", Size: 1000, SHA256: sum(fwtest.Random("P003-8-12-00.sbn", 1000))},
			{Name: "P0S3-8-12-00.sb2", Size: 1000, SHA256: sum(fwtest.Random("P0S3-8-12-00.sb2", 1000))},
		},
		Extras:       []Component{{Name: "P003-8-12-00.bin", Size: 700, SHA256: sum(fwtest.Random("P003-8-12-00.bin", 700))}},
		HardwareComp: -1, LAVersion: "PAS3ARM1", Source: pkg, Imported: l.Imported,
	}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("load =\n%+v\nwant\n%+v", l, want)
	}
	if time.Since(l.Imported) > time.Minute {
		t.Errorf("Imported = %v", l.Imported)
	}
	if got := c.Loads(); !reflect.DeepEqual(got, []Load{l}) {
		t.Errorf("Loads() = %+v", got)
	}
	if got, ok := c.Load("p0s3-8-12-00"); !ok || got.ID != sip812 {
		t.Errorf("Load(lower) = %v, %v", got.ID, ok)
	}
	for name, data := range map[string][]byte{
		"P0S3-8-12-00.loads": loads, "p0s3-8-12-00.LOADS": loads, "./P0S3-8-12-00.loads": loads,
		"P003-8-12-00.sbn": fwtest.Random("P003-8-12-00.sbn", 1000),
		"p003-8-12-00.BIN": fwtest.Random("P003-8-12-00.bin", 700),
	} {
		if got, ok := open(t, c, name); !ok || !bytes.Equal(got, data) {
			t.Errorf("Open(%s) = %d bytes, %v", name, len(got), ok)
		}
	}
	if _, ok := open(t, c, "readme.txt"); ok {
		t.Error("Open(readme.txt) found an ignored file")
	}
	// Storage: DIR/<ID>/ with the files as listed and load.json.
	var stored []string
	entries, _ := os.ReadDir(filepath.Join(c.Dir(), sip812))
	for _, e := range entries {
		stored = append(stored, e.Name())
	}
	if want := []string{"P003-8-12-00.bin", "P003-8-12-00.sbn", "P0S3-8-12-00.loads", "P0S3-8-12-00.sb2", "load.json"}; !reflect.DeepEqual(stored, want) {
		t.Errorf("stored %v, want %v", stored, want)
	}
	if err := c.Verify(sip812); err != nil {
		t.Error(err)
	}
	// A second catalog reads the same from disk.
	c2, err := OpenCatalog(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Loads(); !reflect.DeepEqual(got, []Load{l}) {
		t.Errorf("reopened: %+v", got)
	}
	// The same package again: skipped.
	r = mustImport(t, c, pkg)
	if len(r.Added) != 0 || !reflect.DeepEqual(r.Skipped, []string{sip812}) {
		t.Errorf("again: %+v", r)
	}
}

func TestImportJavaWithTermFiles(t *testing.T) {
	c := newCatalog(t)
	dir := t.TempDir()
	sip := filepath.Join(dir, "cmterm-7941_7961-sip.9-4-2SR3-1.zip")
	sccp := filepath.Join(dir, "cmterm-7941_7961-sccp.9-4-2SR3-1.zip")
	fwtest.Zip(t, sip, java41Files(sip41))
	fwtest.Zip(t, sccp, java41Files(sccp41))
	r := mustImport(t, c, sip, sccp)
	if got := ids(r.Added); !reflect.DeepEqual(got, []string{sccp41, sip41}) {
		t.Fatalf("added %v", got)
	}
	l, _ := c.Load(sip41)
	if l.Protocol != "SIP" || l.HardwareComp != 5 || !reflect.DeepEqual(l.Models, []string{"7941", "7941G-GE", "7961", "7961G-GE"}) {
		t.Errorf("load = %+v", l)
	}
	if got := names(l.Components); !reflect.DeepEqual(got, fwtest.Java(sip41, build41)) {
		t.Errorf("components %v", got)
	}
	if got := names(l.TermFiles); !reflect.DeepEqual(got, []string{"term41.default.loads", "term61.default.loads"}) {
		t.Errorf("term files %v", got)
	}
	// Term files are per load: the SCCP and SIP term41 differ.
	f, ok, err := c.Term("sip41.9-4-2sr3-1s", "TERM61.default.loads")
	if got, _ := readAll(t, f, ok, err); !bytes.Equal(got, fwtest.TermFile("61", sip41, fwtest.Java(sip41, build41)...)) {
		t.Errorf("Term(SIP41, term61) = %q", got)
	}
	f, ok, err = c.Term(sccp41, "term41.default.loads")
	if got, _ := readAll(t, f, ok, err); !bytes.Equal(got, fwtest.TermFile("41", sccp41, fwtest.Java(sccp41, build41)...)) {
		t.Errorf("Term(SCCP41, term41) = %q", got)
	}
	if _, ok := open(t, c, "term41.default.loads"); ok {
		t.Error("Open found a term file")
	}
	if _, ok, _ := c.Term(sip41, "term70.default.loads"); ok {
		t.Error("Term found a term file the package did not have")
	}
	// Components the two loads share by name have the same bytes.
	if got, ok := open(t, c, "CNU41.9-4-2ES26.SBN"); !ok || !bytes.Equal(got, fwtest.Random("cnu41.9-4-2ES26.sbn", 2000)) {
		t.Errorf("Open(CNU41…SBN) = %d bytes, %v", len(got), ok)
	}
}

func TestImportFormats(t *testing.T) {
	dir := t.TempDir()
	java := java41Files(sip41)
	tests := []struct {
		name  string
		write func(path string)
		path  string
		want  []string
	}{
		{"cop.sgn with signature header", func(p string) { fwtest.CopSgn(t, p, nil, java) }, "cmterm-7941_7961-sip.9-4-2SR3-1.cop.sgn", []string{sip41}},
		{"cop", func(p string) { fwtest.TarGz(t, p, java) }, "cmterm-7941_7961-sip.9-4-2SR3-1.cop", []string{sip41}},
		{"tar.gz", func(p string) { fwtest.TarGz(t, p, sip812Files()) }, "sip812.tar.gz", []string{sip812}},
		{"tgz", func(p string) { fwtest.TarGz(t, p, sip812Files()) }, "sip812.tgz", []string{sip812}},
		{"tar", func(p string) { fwtest.Tar(t, p, sip812Files()) }, "sip812.tar", []string{sip812}},
		{"directory, with a package in it", func(p string) {
			for name, data := range sip812Files() {
				fwtest.Write(t, filepath.Join(p, "unpacked"), name, data)
			}
			fwtest.Write(t, p, ".DS_Store", []byte{0, 1})
			fwtest.Zip(t, filepath.Join(p, "more", "cmterm-7961-sip.zip"), java)
		}, "firmware-dir", []string{sip812, sip41}},
		{"symbolic link to a directory", func(p string) {
			for name, data := range sip812Files() {
				fwtest.Write(t, p+"-real", name, data)
			}
			if err := os.Symlink(p+"-real", p); err != nil {
				t.Skip(err)
			}
		}, "linked", []string{sip812}},
		{"directory of packages only", func(p string) {
			fwtest.Zip(t, filepath.Join(p, "cmterm-7961-sip.zip"), java)
		}, "packages", []string{sip41}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCatalog(t)
			p := filepath.Join(dir, tt.path)
			tt.write(p)
			r := mustImport(t, c, p)
			if got := ids(r.Added); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("added %v, want %v (notes %q)", got, tt.want, r.Notes)
			}
			for _, id := range tt.want {
				if err := c.Verify(id); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestImportLooseFiles(t *testing.T) {
	c := newCatalog(t)
	dir := t.TempDir()
	fwtest.WriteLoad(t, dir, sip812, 500, fwtest.Classic(sip812)...)
	fwtest.Write(t, dir, "P0S3-04-4-00.bin", fwtest.Random("old", 300)) // pre-.loads image
	var paths []string
	for _, n := range append([]string{sip812 + ".loads", "P0S3-04-4-00.bin"}, fwtest.Classic(sip812)...) {
		paths = append(paths, filepath.Join(dir, n))
	}
	r := mustImport(t, c, paths...)
	if got := ids(r.Added); !reflect.DeepEqual(got, []string{"P0S3-04-4-00", sip812}) {
		t.Fatalf("added %v", got)
	}
	old, _ := c.Load("P0S3-04-4-00")
	if old.LoadsFile != nil || old.Protocol != "SIP" || !reflect.DeepEqual(names(old.Components), []string{"P0S3-04-4-00.bin"}) || old.Source != paths[1] {
		t.Errorf("old load = %+v", old)
	}
	if l, _ := c.Load(sip812); l.Source != paths[0] {
		t.Errorf("source %q, want the .loads file", l.Source)
	}
	// A .loads without its components.
	c2 := newCatalog(t)
	_, err := c2.Import(paths[0])
	wantErr(t, err, sip812+".loads", "P003-8-12-00.sbn", "missing")
}

// TestImportImagesWithoutLoads: only an image older than the Universal
// Application Loader is a load without a .loads file (phone.Image.OldImage,
// cisco-79xx.md §1.2.3, §4.2). The loader and application of a later load
// are not: a phone told to run one would ask for its .loads.
func TestImportImagesWithoutLoads(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"P003-8-12-00.sbn", "P0S3-8-12-00.sb2", "P0S3-8-12-00.bin", "P0S3-06-3-00.sb2", "P00305000200.SBN", "P00308010200.bin"} {
		fwtest.Write(t, dir, n, fwtest.Random(n, 100))
	}
	c := newCatalog(t)
	_, err := c.Import(filepath.Join(dir, "P003-8-12-00.sbn"), filepath.Join(dir, "P0S3-8-12-00.sb2"))
	wantErr(t, err, "no firmware load found")
	r := mustImport(t, c, dir)
	if got := ids(r.Added); !reflect.DeepEqual(got, []string{"P00305000200"}) {
		t.Fatalf("added %v, want only the old SCCP 5.0 image", got)
	}
	if l, _ := c.Load("P00305000200"); l.Protocol != "SCCP" || l.LoadsFile != nil || !reflect.DeepEqual(names(l.Components), []string{"P00305000200.SBN"}) {
		t.Errorf("old load = %+v", l)
	}
	notes := strings.Join(r.Notes, "\n")
	for _, n := range []string{"P003-8-12-00.sbn", "P0S3-8-12-00.sb2", "P0S3-8-12-00.bin", "P0S3-06-3-00.sb2", "P00308010200.bin"} {
		if !strings.Contains(notes, n) {
			t.Errorf("notes %q do not say %s was ignored", r.Notes, n)
		}
	}
}

// TestImportCase: names as a package spells them differ from the .loads
// listing (cisco-79xx.md §0.4: Jar41sip.8-3-0-50.sbn).
func TestImportCase(t *testing.T) {
	c := newCatalog(t)
	id := "SIP41.8-3-0-50S"
	comps := fwtest.Java(id, "8-3-0-50") // jar41sip.8-3-0-50.sbn …
	files := fwtest.LoadFiles(id, 100, comps...)
	files["Jar41sip.8-3-0-50.sbn"] = files[comps[0]]
	delete(files, comps[0])
	files["DSP41.8-3-0-50.SBN"] = files[comps[3]]
	delete(files, comps[3])
	pkg := filepath.Join(t.TempDir(), "cmterm-7941_7961-sip.8-3-0-50.zip")
	fwtest.Zip(t, pkg, files)
	r := mustImport(t, c, pkg)
	l := r.Added[0]
	if got := names(l.Components); !reflect.DeepEqual(got, comps) {
		t.Errorf("components stored as %v, want as listed %v", got, comps)
	}
	for _, name := range []string{"jar41sip.8-3-0-50.sbn", "Jar41sip.8-3-0-50.sbn", "JAR41SIP.8-3-0-50.SBN", "dsp41.8-3-0-50.sbn", "DSP41.8-3-0-50.SBN"} {
		if _, ok := open(t, c, name); !ok {
			t.Errorf("Open(%s) not found", name)
		}
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is not one line", err)
	}
}

// TestImportBroken: every failed import leaves the catalog and the disk
// as they were.
func TestImportBroken(t *testing.T) {
	c := newCatalog(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, good, sip812Files())
	mustImport(t, c, good)

	write := func(name string, data []byte) string {
		fwtest.Write(t, dir, name, data)
		return filepath.Join(dir, name)
	}
	zipOf := func(name string, files map[string][]byte) string {
		p := filepath.Join(dir, name)
		fwtest.Zip(t, p, files)
		return p
	}
	rawZip := func(name string, add func(*zip.Writer)) string {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		add(zw)
		zw.Close()
		return write(name, buf.Bytes())
	}
	rawTarGz := func(name string, hdrs ...*tar.Header) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hdrs {
			tw.WriteHeader(h)
			if h.Size > 0 {
				tw.Write(make([]byte, h.Size))
			}
		}
		tw.Close()
		return write(name, fwtest.Gzip(t, buf.Bytes()))
	}
	java := java41Files(sip41)
	missing := java41Files(sip41)
	delete(missing, "dsp41."+build41+".sbn")
	other := java41Files(sip41)
	other["cvm41sip."+build41+".sbn"] = []byte("other bytes")
	collide := fwtest.LoadFiles("SIP41.9-4-2SR4-3S", 50, append(fwtest.Java("SIP41.9-4-2SR4-3S", "9-4-2ES27")[:4], "P0S3-8-12-00.sb2")...)
	whole, _ := os.ReadFile(zipOf("whole.zip", java))
	bombData := map[string][]byte{}
	for n, d := range java {
		bombData[n] = d
	}
	bombData["apps41."+build41+".sbn"] = make([]byte, 3<<20) // compresses to a few KiB

	tests := []struct {
		name  string
		paths func() []string
		want  []string
	}{
		{"truncated zip", func() []string { return []string{write("cut.zip", whole[:len(whole)/2])} }, []string{"cut.zip", "truncated or corrupt"}},
		{"zip with a corrupt entry", func() []string {
			b := slices.Clone(whole)
			i := bytes.Index(b, []byte("apps41"))
			for j := i + 60; j < i+200; j++ {
				b[j] ^= 0x55
			}
			return []string{write("corrupt.zip", b)}
		}, []string{"corrupt.zip"}},
		{"truncated tgz", func() []string {
			b := fwtest.Gzip(t, fwtest.TarBytes(t, java))
			return []string{write("cut.tgz", b[:len(b)-2000])}
		}, []string{"cut.tgz"}},
		{"missing component", func() []string { return []string{zipOf("cmterm-7961-sip.zip", missing)} },
			[]string{"cmterm-7961-sip.zip", sip41, "dsp41." + build41 + ".sbn", "missing"}},
		{"same load twice, different bytes", func() []string {
			return []string{zipOf("a.zip", java), zipOf("b.zip", other)}
		}, []string{sip41, "a.zip", "b.zip", "different contents"}},
		{"already in the catalog, different bytes", func() []string {
			f := sip812Files()
			f["cmterm-7960-sip.8-12-00/P0S3-8-12-00.sb2"] = []byte("patched")
			return []string{zipOf("patched.zip", f)}
		}, []string{sip812, "already in the catalog with different contents", "phoneboot firmware rm " + sip812}},
		{"name collision with another load", func() []string { return []string{zipOf("collide.zip", collide)} },
			[]string{"collide.zip", "P0S3-8-12-00.sb2", "load " + sip812, "one name must mean one file"}},
		{"cop.sgn without gzip", func() []string { return []string{write("x.cop.sgn", fwtest.Random("garbage", 5000))} },
			[]string{"x.cop.sgn", "no tar.gz inside (garbage header?)"}},
		{"zip path traversal", func() []string {
			return []string{rawZip("evil.zip", func(zw *zip.Writer) {
				w, _ := zw.Create("../../x")
				w.Write([]byte("pwned"))
			})}
		}, []string{"evil.zip", `"../../x"`}},
		{"tar path traversal", func() []string {
			return []string{rawTarGz("evil.tgz", &tar.Header{Name: "pkg/../../../x", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644})}
		}, []string{"evil.tgz", "../../../x"}},
		{"absolute path", func() []string {
			return []string{rawTarGz("abs.cop", &tar.Header{Name: "/etc/x.sbn", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644})}
		}, []string{"abs.cop", "/etc/x.sbn", "absolute"}},
		{"windows path", func() []string {
			return []string{rawZip("win.zip", func(zw *zip.Writer) { zw.Create(`..\..\x.sbn`) })}
		}, []string{"win.zip", `x.sbn`}},
		{"symlink", func() []string {
			return []string{rawTarGz("link.tgz", &tar.Header{Name: "P0S3-8-12-00.sb2", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})}
		}, []string{"link.tgz", "P0S3-8-12-00.sb2", "symbolic link"}},
		{"zip symlink", func() []string {
			return []string{rawZip("link.zip", func(zw *zip.Writer) {
				h := &zip.FileHeader{Name: "a.sbn"}
				h.SetMode(fs.ModeSymlink | 0o777)
				w, _ := zw.CreateHeader(h)
				w.Write([]byte("/etc/passwd"))
			})}
		}, []string{"link.zip", "a.sbn", "symbolic link"}},
		{"device", func() []string {
			return []string{rawTarGz("dev.tar.gz", &tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})}
		}, []string{"dev.tar.gz", "null", "device"}},
		{"control character", func() []string {
			return []string{rawZip("ctl.zip", func(zw *zip.Writer) { zw.Create("P0S3\x1b[2J.sbn") })}
		}, []string{"ctl.zip", "control character"}},
		{"entry over the size cap", func() []string { return []string{zipOf("bomb.zip", bombData)} },
			[]string{"bomb.zip", "apps41." + build41 + ".sbn", "zip bomb"}},
		{"skipped tar entry over the size cap", func() []string {
			return []string{rawTarGz("skip.tgz", &tar.Header{Name: "__MACOSX/._x", Typeflag: tar.TypeReg, Size: 3 << 20, Mode: 0o644})}
		}, []string{"skip.tgz", "__MACOSX/._x", "zip bomb"}},
		{"too many entries", func() []string {
			return []string{rawZip("many.zip", func(zw *zip.Writer) {
				for i := range 300 {
					zw.Create(strings.Repeat("d/", i%5) + string(rune('a'+i%26)) + strings.Repeat("x", i))
				}
			})}
		}, []string{"many.zip", "entries"}},
		{"no load", func() []string { return []string{zipOf("docs.zip", map[string][]byte{"readme.txt": []byte("hi")})} },
			[]string{"docs.zip", "no firmware load"}},
		{"not a .loads", func() []string { return []string{zipOf("bad.zip", map[string][]byte{"X.loads": []byte("hello\n")})} },
			[]string{"bad.zip", "X.loads", "no component"}},
		{"no such file", func() []string { return []string{filepath.Join(dir, "nope.zip")} }, []string{"nope.zip", "no such file"}},
		{"one good, one bad: nothing added", func() []string {
			return []string{zipOf("ok.zip", java), write("bad.cop.sgn", []byte("garbage"))}
		}, []string{"bad.cop.sgn"}},
	}
	c.MaxImportSize = 2 << 20
	c.MaxEntries = 200
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths := tt.paths()
			before := snapshot(t, c)
			_, err := c.Import(paths...)
			wantErr(t, err, tt.want...)
			if after := snapshot(t, c); after != before {
				t.Errorf("catalog or disk changed:\nbefore %s\nafter  %s", before, after)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(c.Dir()), "x")); err == nil {
				t.Error("wrote outside the catalog")
			}
		})
	}
	// The limits hold, and a real package still fits them.
	r := mustImport(t, c, zipOf("fine.zip", java))
	if got := ids(r.Added); !reflect.DeepEqual(got, []string{sip41}) {
		t.Errorf("added %v", got)
	}
}

func TestSharedComponent(t *testing.T) {
	c := newCatalog(t)
	dir := t.TempDir()
	// Two loads list the same loader (same bytes): fine, shared by name.
	a := fwtest.LoadFiles("P0S3-8-12-00", 100, fwtest.Classic("P0S3-8-12-00")...)
	b := fwtest.LoadFiles("P0S3-8-12-01", 100, "P003-8-12-00.sbn", "P0S3-8-12-01.sb2")
	fwtest.Zip(t, filepath.Join(dir, "a.zip"), a)
	fwtest.Zip(t, filepath.Join(dir, "b.zip"), b)
	mustImport(t, c, filepath.Join(dir, "a.zip"))
	mustImport(t, c, filepath.Join(dir, "b.zip"))
	if err := c.Remove("p0s3-8-12-00"); err != nil {
		t.Fatal(err)
	}
	if got := ids(c.Loads()); !reflect.DeepEqual(got, []string{"P0S3-8-12-01"}) {
		t.Errorf("after Remove: %v", got)
	}
	if _, ok := open(t, c, "P0S3-8-12-00.loads"); ok {
		t.Error("removed load's .loads still found")
	}
	if _, ok := open(t, c, "P003-8-12-00.sbn"); !ok {
		t.Error("shared component gone with the first load")
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "P0S3-8-12-00")); !os.IsNotExist(err) {
		t.Errorf("load directory still there: %v", err)
	}
	wantErr(t, c.Remove("P0S3-8-12-00"), "no load P0S3-8-12-00")
	entries, _ := os.ReadDir(c.Dir())
	if len(entries) != 1 {
		t.Errorf("catalog dir holds %d entries, want 1", len(entries))
	}
}

func TestRefreshAndLeftovers(t *testing.T) {
	c := newCatalog(t)
	dir := t.TempDir()
	pkg := filepath.Join(dir, "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, pkg, sip812Files())
	// An old directory mtime: Refresh trusts it and only stats.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(c.Dir(), old, old)
	if err := c.Refresh(); err != nil {
		t.Fatal(err)
	}
	c2, err := OpenCatalog(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	mustImport(t, c2, pkg)
	if len(c.Loads()) != 0 {
		t.Fatal("saw the import before Refresh")
	}
	if err := c.Refresh(); err != nil {
		t.Fatal(err)
	}
	if got := ids(c.Loads()); !reflect.DeepEqual(got, []string{sip812}) {
		t.Fatalf("after Refresh: %v", got)
	}
	if _, ok := open(t, c, "P0S3-8-12-00.sb2"); !ok {
		t.Error("Open after Refresh")
	}
	if err := c2.Remove(sip812); err != nil {
		t.Fatal(err)
	}
	c.Refresh()
	if len(c.Loads()) != 0 {
		t.Error("removed load still listed after Refresh")
	}
	// Leftovers: a stale import and a removal are cleaned up, a
	// running import (fresh) is not; a broken load is a problem.
	for _, d := range []string{".import-1", ".import-2/files", ".rm-3/X", "broken"} {
		os.MkdirAll(filepath.Join(c.Dir(), d), 0o755)
	}
	for _, d := range []string{".import-1", ".import-1/files"} {
		os.Chtimes(filepath.Join(c.Dir(), d), old, old)
	}
	c3, err := OpenCatalog(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, _ := os.ReadDir(c.Dir())
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{".import-2", "broken"}; !reflect.DeepEqual(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if p := c3.Problems(); len(p) != 1 || !strings.Contains(p[0], "broken") {
		t.Errorf("problems %q", p)
	}
}

func TestFindGzip(t *testing.T) {
	tgz := fwtest.Gzip(t, fwtest.TarBytes(t, map[string][]byte{"a": []byte("b")}))
	// A header with a false magic, then a false magic with deflate's 08
	// whose stream is garbage.
	head := append(fwtest.SignatureHeader(), 0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3)
	data := append(slices.Clone(head), tgz...)
	if got := findGzip(bytes.NewReader(data), int64(len(data))); got != int64(len(head)) {
		t.Errorf("findGzip = %d, want %d", got, len(head))
	}
	if got := findGzip(bytes.NewReader(head), int64(len(head))); got != -1 {
		t.Errorf("findGzip(no stream) = %d", got)
	}
}

// FuzzReadPackage: random bytes read as a .cop.sgn, a tar or a zip give
// an error or loads with plain names, never a panic.
func FuzzReadPackage(f *testing.F) {
	java := java41Files(sip41)
	for n, d := range java {
		java[n] = d[:min(len(d), 64)]
	}
	var cop bytes.Buffer
	cop.Write(fwtest.SignatureHeader())
	cop.Write(fwtest.Gzip(f, fwtest.TarBytes(f, java)))
	f.Add(cop.Bytes())
	f.Add(fwtest.TarBytes(f, java))
	f.Add([]byte("\x1f\x8b\x08"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []string{"tgz", "tar", "zip"} {
			rd := newReader(1<<20, 100, nil)
			g := &group{label: "fuzz." + kind}
			var err error
			switch kind {
			case "tgz":
				err = rd.readTarGz(g, bytes.NewReader(b), int64(len(b)))
			case "tar":
				err = rd.readTar(g, bytes.NewReader(b))
			case "zip":
				err = rd.readZip(g, bytes.NewReader(b), int64(len(b)))
			}
			if err != nil {
				continue
			}
			loads, _, err := findLoads(g)
			if err != nil {
				continue
			}
			for _, l := range loads {
				for _, c := range append(l.served(), l.TermFiles...) {
					if plainName(c.Name) != nil || plainName(l.ID) != nil {
						t.Fatalf("load %q: unsafe name %q", l.ID, c.Name)
					}
				}
			}
		}
	})
}

// TestConcurrentOpen: Open while imports, removals and refreshes run
// (meaningful with -race).
func TestConcurrentOpen(t *testing.T) {
	c := newCatalog(t)
	pkg := filepath.Join(t.TempDir(), "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, pkg, sip812Files())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if _, err := c.Import(pkg); err != nil {
				t.Error(err)
				return
			}
			c.Refresh()
			if err := c.Remove(sip812); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		if f, ok, err := c.Open("P0S3-8-12-00.sb2"); err != nil {
			t.Fatal(err)
		} else if ok {
			if f.Size() != 1000 {
				t.Errorf("size %d", f.Size())
			}
			f.Close()
		}
		c.Loads()
	}
}
