package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// HeldLoad is one firmware load one node of a fleet holds in its catalog
// (the firmware_loads table): what the other nodes need to fetch it from
// that node and check every byte of it.
type HeldLoad struct {
	ID       string // the load's ID as the node's catalog spells it
	Node     string // the node that holds it
	Manifest Manifest
	Imported time.Time // when the node imported it (or, Removed, removed it)
	// From is the node it was fetched from; "" when it was imported
	// where it is held (by an admin: a package, an upload).
	From string
	// Removed: the node held the load and no longer does (an admin
	// removed it there); kept so that the node does not fetch it back.
	// Its Manifest is the one it had.
	Removed bool
	// Unreadable: the stored manifest is not valid JSON (Manifest is
	// empty); such a load is never fetched.
	Unreadable bool
}

// row is what the manifest column holds: the manifest, and the row's
// From and Removed (the table has no columns of their own for them).
type row struct {
	Files   []ManifestFile `json:"files"`
	From    string         `json:"from,omitempty"`
	Removed bool           `json:"removed,omitempty"`
}

// Manifest is the files of a held load. It is stored as JSON; the store
// does not know what a load is made of, only names, sizes and digests.
type Manifest struct {
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one file of a held load.
type ManifestFile struct {
	Name   string `json:"name"`   // as the node's catalog stores it
	Size   int64  `json:"size"`   // bytes
	SHA256 string `json:"sha256"` // lower-case hex
}

// maxHeldLoads bounds what HeldLoads reads: far more loads than a fleet
// has (a catalog holds tens), so that a table filled by mistake does not
// fill a node's memory.
const maxHeldLoads = 10000

// PutHeldLoad records that l.Node holds l.ID with its manifest, or
// (Removed) removed it (a row already there for that node and load is
// replaced).
func (s *Store) PutHeldLoad(ctx context.Context, l HeldLoad) error {
	if l.ID == "" || l.Node == "" {
		return errors.New("held load: no load ID or no node name")
	}
	manifest, err := json.Marshal(row{Files: l.Manifest.Files, From: l.From, Removed: l.Removed})
	if err != nil {
		return fmt.Errorf("held load %s of node %s: %w", l.ID, l.Node, err)
	}
	_, err = s.w.ExecContext(ctx, `
INSERT INTO firmware_loads (id, node, manifest, imported_ms) VALUES ($1, $2, $3, $4)
ON CONFLICT (id, node) DO UPDATE SET manifest = excluded.manifest, imported_ms = excluded.imported_ms`,
		l.ID, l.Node, string(manifest), l.Imported.UnixMilli())
	if err != nil {
		return fmt.Errorf("held load %s of node %s: %w", l.ID, l.Node, err)
	}
	return nil
}

// DeleteHeldLoad records that node no longer holds load id (nothing to do
// when it never did).
func (s *Store) DeleteHeldLoad(ctx context.Context, node, id string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM firmware_loads WHERE node = $1 AND id = $2`, node, id); err != nil {
		return fmt.Errorf("held load %s of node %s: removing it: %w", id, node, err)
	}
	return nil
}

// HeldLoads is every load every node holds, by load ID, then node.
func (s *Store) HeldLoads(ctx context.Context) ([]HeldLoad, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, node, manifest, imported_ms FROM firmware_loads ORDER BY id, node LIMIT $1`, maxHeldLoads)
	if err != nil {
		return nil, fmt.Errorf("held loads: %w", err)
	}
	defer rows.Close()
	var out []HeldLoad
	for rows.Next() {
		var (
			l        HeldLoad
			manifest string
			imported int64
		)
		if err := rows.Scan(&l.ID, &l.Node, &manifest, &imported); err != nil {
			return nil, fmt.Errorf("held loads: %w", err)
		}
		var r row
		if json.Unmarshal([]byte(manifest), &r) != nil {
			l.Unreadable = true
		} else {
			l.Manifest, l.From, l.Removed = Manifest{Files: r.Files}, r.From, r.Removed
		}
		l.Imported = time.UnixMilli(imported)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("held loads: %w", err)
	}
	return out, nil
}
