package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// NodeInfo is what a node of a fleet tells the others of itself
// (config.Node, and when it was heard of).
type NodeInfo struct {
	Name        string
	Networks    []netip.Prefix
	FirmwareURL string
	Started     time.Time // when it last started
	Seen        time.Time // when it last said it is there
}

// Announce stores n as the node it names is now: at start (Started) and
// then every so often (Seen), so the others know it and its firmware URL.
func (s *Store) Announce(ctx context.Context, n NodeInfo) error {
	nets := make([]string, len(n.Networks))
	for i, p := range n.Networks {
		nets[i] = p.String()
	}
	_, err := s.w.ExecContext(ctx, `
INSERT INTO nodes (name, networks, firmware_url, started_ms, seen_ms) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO UPDATE SET networks = excluded.networks, firmware_url = excluded.firmware_url,
	started_ms = excluded.started_ms, seen_ms = excluded.seen_ms`,
		n.Name, strings.Join(nets, " "), n.FirmwareURL, n.Started.UnixMilli(), n.Seen.UnixMilli())
	if err != nil {
		return fmt.Errorf("announce node %s: %w", n.Name, err)
	}
	return nil
}

// Nodes is every node that ever announced itself, by name.
func (s *Store) Nodes(ctx context.Context) ([]NodeInfo, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, networks, firmware_url, started_ms, seen_ms FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	defer rows.Close()
	var out []NodeInfo
	for rows.Next() {
		var (
			n             NodeInfo
			nets          string
			started, seen int64
		)
		if err := rows.Scan(&n.Name, &nets, &n.FirmwareURL, &started, &seen); err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		for _, f := range strings.Fields(nets) {
			if p, err := netip.ParsePrefix(f); err == nil {
				n.Networks = append(n.Networks, p)
			}
		}
		n.Started, n.Seen = time.UnixMilli(started), time.UnixMilli(seen)
		out = append(out, n)
	}
	return out, rows.Err()
}
