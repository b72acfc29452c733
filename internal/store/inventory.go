package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FleetDoc is the fleet's shared file (fleet.toml) as the database keeps
// it: its text, and a revision that counts its edits.
type FleetDoc struct {
	Revision int64
	Text     string
	Node     string // the node that stored this revision
	Updated  time.Time
}

// ErrFleetDocChanged: another node stored a revision after the one an
// edit started from.
var ErrFleetDocChanged = errors.New("the fleet's file was changed by another node meanwhile")

// FleetDoc is the fleet's file as stored; ok is false before any node
// stored one.
func (s *Store) FleetDoc(ctx context.Context) (doc FleetDoc, ok bool, err error) {
	var ms int64
	err = s.r.QueryRowContext(ctx, `SELECT revision, text, node, updated_ms FROM inventory WHERE id = 1`).
		Scan(&doc.Revision, &doc.Text, &doc.Node, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return FleetDoc{}, false, nil
	}
	if err != nil {
		return FleetDoc{}, false, fmt.Errorf("fleet file: %w", err)
	}
	doc.Updated = time.UnixMilli(ms)
	return doc, true, nil
}

// PutFleetDoc stores text as the revision after base (0: the first one),
// by node, and returns the new revision. If the stored revision is not
// base any more, nothing is stored: ErrFleetDocChanged.
func (s *Store) PutFleetDoc(ctx context.Context, base int64, text, node string) (int64, error) {
	now := time.Now().UnixMilli()
	var res sql.Result
	var err error
	if base == 0 {
		res, err = s.w.ExecContext(ctx, `INSERT INTO inventory (id, revision, text, node, updated_ms)
			VALUES (1, 1, $1, $2, $3) ON CONFLICT (id) DO NOTHING`, text, node, now)
	} else {
		res, err = s.w.ExecContext(ctx, `UPDATE inventory SET revision = revision + 1, text = $1, node = $2,
			updated_ms = $3 WHERE id = 1 AND revision = $4`, text, node, now, base)
	}
	if err != nil {
		return 0, fmt.Errorf("store the fleet file: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return 0, ErrFleetDocChanged
	}
	return base + 1, nil
}
