package firmware

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/firmware/fwtest"
)

func TestImportUploads(t *testing.T) {
	c := newCatalog(t)
	pkg := filepath.Join(t.TempDir(), "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, pkg, sip812Files())
	data, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	// The name a browser sends may carry a client's path.
	r, err := c.ImportUploads(Upload{Name: `C:\Users\admin\Downloads\cmterm-7960-sip.8-12-00.zip`, Body: bytes.NewReader(data)})
	if err != nil || len(r.Added) != 1 || r.Added[0].ID != sip812 {
		t.Fatalf("ImportUploads = %+v, %v", r, err)
	}
	if src := r.Added[0].Source; src != "upload cmterm-7960-sip.8-12-00.zip" {
		t.Errorf("source = %q, want the upload's name", src)
	}
	// A refusal names the upload, not where it was staged.
	if _, err := c.ImportUploads(Upload{Name: "broken.zip", Body: strings.NewReader("not a zip")}); err == nil || !strings.HasPrefix(err.Error(), "upload broken.zip: not a readable zip") {
		t.Errorf("broken upload: %v", err)
	}
	for _, bad := range []struct{ name, want string }{
		{"", "without a file name"},
		{"..", "not a plain file name"},
		{".hidden.zip", "not a plain file name"},
		{"a\x00.zip", "control character"},
	} {
		if _, err := c.ImportUploads(Upload{Name: bad.name, Body: strings.NewReader("x")}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("upload %q: %v, want %q", bad.name, err, bad.want)
		}
	}
	if _, err := c.ImportUploads(Upload{"a.loads", strings.NewReader("x")}, Upload{"A.LOADS", strings.NewReader("y")}); err == nil || !strings.Contains(err.Error(), "two files") {
		t.Errorf("two of a name: %v", err)
	}
	small := newCatalog(t)
	small.MaxImportSize = 100
	if _, err := small.ImportUploads(Upload{"cmterm-7960-sip.8-12-00.zip", bytes.NewReader(data)}); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("too big: %v", err)
	}
	// Nothing is left of the uploads.
	for _, cat := range []*Catalog{c, small} {
		entries, _ := os.ReadDir(cat.Dir())
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".import") {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	}
}
