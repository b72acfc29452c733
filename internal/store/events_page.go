package store

import (
	"context"
	"fmt"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// EventPage selects one page of events, newest first, for the API's
// cursor paging: an event's id is the order it was recorded in, and a
// cursor (Before) stays valid however many events come after it or are
// pruned.
type EventPage struct {
	MAC    phone.MAC  // only this phone's events; zero: every event
	Kind   event.Kind // only events of this kind; "": every kind
	Before int64      // only events with a smaller id; 0: from the newest
	Limit  int        // at most this many; must be positive
}

// EventsPage returns the events q selects, newest (highest id) first.
func (s *Store) EventsPage(ctx context.Context, q EventPage) ([]event.Event, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("events page: limit %d, want a positive one", q.Limit)
	}
	sql := `SELECT ` + eventColumns + ` FROM events WHERE 1 = 1`
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		sql += fmt.Sprintf(" AND "+cond, len(args))
	}
	if q.MAC != (phone.MAC{}) {
		arg("mac = $%d", q.MAC.String())
	}
	if q.Kind != "" {
		arg("kind = $%d", string(q.Kind))
	}
	if q.Before > 0 {
		arg("id < $%d", q.Before)
	}
	args = append(args, q.Limit)
	sql += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.r.QueryContext(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("events page: %w", err)
	}
	defer rows.Close()
	out := make([]event.Event, 0, min(q.Limit, 1000))
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events page: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events page: %w", err)
	}
	return out, nil
}
