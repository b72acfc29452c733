package phonehttp

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/firmware"
	"phoneboot/internal/firmware/fwtest"
)

// TestSharedLoadFiles: another node fetches a load's files by load and
// name, exactly as the catalog has them: term files too, and the
// catalog's file even where the TFTP root has one of the same name (which
// phones get); nothing it does lands in a phone's timeline.
func TestSharedLoadFiles(t *testing.T) {
	const java, build = "SIP41.9-4-2SR3-1S", "9-4-2ES26"
	pkgs := t.TempDir()
	comps := fwtest.Java(java, build)
	files := fwtest.LoadFiles(java, 5000, comps...)
	files["term61.default.loads"] = fwtest.TermFile("61", java, comps...)
	fwtest.Zip(t, filepath.Join(pkgs, "java.zip"), files)
	cat, err := firmware.OpenCatalog(filepath.Join(t.TempDir(), "firmware"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Import(filepath.Join(pkgs, "java.zip")); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(s *Service) { s.Shared = cat })
	// The admin's file of a component's name in the TFTP root: what
	// phones get, never what a node fetches.
	fwtest.Write(t, f.root, comps[0], []byte("the admin's own"))
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := f.client(stranger).Get("http://" + f.http + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, name := range []string{"term61.default.loads", comps[0], java + ".loads"} {
		code, b := get(firmware.SharedPath(java, name))
		if code != http.StatusOK || !bytes.Equal(b, files[name]) {
			t.Errorf("%s: %d, %d bytes (want %d)", name, code, len(b), len(files[name]))
		}
	}
	if code, b := get("/" + comps[0]); code != http.StatusOK || string(b) != "the admin's own" {
		t.Errorf("a phone asking %s: %d %q", comps[0], code, b)
	}
	for path, want := range map[string]string{
		firmware.SharedPath(java, "load.json"):        "no load " + java + " with a file load.json",
		firmware.SharedPath("P0S3-8-12-00", comps[0]): "no load P0S3-8-12-00",
		firmware.SharedPrefix + "only-a-load":         "not a file of a load",
		firmware.SharedPrefix + "a/b/c":               "not a file of a load",
		firmware.SharedPath(java, comps[0]) + "?x=1":  "not a file of a load",
	} {
		if code, b := get(path); code != http.StatusNotFound || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %q, want 404 saying %q", path, code, b, want)
		}
	}
	for _, ev := range f.events() {
		if strings.Contains(ev.File, ".fleet") {
			t.Errorf("a node's fetch became an event: %+v", ev)
		}
	}
	// Without a catalog to share: 404 that says so.
	g := newFixture(t, nil)
	resp, err := g.client(stranger).Get("http://" + g.http + firmware.SharedPath(java, comps[0]))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "shares no firmware") {
		t.Errorf("no Shared: %d %q", resp.StatusCode, b)
	}
}
