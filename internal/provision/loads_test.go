package provision

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"phoneboot/internal/firmware/fwtest"
)

// TestIndexLoadsRoot: which loads of a TFTP root phoneboot may name, and
// the loader OS79XX.TXT names for each (phone.ParseImage's definition).
func TestIndexLoadsRoot(t *testing.T) {
	dir := t.TempDir()
	files := fwtest.Merge(
		// SIP 8.12: P003-8-12-00.sbn loader + P0S3-8-12-00.sb2 (§4.2).
		fwtest.LoadFiles("P0S3-8-12-00", 10, fwtest.Classic("P0S3-8-12-00")...),
		// SCCP 8.1(2): .sb2 listed before the .sbn loader.
		fwtest.LoadFiles("P00308010200", 10, "P00308010200.sb2", "P00308010200.sbn"),
		// A Java load: no loader.
		fwtest.LoadFiles("SIP41.9-4-2SR3-1S", 10, fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")...),
		map[string][]byte{
			"P0S3-04-4-00.bin":   []byte("old SIP 4.4"),                                  // an old image is a load by itself
			"P00305000200.SBN":   []byte("old SCCP 5.0"),                                 // in any case
			"P0S3-07-2-00.sb2":   []byte("UAL app alone"),                                // needs its .loads
			"P003-07-2-00.sbn":   []byte("loader alone"),                                 // a loader is no load
			"P0S3-8-12-01.bin":   []byte("UAL image"),                                    // UAL images need a .loads
			"SIP41.9-4-3S.loads": fwtest.LoadsFile("SIP41.9-4-3S", "jar41sip.9-4-3.sbn"), // incomplete
		},
	)
	root := map[string]string{}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		root[strings.ToLower(name)] = name
	}
	ix := indexLoads(nil, root, dir)
	want := []string{"P00305000200", "P00308010200", "P0S3-04-4-00", "P0S3-8-12-00", "SIP41.9-4-2SR3-1S"}
	if got := ix.ids(); !slices.Equal(got, want) {
		t.Fatalf("loads %v, want %v", got, want)
	}
	for id, loader := range map[string]string{
		"P0S3-8-12-00": "P003-8-12-00", "P00308010200": "P00308010200",
		"P0S3-04-4-00": "P0S3-04-4-00", "P00305000200": "P00305000200", "SIP41.9-4-2SR3-1S": "",
	} {
		if l, _ := ix.get(id); l.loader != loader {
			t.Errorf("%s: loader %q, want %q", id, l.loader, loader)
		}
	}
	if why := ix.why("SIP41.9-4-3S"); !strings.Contains(why, "jar41sip.9-4-3.sbn") {
		t.Errorf("why = %q", why)
	}
	for id, want := range map[string]bool{
		"P0S3-8-12-00": true, "p003-8-12-00": true, "P0030801SR02": true, "P0M3-07-4-00": true,
		"SIP41.9-4-2SR3-1S": false, "TERM41.7-0-3-0S": false, "jar41sip.9-4-2ES26": false, "": false,
	} {
		if got := isClassic(id); got != want {
			t.Errorf("isClassic(%q) = %v", id, got)
		}
	}
}
