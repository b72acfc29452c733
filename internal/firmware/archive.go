package firmware

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// staged is one file read out of a package.
type staged struct {
	name  string // base name as the package spells it
	where string // the package, or the file itself for loose files
	path  string // the copy in the import's temp dir; "" when only hashed
	size  int64
	sum   string // hex SHA-256
	text  []byte // contents of .loads files
}

// group is the files of one package: an archive, a directory tree, or
// the loose files of one Import. A .loads file finds its components in
// its own group only.
type group struct {
	label  string // for messages: the path as given
	source string // for Load.Source: absolute path
	loose  bool
	files  []*staged
	// hasPackages is set for a directory with archives in it (read as
	// packages of their own): then it need not hold a load itself.
	hasPackages bool
}

// reader reads packages into groups, staging every regular file and
// enforcing the limits on the whole import.
type reader struct {
	left     int64 // bytes still allowed
	maxSize  int64
	entries  int // entries still allowed
	maxCount int
	// stage stores the content of one entry and returns where it went ("" to
	// only hash it).
	stage  func(r io.Reader) (path string, err error)
	groups []*group
	loose  *group
	notes  []string
	// shown is how a path given is named in messages and Load.Source
	// when not by itself (an upload's staging file: by its upload name).
	shown map[string]string
}

// show is how path p given to Import is named.
func (rd *reader) show(p string) (label, source string) {
	if s, ok := rd.shown[p]; ok {
		return s, s
	}
	abs, _ := filepath.Abs(p)
	return p, abs
}

func newReader(maxSize int64, maxEntries int, stage func(io.Reader) (string, error)) *reader {
	if maxSize <= 0 {
		maxSize = DefaultMaxImportSize
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	if stage == nil {
		stage = func(r io.Reader) (string, error) {
			_, err := io.Copy(io.Discard, r)
			return "", err
		}
	}
	return &reader{left: maxSize, maxSize: maxSize, entries: maxEntries, maxCount: maxEntries, stage: stage}
}

// archiveKind tells how a file is read, by its name: "zip", "tgz" (also
// .cop and .cop.sgn), "tar", or "" for a plain file.
func archiveKind(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	case strings.HasSuffix(n, ".cop.sgn"), strings.HasSuffix(n, ".cop"),
		strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "tgz"
	case strings.HasSuffix(n, ".tar"):
		return "tar"
	}
	return ""
}

// addPath reads one path given to Import.
func (rd *reader) addPath(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: no such file or directory", p)
		}
		return err
	}
	switch {
	case fi.IsDir():
		return rd.addDir(p)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", p)
	case archiveKind(p) != "":
		return rd.addArchive(p, archiveKind(p))
	}
	if rd.loose == nil {
		rd.loose = &group{label: "the files given", loose: true}
		rd.groups = append(rd.groups, rd.loose)
	}
	return rd.addFile(rd.loose, p, filepath.Base(p))
}

// addFile stages a file from the file system.
func (rd *reader) addFile(g *group, p, name string) error {
	if err := rd.count(g); err != nil {
		return err
	}
	if err := checkEntryName(name); err != nil {
		label, _ := rd.show(p)
		return fmt.Errorf("%s: %v", label, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	label, _ := rd.show(p)
	return rd.entry(g, label, label, name, -1, f)
}

// addDir reads a directory tree as one package; archives in it are
// packages of their own.
func (rd *reader) addDir(dir string) error {
	label, source := rd.show(dir)
	g := &group{label: label, source: source}
	rd.groups = append(rd.groups, g)
	// WalkDir does not follow a root that is a symbolic link.
	walkRoot, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == walkRoot {
			return nil
		}
		if err := rd.count(g); err != nil {
			return err
		}
		name := d.Name()
		if err := checkEntryName(name); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		if strings.HasPrefix(name, ".") || name == "__MACOSX" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // .DS_Store, ._AppleDouble
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			if fi.IsDir() {
				rd.notes = append(rd.notes, fmt.Sprintf("%s: symbolic link to a directory, not followed", p))
				return nil
			}
			mode = fi.Mode().Type()
		}
		switch {
		case d.IsDir():
			return nil
		case mode != 0:
			return fmt.Errorf("%s: not a regular file (%v)", p, mode)
		case archiveKind(name) != "":
			g.hasPackages = true
			return rd.addArchive(p, archiveKind(name))
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return rd.entry(g, p, p, name, -1, f)
	})
}

// addArchive reads one archive file as a package.
func (rd *reader) addArchive(p, kind string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	label, source := rd.show(p)
	g := &group{label: label, source: source}
	rd.groups = append(rd.groups, g)
	switch kind {
	case "zip":
		return rd.readZip(g, f, fi.Size())
	case "tar":
		return rd.readTar(g, f)
	}
	return rd.readTarGz(g, f, fi.Size())
}

// readZip reads a zip archive (cmterm-….zip).
func (rd *reader) readZip(g *group, ra io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("%s: not a readable zip archive (truncated or corrupt?): %v", g.label, err)
	}
	if len(zr.File) > rd.entries {
		return fmt.Errorf("%s: more than %d entries (zip bomb?)", g.label, rd.maxCount)
	}
	for _, f := range zr.File {
		if err := rd.count(g); err != nil {
			return err
		}
		name, skip, err := entryBase(f.Name)
		if err != nil {
			return fmt.Errorf("%s: entry %q: %v", g.label, f.Name, err)
		}
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return fmt.Errorf("%s: entry %q: symbolic link not allowed", g.label, f.Name)
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			continue
		case !mode.IsRegular():
			return fmt.Errorf("%s: entry %q: not a regular file (%v)", g.label, f.Name, mode.Type())
		case skip:
			continue
		}
		if f.UncompressedSize64 > uint64(rd.left) {
			return rd.tooBig(g, f.Name)
		}
		r, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: entry %q: %v (truncated or corrupt?)", g.label, f.Name, err)
		}
		err = rd.entry(g, g.label+": entry "+fmt.Sprintf("%q", f.Name), g.source, name, int64(f.UncompressedSize64), r)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// gzipSearch is how far into a .cop.sgn the gzip stream may start, after
// the signature header.
const gzipSearch = 1 << 20

// readTarGz reads a tar.gz (.cop, .tgz), or a .cop.sgn whose signature
// header comes before the gzip stream: the stream starts at the first
// gzip magic (1f 8b 08) from which a tar header decompresses.
func (rd *reader) readTarGz(g *group, ra io.ReaderAt, size int64) error {
	off := findGzip(ra, size)
	if off < 0 {
		return fmt.Errorf("%s: no tar.gz inside (garbage header?)", g.label)
	}
	zr, err := gzip.NewReader(io.NewSectionReader(ra, off, size-off))
	if err != nil {
		return fmt.Errorf("%s: corrupt gzip stream: %v", g.label, err)
	}
	// Whatever follows the gzip member (a signature trailer) is not read.
	zr.Multistream(false)
	if err := rd.readTar(g, zr); err != nil {
		return err
	}
	// Read the rest (tar padding) so that the gzip checksum is checked.
	n, err := io.Copy(io.Discard, io.LimitReader(zr, rd.left+1))
	if err != nil {
		return fmt.Errorf("%s: corrupt or truncated gzip stream: %v", g.label, err)
	}
	if n > rd.left {
		return rd.tooBig(g, "after the tar archive")
	}
	rd.left -= n
	return nil
}

// findGzip finds where the gzip stream of a tar.gz starts, -1 if nowhere.
func findGzip(ra io.ReaderAt, size int64) int64 {
	head := make([]byte, min(size, gzipSearch))
	n, _ := ra.ReadAt(head, 0)
	head = head[:n]
	tries := 0
	for i := 0; i+3 <= len(head) && tries < 64; i++ {
		j := bytes.Index(head[i:], []byte{0x1f, 0x8b, 0x08})
		if j < 0 {
			break
		}
		i += j
		tries++
		zr, err := gzip.NewReader(io.NewSectionReader(ra, int64(i), size-int64(i)))
		if err != nil {
			continue
		}
		var block [512]byte
		if _, err := io.ReadFull(zr, block[:]); err == nil {
			return int64(i)
		}
	}
	return -1
}

// readTar reads a tar stream.
func (rd *reader) readTar(g *group, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: corrupt or truncated archive: %v", g.label, err)
		}
		if err := rd.count(g); err != nil {
			return err
		}
		name, skip, err := entryBase(h.Name)
		if err != nil {
			return fmt.Errorf("%s: entry %q: %v", g.label, h.Name, err)
		}
		// Data the reader skips is decompressed all the same: it counts.
		if h.Size > rd.left {
			return rd.tooBig(g, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeReg:
		case tar.TypeDir, tar.TypeXGlobalHeader:
			rd.left -= h.Size
			continue
		case tar.TypeSymlink:
			return fmt.Errorf("%s: entry %q: symbolic link not allowed", g.label, h.Name)
		case tar.TypeLink:
			return fmt.Errorf("%s: entry %q: hard link not allowed", g.label, h.Name)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return fmt.Errorf("%s: entry %q: device or pipe not allowed", g.label, h.Name)
		default:
			return fmt.Errorf("%s: entry %q: unsupported entry type %q", g.label, h.Name, h.Typeflag)
		}
		if skip {
			rd.left -= h.Size
			continue
		}
		if err := rd.entry(g, g.label+": entry "+fmt.Sprintf("%q", h.Name), g.source, name, h.Size, tr); err != nil {
			return err
		}
	}
}

// count counts one entry against the limit.
func (rd *reader) count(g *group) error {
	if rd.entries <= 0 {
		return fmt.Errorf("%s: more than %d entries in one import (zip bomb?)", g.label, rd.maxCount)
	}
	rd.entries--
	return nil
}

func (rd *reader) tooBig(g *group, entry string) error {
	return fmt.Errorf("%s: entry %q: the import would exceed %d MiB uncompressed (zip bomb?)", g.label, entry, rd.maxSize>>20)
}

// entry stages the content of one regular file. what names it in errors;
// size is the size the archive declares (-1 unknown), checked against
// what is read.
func (rd *reader) entry(g *group, what, where, name string, size int64, r io.Reader) error {
	lr := &io.LimitedReader{R: r, N: rd.left + 1}
	h := sha256.New()
	var text *bytes.Buffer
	var w io.Writer = h
	if strings.HasSuffix(strings.ToLower(name), ".loads") {
		text = &bytes.Buffer{}
		w = io.MultiWriter(h, &limitedBuffer{buf: text, max: maxLoadsFile})
	}
	path, err := rd.stage(io.TeeReader(lr, w))
	used := rd.left + 1 - lr.N
	switch {
	case errors.Is(err, errLoadsTooBig):
		return fmt.Errorf("%s: over %d KiB: too large for a .loads file", what, maxLoadsFile>>10)
	case err != nil:
		return fmt.Errorf("%s: %v (truncated or corrupt?)", what, err)
	case used > rd.left:
		return fmt.Errorf("%s: the import would exceed %d MiB uncompressed (zip bomb?)", what, rd.maxSize>>20)
	case size >= 0 && used != size:
		return fmt.Errorf("%s: %d bytes where the archive says %d (corrupt?)", what, used, size)
	}
	rd.left -= used
	s := &staged{name: name, where: where, path: path, size: used, sum: hex.EncodeToString(h.Sum(nil))}
	if text != nil {
		s.text = text.Bytes()
	}
	g.files = append(g.files, s)
	return nil
}

var errLoadsTooBig = errors.New(".loads file too large")

// limitedBuffer fails writes past max bytes.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, errLoadsTooBig
	}
	return b.buf.Write(p)
}

// entryBase checks an archive entry's path and returns its base name.
// Packages put their files at the top or in one folder; the folders do not
// matter, but a path that leaves the package (.., absolute) or carries
// control characters is an error. skip is set for directories and for
// files that are not firmware by construction (macOS metadata).
func entryBase(raw string) (name string, skip bool, err error) {
	if err := checkEntryName(raw); err != nil {
		return "", false, err
	}
	p := strings.ReplaceAll(raw, `\`, "/")
	if strings.HasPrefix(p, "/") || (len(p) >= 2 && p[1] == ':' && isLetter(p[0])) {
		return "", false, errors.New("absolute path not allowed")
	}
	parts := strings.Split(p, "/")
	for _, part := range parts {
		if part == ".." {
			return "", false, errors.New("path leaves the package (..)")
		}
		if part == "__MACOSX" {
			skip = true
		}
	}
	name = parts[len(parts)-1]
	if name == "" || name == "." || strings.HasPrefix(name, ".") {
		skip = true // directory, .DS_Store, ._AppleDouble
	}
	if len(name) > 255 {
		return "", false, errors.New("name too long")
	}
	return name, skip, nil
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// checkEntryName rejects control characters (and NUL) in names.
func checkEntryName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return errors.New("control character in name")
		}
	}
	if len(s) > 4096 {
		return errors.New("name too long")
	}
	return nil
}

// plainName accepts names the catalog stores files and load directories
// under: no separators, no control characters, not hidden.
func plainName(s string) error {
	if err := checkEntryName(s); err != nil {
		return err
	}
	if len(s) > 255 || strings.ContainsAny(s, `/\:`) || strings.HasPrefix(s, ".") {
		return fmt.Errorf("%q is not a plain file name", s)
	}
	return nil
}
