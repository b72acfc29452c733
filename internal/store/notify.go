package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channels a node of a fleet tells the others about a change on (the
// change itself is in the database; a notice only says "look again").
const (
	ChannelInventory = "phoneboot_inventory" // the fleet's file changed
	ChannelFirmware  = "phoneboot_firmware"  // a node's loads changed
)

// Notify tells every node listening on channel to look again: PostgreSQL's
// NOTIFY. On SQLite, with one node, there is nobody else: nothing.
func (s *Store) Notify(ctx context.Context, channel string) error {
	if s.listenConfig == nil {
		return nil
	}
	_, err := s.w.ExecContext(ctx, `SELECT pg_notify($1, '')`, channel)
	return err
}

// Listen returns a channel that gets a value soon after any node's Notify
// on channel (notices that come faster are merged into one), until ctx
// ends. After the connection to PostgreSQL was lost it also gets one, as
// notices may have been missed meanwhile. On SQLite it never gets one:
// callers look again every so often too.
func (s *Store) Listen(ctx context.Context, channel string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	if s.listenConfig == nil {
		return ch
	}
	ping := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		wait := time.Second
		for ctx.Err() == nil {
			if err := listen(ctx, s.listenConfig, channel, ping); err == nil || ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
			ping()
		}
	}()
	return ch
}

// listen holds one connection that LISTENs on channel and pings on each
// notice, until ctx ends (nil) or the connection fails.
func listen(ctx context.Context, cfg *pgx.ConnConfig, channel string, ping func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		ping()
	}
}
