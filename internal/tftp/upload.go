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
// temporary file and renamed); an existing file is never replaced.
type UploadDir struct {
	root *os.Root
}

const uploadTempPrefix = ".phoneboot-upload-"

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
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(path.Dir(req.Path), uploadTempPrefix+hex.EncodeToString(rnd[:]))
	f, err := u.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Errorf(ErrAccessViolation, "directory %s does not exist", path.Dir(req.Path))
		}
		return nil, err
	}
	return &diskUpload{root: u.root, f: f, tmp: tmp, final: req.Path}, nil
}

type diskUpload struct {
	root       *os.Root
	f          *os.File
	tmp, final string
}

func (u *diskUpload) Write(p []byte) (int, error) { return u.f.Write(p) }

func (u *diskUpload) Commit() error {
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if _, serr := u.root.Lstat(u.final); serr == nil {
			err = Errorf(ErrFileExists, "file already exists")
		}
	}
	if err == nil {
		err = u.root.Rename(u.tmp, u.final)
	}
	if err != nil {
		u.root.Remove(u.tmp)
		return fmt.Errorf("store upload %s: %w", u.final, err)
	}
	return nil
}

func (u *diskUpload) Abort() {
	u.f.Close()
	u.root.Remove(u.tmp)
}
