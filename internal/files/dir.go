package files

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Opener opens files by name: a Dir, provision, the firmware catalog.
type Opener interface {
	Open(ctx context.Context, name string) (File, error)
}

// Dir serves the files under a directory. Every open goes through os.Root,
// so no spelling of a name ("..", symlinks pointing out) reaches a file
// outside it. Names are tried exactly, then case-insensitively (phones and
// firmware packages disagree on case: "Jar41sip…" vs "jar41sip…").
//
// Files up to CacheFileMax bytes are read once into memory and shared by
// every transfer until their size or modification time changes: a boot
// storm of 500 phones costs one read of each firmware file, not 500.
type Dir struct {
	root         *os.Root
	cacheMax     int64 // total bytes kept in memory
	cacheFileMax int64 // largest file kept in memory

	mu     sync.Mutex
	cache  map[string]*cacheEntry
	cached int64
}

type cacheEntry struct {
	size  int64
	mtime time.Time
	ready chan struct{} // closed when data or err is set
	data  Bytes
	err   error
}

// maxDirEntries bounds the directory listing read by a case-insensitive
// lookup.
const maxDirEntries = 100000

// OpenDir opens dir for serving. cacheBytes bounds the memory used for
// shared file contents (0 disables the cache).
func OpenDir(dir string, cacheBytes int64) (*Dir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &Dir{root: r, cacheMax: cacheBytes, cacheFileMax: min(cacheBytes, 256<<20), cache: make(map[string]*cacheEntry)}, nil
}

// Close releases the directory.
func (d *Dir) Close() error { return d.root.Close() }

// Open opens name, a path relative to the directory with '/' separators.
// Every refusal is an *Error that says in words what is wrong ("RINGLIST.DAT
// is not in the TFTP root"), never the system call's text: it reaches the
// phone's screen, the event and the log as it is.
func (d *Dir) Open(_ context.Context, name string) (File, error) {
	f, found, err := d.open(name)
	if err != nil {
		return nil, openError(name, err)
	}
	name = found
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Internalf("%s is in the TFTP root but could not be read", name)
	}
	if st.IsDir() {
		f.Close()
		return nil, NotFoundf("%s is a directory in the TFTP root, not a file", name)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, Deniedf("%s in the TFTP root is not a regular file (%s)", name, kind(st.Mode()))
	}
	if data, ok := d.shared(name, st, f); ok {
		f.Close()
		return data, nil
	}
	return &diskFile{File: f, size: st.Size()}, nil
}

// openError says in words why name could not be opened.
func openError(name string, err error) *Error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		// ENOTDIR: a part of the path is a file ("Piano1.raw/x").
		return NotFoundf("%s is not in the TFTP root", name)
	case errors.Is(err, fs.ErrPermission):
		return Deniedf("%s is in the TFTP root but phoneboot may not read it (file permissions)", name)
	case errors.Is(err, syscall.ELOOP):
		return Deniedf("%s in the TFTP root is a symbolic link that loops", name)
	case errors.Is(err, syscall.ENXIO):
		// What open(2) says of a socket, or of a device without a driver.
		return Deniedf("%s in the TFTP root is not a regular file (a socket or a device)", name)
	case isEscape(err):
		return Deniedf("%s points outside the TFTP root, which phoneboot never serves", name)
	}
	return Internalf("%s could not be opened in the TFTP root", name)
}

// isEscape reports an os.Root refusal of a path that leaves the root (a
// symbolic link pointing out, ".."): the os package has no exported
// error for it, only its text.
func isEscape(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes")
}

// kind names what a file that is not regular is, for people.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// open finds name exactly or, failing that, ignoring case.
func (d *Dir) open(name string) (*os.File, string, error) {
	f, err := openNonBlocking(d.root, name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return f, name, err
	}
	folded, ferr := d.lookupFold(name)
	if ferr != nil {
		return nil, "", err // report the exact name's error
	}
	f, err = openNonBlocking(d.root, folded)
	return f, folded, err
}

// openNonBlocking opens name for reading without waiting: opening a FIFO
// blocks until someone writes to it, and a device may block too, which
// would hang the transfer and the shutdown that waits for it. The caller
// refuses what fstat says is not a regular file or a directory before
// reading; on those O_NONBLOCK changes nothing.
func openNonBlocking(r *os.Root, name string) (*os.File, error) {
	return r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

func (d *Dir) lookupFold(name string) (string, error) {
	dir := "."
	for part := range strings.SplitSeq(name, "/") {
		df, err := openNonBlocking(d.root, dir)
		if err != nil {
			return "", err
		}
		names, err := df.Readdirnames(maxDirEntries)
		df.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		found := ""
		for _, n := range names {
			if strings.EqualFold(n, part) {
				found = n
				break
			}
		}
		if found == "" {
			return "", fs.ErrNotExist
		}
		dir = path.Join(dir, found)
	}
	return dir, nil
}

// shared returns the shared in-memory copy of a file, reading it on first
// use. ok is false when the file is not to be cached.
func (d *Dir) shared(name string, st fs.FileInfo, f *os.File) (Bytes, bool) {
	size := st.Size()
	if size > d.cacheFileMax {
		return nil, false
	}
	d.mu.Lock()
	e := d.cache[name]
	if e == nil || e.size != size || !e.mtime.Equal(st.ModTime()) {
		old := int64(0)
		if e != nil {
			old = e.size
		}
		if d.cached-old+size > d.cacheMax {
			d.mu.Unlock()
			return nil, false
		}
		d.cached += size - old
		e = &cacheEntry{size: size, mtime: st.ModTime(), ready: make(chan struct{})}
		d.cache[name] = e
		d.mu.Unlock()
		e.data = make(Bytes, size)
		_, e.err = io.ReadFull(f, e.data)
		if e.err != nil {
			d.mu.Lock()
			if d.cache[name] == e {
				delete(d.cache, name)
				d.cached -= size
			}
			d.mu.Unlock()
		}
		close(e.ready)
	} else {
		d.mu.Unlock()
		<-e.ready
	}
	return e.data, e.err == nil
}

type diskFile struct {
	*os.File
	size int64
}

func (f *diskFile) Size() int64 { return f.size }

// ReadRegular reads the file at path, which must be a regular file: a
// FIFO or a device is refused (NotRegularError) without waiting on it.
func ReadRegular(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &NotRegularError{Kind: kind(st.Mode())}
	}
	return io.ReadAll(f)
}

// NotRegularError is a file that is not a regular file.
type NotRegularError struct {
	Kind string // "a FIFO", "a device", …
}

func (e *NotRegularError) Error() string { return "not a regular file (" + e.Kind + ")" }

// Why says in words why a file or directory could not be read, for
// messages that name it: "TFTP root /srv/tftp: " + Why(err).
func Why(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "it does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "phoneboot may not read it (file permissions)"
	case errors.Is(err, syscall.ENOTDIR):
		return "it is not a directory"
	case errors.Is(err, syscall.EISDIR):
		return "it is a directory"
	case errors.Is(err, syscall.ELOOP):
		return "it is a symbolic link that loops"
	case errors.Is(err, syscall.EIO):
		return "the disk returned an input/output error"
	}
	var nr *NotRegularError
	if errors.As(err, &nr) {
		return "it is " + nr.Error()
	}
	return "it cannot be read"
}
