package tftp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/files"
)

// ByName serves the files of o (a files.Dir, say) by the request's
// cleaned path.
func ByName(o files.Opener) Resolver {
	return ResolverFunc(func(ctx context.Context, req *Request) (File, error) {
		return o.Open(ctx, req.Path)
	})
}

// UploadDir receives write requests into a directory. A file appears under
// its name only when the whole transfer arrived (it is written to a hidden
// temporary file of its own and renamed); an existing file is never
// replaced: of concurrent uploads of one name the first to complete is
// stored whole and the others are refused (ERROR 6), never a mix.
//
// MaxTotal, if set, caps the bytes of the directory: its files and the
// uploads in progress, each file counted with fileOverhead more, so that
// a flood of empty files is bounded too. Set it before the first upload.
type UploadDir struct {
	root     *os.Root
	MaxTotal int64

	mu      sync.Mutex // serializes commits and the accounting below
	used    int64      // the directory's bytes: counted, plus commits since
	pending int64      // bytes of uploads in progress
	countAt time.Time  // when used was counted; zero: never
}

const uploadTempPrefix = ".phoneboot-upload-"

// fileOverhead is what a file costs beyond its bytes (a disk block, an
// inode) in the accounting of MaxTotal.
const fileOverhead = 4096

// recountEvery bounds how often a full directory is counted again (the
// admin may have removed files) before an upload is refused.
const recountEvery = time.Second

// OpenUploadDir opens dir for uploads and removes temporary files left by
// an earlier crash.
func OpenUploadDir(dir string) (*UploadDir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if names, err := fs.Glob(r.FS(), uploadTempPrefix+"*"); err == nil {
		for _, n := range names {
			r.Remove(n)
		}
	}
	return &UploadDir{root: r}, nil
}

// Close releases the directory.
func (u *UploadDir) Close() error { return u.root.Close() }

// Create implements Receiver.
func (u *UploadDir) Create(_ context.Context, req *Request) (Upload, error) {
	if strings.HasPrefix(path.Base(req.Path), uploadTempPrefix) {
		return nil, Errorf(ErrAccessViolation, "reserved file name")
	}
	if _, err := u.root.Lstat(req.Path); err == nil {
		return nil, Errorf(ErrFileExists, "file already exists")
	}
	if err := u.reserve(fileOverhead); err != nil {
		return nil, err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(path.Dir(req.Path), uploadTempPrefix+hex.EncodeToString(rnd[:]))
	f, err := u.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		u.release(fileOverhead)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Errorf(ErrAccessViolation, "directory %s does not exist", path.Dir(req.Path))
		}
		return nil, err
	}
	return &diskUpload{dir: u, f: f, tmp: tmp, final: req.Path, held: fileOverhead}, nil
}

// reserve counts n more bytes of an upload in progress, or refuses them
// when the directory would go over MaxTotal.
func (u *UploadDir) reserve(n int64) error {
	if u.MaxTotal <= 0 {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.countAt.IsZero() || (u.used+u.pending+n > u.MaxTotal && time.Since(u.countAt) >= recountEvery) {
		u.recount()
	}
	if u.used+u.pending+n > u.MaxTotal {
		return Errorf(ErrDiskFull, "the upload folder is full (limit %d MiB)", u.MaxTotal>>20)
	}
	u.pending += n
	return nil
}

// release gives back n bytes reserved by an upload that is not stored.
func (u *UploadDir) release(n int64) {
	if u.MaxTotal <= 0 {
		return
	}
	u.mu.Lock()
	u.pending -= n
	u.mu.Unlock()
}

// recount counts the directory's files again, with u.mu held; it stops
// as soon as they fill MaxTotal. Temporary files are uploads in progress,
// already in pending.
func (u *UploadDir) recount() {
	var used int64
	fs.WalkDir(u.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), uploadTempPrefix) {
			return nil
		}
		if info, err := d.Info(); err == nil {
			used += info.Size() + fileOverhead
		}
		if used > u.MaxTotal {
			return fs.SkipAll
		}
		return nil
	})
	u.used, u.countAt = used, time.Now()
}

type diskUpload struct {
	dir        *UploadDir
	f          *os.File
	tmp, final string
	held       int64 // bytes reserved in dir
}

func (u *diskUpload) Write(p []byte) (int, error) {
	if err := u.dir.reserve(int64(len(p))); err != nil {
		return 0, err
	}
	u.held += int64(len(p))
	return u.f.Write(p)
}

func (u *diskUpload) Commit() error {
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	d := u.dir
	d.mu.Lock()
	// Under the lock: of two uploads of one name, the second to get here
	// finds the first one's file.
	if err == nil {
		if _, serr := d.root.Lstat(u.final); serr == nil {
			err = Errorf(ErrFileExists, "file already exists")
		}
	}
	if err == nil {
		err = d.root.Rename(u.tmp, u.final)
	}
	if d.MaxTotal > 0 {
		d.pending -= u.held
		if err == nil {
			d.used += u.held
		}
	}
	d.mu.Unlock()
	if err != nil {
		d.root.Remove(u.tmp)
		return fmt.Errorf("store upload %s: %w", u.final, err)
	}
	return nil
}

func (u *diskUpload) Abort() {
	u.f.Close()
	u.dir.root.Remove(u.tmp)
	u.dir.release(u.held)
}
