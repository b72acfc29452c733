package firmware

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
)

// TestImportFetched: every load shape (a classic SIP package with its
// extra loader, a Java load with term files, an old image without a
// .loads) copied file by file through OpenLoadFile and imported with
// ImportFetched is the same load, byte for byte, from its source.
func TestImportFetched(t *testing.T) {
	pkgs := t.TempDir()
	fwtest.Zip(t, filepath.Join(pkgs, "cmterm-7960-sip.8-12-00.zip"), sip812Files())
	fwtest.Zip(t, filepath.Join(pkgs, "cmterm-7941_7961-sip.zip"), java41Files(sip41))
	fwtest.Write(t, pkgs, "P00305000200.SBN", fwtest.Random("P00305000200.SBN", 300))
	a := newCatalog(t)
	mustImport(t, a, filepath.Join(pkgs, "cmterm-7960-sip.8-12-00.zip"), filepath.Join(pkgs, "cmterm-7941_7961-sip.zip"), filepath.Join(pkgs, "P00305000200.SBN"))
	b := newCatalog(t)
	select {
	case <-b.Changed():
		t.Fatal("Changed before any change")
	default:
	}
	for _, l := range a.Loads() {
		dir, err := os.MkdirTemp(b.Dir(), ".import-fetch-")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range l.Files() {
			fh, ok, err := a.OpenLoadFile(l.ID, f.Name)
			data, ok := readAll(t, fh, ok, err)
			if !ok {
				t.Fatalf("OpenLoadFile(%s, %s): not found", l.ID, f.Name)
			}
			fwtest.Write(t, dir, f.Name, data)
		}
		r, err := b.ImportFetched(dir, "building-a")
		if err != nil {
			t.Fatalf("ImportFetched(%s): %v", l.ID, err)
		}
		if len(r.Added) != 1 || r.Added[0].ID != l.ID {
			t.Fatalf("ImportFetched(%s) added %v", l.ID, ids(r.Added))
		}
		got := r.Added[0]
		if !reflect.DeepEqual(got.Files(), l.Files()) || !reflect.DeepEqual(got.Extras, l.Extras) || !reflect.DeepEqual(got.TermFiles, l.TermFiles) {
			t.Errorf("%s fetched has files %+v\nwant %+v", l.ID, got.Files(), l.Files())
		}
		if got.Source != "node building-a" || got.FetchedFrom != "building-a" || l.FetchedFrom != "" {
			t.Errorf("%s: Source = %q, FetchedFrom = %q (imported: %q)", l.ID, got.Source, got.FetchedFrom, l.FetchedFrom)
		}
		os.RemoveAll(dir)
		select {
		case <-b.Changed():
		case <-time.After(time.Second):
			t.Fatalf("no Changed after importing %s", l.ID)
		}
	}
	if err := b.Refresh(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Changed():
		t.Fatal("Changed after a Refresh that found nothing new")
	default:
	}
	if err := b.Remove(sip41); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Changed():
	default:
		t.Fatal("no Changed after Remove")
	}
	// The term files come only with their own load; a file of another.
	if _, ok, _ := a.OpenLoadFile(sip812, "term61.default.loads"); ok {
		t.Error("OpenLoadFile found a term file in a load that has none")
	}
	if _, ok, _ := a.OpenLoadFile("NO-SUCH-LOAD", "P0S3-8-12-00.sb2"); ok {
		t.Error("OpenLoadFile found a file of a load not in the catalog")
	}
	if _, ok, _ := a.OpenLoadFile(sip812, "load.json"); ok {
		t.Error("OpenLoadFile served load.json")
	}
}

func TestImportFetchedRefusesOtherThanFiles(t *testing.T) {
	c := newCatalog(t)
	for name, mk := range map[string]func(dir string){
		"an archive": func(dir string) { fwtest.Zip(t, filepath.Join(dir, "x.zip"), sip812Files()) },
		"a folder":   func(dir string) { os.Mkdir(filepath.Join(dir, "sub"), 0o755) },
	} {
		dir := t.TempDir()
		fwtest.WriteLoad(t, dir, sip812, 100, fwtest.Classic(sip812)...)
		mk(dir)
		if _, err := c.ImportFetched(dir, "x"); err == nil {
			t.Errorf("%s: imported", name)
		}
	}
	if len(c.Loads()) != 0 {
		t.Fatalf("loads %v", ids(c.Loads()))
	}
	// A component missing: the import's own check, named by the source.
	dir := t.TempDir()
	fwtest.WriteLoad(t, dir, sip812, 100, fwtest.Classic(sip812)...)
	os.Remove(filepath.Join(dir, sip812+".sb2"))
	_, err := c.ImportFetched(dir, "building-a")
	wantErr(t, err, "node building-a", sip812+".sb2", "missing")
}

func TestSharedPath(t *testing.T) {
	p := SharedPath("SIP41.9-4-2SR3-1S", "jar41sip.9-4-2ES26.sbn")
	if p != "/.fleet/firmware/SIP41.9-4-2SR3-1S/jar41sip.9-4-2ES26.sbn" {
		t.Errorf("SharedPath = %q", p)
	}
	if id, name, ok := ParseSharedPath(p); !ok || id != "SIP41.9-4-2SR3-1S" || name != "jar41sip.9-4-2ES26.sbn" {
		t.Errorf("ParseSharedPath(%q) = %q %q %v", p, id, name, ok)
	}
	for _, bad := range []string{"/P0S3-8-12-00.sb2", "/.fleet/firmware/", "/.fleet/firmware/X", "/.fleet/firmware/X/", "/.fleet/firmware/X/a/b", "/.fleet/firmware/../a", "/.fleet/firmware/X/.hidden", "/.fleet/firmware/X/a\x00b"} {
		if _, _, ok := ParseSharedPath(bad); ok {
			t.Errorf("ParseSharedPath(%q) ok", bad)
		}
	}
}
