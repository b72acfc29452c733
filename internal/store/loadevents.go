package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"phoneboot/internal/event"
)

// LoadEvents returns the newest limit "load" events (a phone runs a new
// load) of every phone since since, oldest first: the dashboard's
// firmware rollout over time.
func (s *Store) LoadEvents(ctx context.Context, since time.Time, limit int) ([]event.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE time_ms >= $1 AND source = $2 AND kind = $3 AND mac IS NOT NULL
		ORDER BY time_ms DESC, id DESC LIMIT $4`, since.UnixMilli(), string(event.Provision), string(event.Load), limit)
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}
