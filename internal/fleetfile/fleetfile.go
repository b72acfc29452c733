// Package fleetfile keeps a node's fleet.toml, the fleet's shared
// inventory and policy, in step with the fleet's copy in the database
// (docs/fleet.md): an edit on any node — by hand, `phoneboot phones add`,
// the dashboard or the API — is stored as the next revision and
// announced; the other nodes write it to their own fleet.toml and reload.
//
// Beside fleet.toml a node keeps fleet.toml.rev: the revision its file
// was last in step with, and that text's sha256. A file whose sum differs
// was edited here since, and is shared on the next Sync.
package fleetfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/store"
)

// Sync keeps File in step with the store's copy.
type Sync struct {
	Store *store.Store
	Node  string // this node's name, stored with its revisions
	File  string // the node's fleet.toml
	// Check says what is wrong with a text before it is shared (the
	// config's errors, with fleet.toml's lines); a broken edit is never
	// shared.
	Check func(text []byte) error
}

// Result is what one Sync did.
type Result struct {
	Revision int64 // the revision File is now in step with (0: none yet)
	Shared   bool  // an edit made here was stored as Revision
	Written  bool  // File was rewritten with another node's revision
	// Conflict is where an edit made here was saved when another node's
	// edit came first ("": none); File now has the other's.
	Conflict string
}

// Once brings File and the store's copy in step.
func (s *Sync) Once(ctx context.Context) (Result, error) {
	doc, stored, err := s.Store.FleetDoc(ctx)
	if err != nil {
		return Result{}, err
	}
	local, err := os.ReadFile(s.File)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Result{}, err
	}
	base, baseSum := s.readRev()
	edited := exists && sum(local) != baseSum
	switch {
	case !stored && !exists:
		return Result{}, nil
	case edited && stored && sum(local) == sum([]byte(doc.Text)):
		return Result{Revision: doc.Revision}, s.writeRev(doc.Revision, local)
	case edited && (!stored || base == doc.Revision):
		if err := s.Check(local); err != nil {
			return Result{Revision: base}, fmt.Errorf("not shared with the other nodes until fixed: %w", err)
		}
		rev, err := s.Store.PutFleetDoc(ctx, doc.Revision, string(local), s.Node)
		if errors.Is(err, store.ErrFleetDocChanged) {
			return s.Once(ctx) // another node came first: a conflict now
		}
		if err != nil {
			return Result{Revision: base}, err
		}
		if err := s.writeRev(rev, local); err != nil {
			return Result{}, err
		}
		return Result{Revision: rev, Shared: true}, s.Store.Notify(ctx, store.ChannelInventory)
	case edited:
		saved := fmt.Sprintf("%s.conflict-%s", s.File, time.Now().UTC().Format("20060102T150405Z"))
		if err := writeFile(saved, local); err != nil {
			return Result{}, err
		}
		if err := s.write(doc); err != nil {
			return Result{}, err
		}
		return Result{Revision: doc.Revision, Written: true, Conflict: saved}, nil
	case !stored: // the file was shared once, and the database is new
		rev, err := s.Store.PutFleetDoc(ctx, 0, string(local), s.Node)
		if err != nil {
			return Result{}, err
		}
		return Result{Revision: rev, Shared: true}, s.writeRev(rev, local)
	case doc.Revision != base || !exists:
		return Result{Revision: doc.Revision, Written: true}, s.write(doc)
	}
	return Result{Revision: base}, nil
}

// write puts doc's text in File, then its revision beside it.
func (s *Sync) write(doc store.FleetDoc) error {
	if err := writeFile(s.File, []byte(doc.Text)); err != nil {
		return err
	}
	return s.writeRev(doc.Revision, []byte(doc.Text))
}

func (s *Sync) revFile() string { return s.File + ".rev" }

// readRev is the revision and sum of the last text in step (0, "" if
// none).
func (s *Sync) readRev() (int64, string) {
	b, err := os.ReadFile(s.revFile())
	if err != nil {
		return 0, ""
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, ""
	}
	rev, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, ""
	}
	return rev, f[1]
}

func (s *Sync) writeRev(rev int64, text []byte) error {
	return writeFile(s.revFile(), fmt.Appendf(nil, "%d %s\n", rev, sum(text)))
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// writeFile replaces path with data whole: a reader sees the old file or
// the new one, never a part. The file keeps its mode; a new one is 0600,
// as config edits make them: the fleet's file has SIP passwords.
func writeFile(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
