package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Pool is one DHCP range of a node, both ends included.
type Pool struct {
	First, Last netip.Addr
}

func (p Pool) String() string { return p.First.String() + "-" + p.Last.String() }

// Contains reports whether a is in p.
func (p Pool) Contains(a netip.Addr) bool {
	return a.Is4() && !a.Less(p.First) && !p.Last.Less(a)
}

func (p Pool) overlaps(q Pool) bool { return !p.Last.Less(q.First) && !q.Last.Less(p.First) }

// NodePool is a pool and the node that claimed it.
type NodePool struct {
	Node string
	Pool
}

// PoolOverlap is ClaimPools refused: Pool, one of the claimed ranges,
// overlaps Theirs, which Node holds.
type PoolOverlap struct {
	Pool, Theirs Pool
	Node         string
}

func (e *PoolOverlap) Error() string {
	return fmt.Sprintf("DHCP range %v overlaps %v, which node %s serves", e.Pool, e.Theirs, e.Node)
}

// ClaimPools makes pools the DHCP ranges of node, in one transaction: its
// earlier rows go, the new ones are inserted, and the database refuses a
// range that overlaps another node's (PostgreSQL: an exclusion
// constraint, which holds for two nodes claiming at the same moment;
// SQLite: a trigger). That refusal is a *PoolOverlap naming the range and
// its holder. No pools give the node's ranges up.
func (s *Store) ClaimPools(ctx context.Context, node string, pools []Pool) error {
	if node == "" {
		return errors.New("claim DHCP pools: a node without a name claims none")
	}
	for i, p := range pools {
		if !p.First.Is4() || !p.Last.Is4() || p.Last.Less(p.First) {
			return fmt.Errorf("claim DHCP pools: %v is not a range of IPv4 addresses", p)
		}
		for _, q := range pools[:i] {
			if p.overlaps(q) {
				return &PoolOverlap{Pool: p, Theirs: q, Node: node}
			}
		}
	}
	err := s.claim(ctx, node, pools)
	if err == nil {
		return nil
	}
	if !isOverlap(err) {
		return fmt.Errorf("claim DHCP pools of %s: %w", node, Reason(err))
	}
	// The database said no; ask it whose range it was. (Gone already,
	// released in between: say what the database said.)
	held, lerr := s.Pools(ctx)
	if lerr != nil {
		return fmt.Errorf("claim DHCP pools of %s: %w", node, lerr)
	}
	for _, p := range pools {
		for _, h := range held {
			if h.Node != node && p.overlaps(h.Pool) {
				return &PoolOverlap{Pool: p, Theirs: h.Pool, Node: h.Node}
			}
		}
	}
	return fmt.Errorf("claim DHCP pools of %s: %w", node, Reason(err))
}

func (s *Store) claim(ctx context.Context, node string, pools []Pool) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM dhcp_pools WHERE node = $1`, node); err != nil {
		return err
	}
	for _, p := range pools {
		if _, err := tx.ExecContext(ctx, `INSERT INTO dhcp_pools (node, first_n, last_n) VALUES ($1, $2, $3)`,
			node, addrNumber(p.First), addrNumber(p.Last)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// isOverlap reports whether err is the database refusing overlapping
// pools: PostgreSQL's exclusion_violation, SQLite's trigger.
func isOverlap(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23P01"
	}
	return strings.Contains(err.Error(), "dhcp pool overlaps another")
}

// Pools is every node's DHCP ranges, in address order.
func (s *Store) Pools(ctx context.Context) ([]NodePool, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT node, first_n, last_n FROM dhcp_pools ORDER BY first_n`)
	if err != nil {
		return nil, fmt.Errorf("DHCP pools: %w", err)
	}
	defer rows.Close()
	var out []NodePool
	for rows.Next() {
		var (
			p           NodePool
			first, last int64
		)
		if err := rows.Scan(&p.Node, &first, &last); err != nil {
			return nil, fmt.Errorf("DHCP pools: %w", err)
		}
		p.First, p.Last = numberAddr(first), numberAddr(last)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("DHCP pools: %w", err)
	}
	return out, nil
}

// addrNumber is an IPv4 address as the integer dhcp_pools keeps.
func addrNumber(a netip.Addr) int64 {
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

func numberAddr(n int64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
