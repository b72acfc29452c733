package node

import (
	"fmt"
	"os"
	"path/filepath"

	"phoneboot/internal/files"
	"phoneboot/internal/tftp"
)

// openUploads opens the upload directory, refusing one from which
// phoneboot serves or reads anything: any host may upload, and an
// upload into the TFTP root would be served to phones as it is (a
// SEP<MAC>.cnf.xml in place of the generated one); in the data directory
// it could become phoneboot.toml.
func (n *node) openUploads() (*tftp.UploadDir, error) {
	dir := n.opts.UploadDir
	if n.opts.UploadMaxTotal < 0 {
		return nil, fmt.Errorf("--upload-max-total-mb must be 0 (no limit) or more")
	}
	if err := n.checkUploadDir(dir); err != nil {
		return nil, err
	}
	up, err := tftp.OpenUploadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--upload-dir %s: %s", dir, files.Why(err))
	}
	up.MaxTotal = n.opts.UploadMaxTotal
	return up, nil
}

// checkUploadDir refuses dir if it is, is inside, or contains (through
// symbolic links too) the TFTP root, the firmware catalog or the
// templates folder, or contains the data directory.
func (n *node) checkUploadDir(dir string) error {
	up, err := resolve(dir)
	if err != nil {
		return fmt.Errorf("--upload-dir %s: %s", dir, files.Why(err))
	}
	why := fmt.Sprintf("any host may upload, and phoneboot would serve or read what it uploads; use a directory outside %s, %s and %s (such as %s)",
		n.root, n.firmwareDir(), n.templates(), filepath.Join(n.opts.Data, "uploads"))
	for _, s := range []struct{ what, path string }{
		{"the TFTP root", n.root},
		{"the firmware catalog", n.firmwareDir()},
		{"the templates folder", n.templates()},
		{"the data directory", n.opts.Data}, // phoneboot.toml is read from it
	} {
		p, err := resolve(s.path)
		if err != nil {
			continue // not there: nothing is read from it
		}
		switch {
		case s.path != n.opts.Data && within(up, p):
			return fmt.Errorf("--upload-dir %s is inside %s %s: %s", dir, s.what, s.path, why)
		case within(p, up):
			return fmt.Errorf("--upload-dir %s contains %s %s: %s", dir, s.what, s.path, why)
		}
	}
	return nil
}

// resolve is p absolute, with its symbolic links followed.
func resolve(p string) (string, error) {
	p, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// within reports whether dir is root or below it, both resolved. Each of
// dir's parents is compared with root as a file, not only by name, so a
// bind mount or a case-insensitive spelling of root is found too.
func within(dir, root string) bool {
	rootSt, err := os.Stat(root)
	if err != nil {
		return false
	}
	for d := dir; ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && os.SameFile(st, rootSt) {
			return true
		}
		if filepath.Dir(d) == d {
			return false
		}
	}
}
