package firmware

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Upload is a package file that arrives as a stream (the admin pages'
// and the API's import): its name as the sender gave it, which tells its
// kind (.zip, .cop.sgn, a .loads …), and its bytes.
type Upload struct {
	Name string
	Body io.Reader
}

// ImportUploads stores the uploads under their base names in a staging
// folder of the catalog, then imports them together like Import does the
// same files on disk (all or nothing). Their total size is capped like an
// import's.
func (c *Catalog) ImportUploads(ups ...Upload) (ImportReport, error) {
	if len(ups) == 0 {
		return ImportReport{}, errors.New("nothing to import: no file uploaded")
	}
	// ".import-" so that a crash's leftovers are cleaned like an import's.
	dir, err := os.MkdirTemp(c.dir, ".import-upload-")
	if err != nil {
		return ImportReport{}, fmt.Errorf("firmware catalog: %w", err)
	}
	defer os.RemoveAll(dir)
	total := c.MaxImportSize
	if total <= 0 {
		total = DefaultMaxImportSize
	}
	limit := total
	var paths []string
	seen, shown := map[string]bool{}, map[string]string{}
	for _, up := range ups {
		name := filepath.Base(strings.ReplaceAll(up.Name, `\`, "/"))
		if strings.TrimSpace(up.Name) == "" {
			return ImportReport{}, errors.New("an upload without a file name (the name tells its kind: .zip, .cop.sgn, .loads …)")
		}
		if err := plainName(name); err != nil {
			return ImportReport{}, fmt.Errorf("upload %q: %v", up.Name, err)
		}
		if seen[strings.ToLower(name)] {
			return ImportReport{}, fmt.Errorf("upload %q: two files of that name", name)
		}
		seen[strings.ToLower(name)] = true
		p := filepath.Join(dir, name)
		n, err := writeUpload(p, up.Body, limit)
		if err != nil {
			return ImportReport{}, fmt.Errorf("upload %s: %w", name, err)
		}
		if limit -= n; limit < 0 {
			return ImportReport{}, fmt.Errorf("the upload holds more than the %d MiB an import may hold", total>>20)
		}
		paths = append(paths, p)
		shown[p] = "upload " + name
	}
	return c.importPaths(paths, shown, "")
}

// writeUpload copies r to a new file at p, at most limit+1 bytes (one
// more tells the caller the upload is too big).
func writeUpload(p string, r io.Reader, limit int64) (int64, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
