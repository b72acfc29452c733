package node

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	"phoneboot/internal/config"
	"phoneboot/internal/files"
	"phoneboot/internal/firmware"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/provision"
	"phoneboot/internal/store"
)

// Offline is what phoneboot would answer phones with the config cfg and
// the data directory as they are now (the firmware catalog, the TFTP
// root, the templates, the phones the store knows), built as serve
// builds it but serving nothing: commands ask it what a phone would get
// (phoneboot recover). It reads; it never writes the store.
type Offline struct {
	Provisioner *provision.Provisioner
	Catalog     *firmware.Catalog
	// Problems are what phoneboot check reports beyond the config
	// file's own errors.
	Problems []provision.Problem
	dir      *files.Dir // nil without a TFTP root
}

// OpenOffline builds an Offline for cfg and the data directory data;
// Close it.
func OpenOffline(ctx context.Context, data string, cfg *config.Config) (*Offline, error) {
	catalog, err := firmware.OpenCatalog(filepath.Join(data, "firmware"))
	if err != nil {
		return nil, err
	}
	saved, err := storedPhones(ctx, data, cfg.Store.URL)
	if err != nil {
		return nil, err
	}
	book := phonestate.New(0)
	book.Restore(saved)
	o := &Offline{Catalog: catalog}
	root := filepath.Join(data, "tftp")
	var opener files.Opener = noRoot{}
	if o.dir, err = files.OpenDir(root, 0); err == nil {
		opener = o.dir
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	o.Provisioner, err = provision.New(provision.Options{Root: root, Files: opener,
		Templates: filepath.Join(data, "templates"), Firmware: catalog, Book: book})
	if err == nil {
		o.Problems, err = o.Provisioner.Update(cfg)
	}
	if err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// Close releases the TFTP root.
func (o *Offline) Close() error {
	if o.dir != nil {
		return o.dir.Close()
	}
	return nil
}

// storedPhones is what the store of data (or url) kept of each phone;
// nothing when there is no store yet (serve creates it).
func storedPhones(ctx context.Context, data, url string) ([]phonestate.Saved, error) {
	if !store.Exists(data, url) {
		return nil, nil
	}
	db, err := store.OpenURL(ctx, data, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return savedPhones(ctx, db)
}

// noRoot is a TFTP root that is not there (yet): every name is not found.
type noRoot struct{}

func (noRoot) Open(context.Context, string) (files.File, error) {
	return nil, files.NotFoundf("file not found (no TFTP folder yet)")
}
