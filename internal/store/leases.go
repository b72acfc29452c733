package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"phoneboot/internal/phone"
)

// Lease is one address of phoneboot's DHCP server (internal/dhcp, whose
// Leases interface the Store implements): leased to a client until Expires,
// or, with Declined, marked bad until Expires because a client found it in
// use. An expired lease is kept for its client's return.
type Lease struct {
	MAC                   phone.MAC // zero exactly when Declined
	IP                    netip.Addr
	Expires               time.Time
	Hostname, VendorClass string
	Declined              bool
	// Node is the node whose DHCP server wrote it ("": a phoneboot
	// without a node name).
	Node string
}

// live reports whether a row expiring at expiresMs still holds its
// address at now.
func live(expiresMs int64, now time.Time) bool { return now.UnixMilli() < expiresMs }

// LeaseConflict is PutLease refused: the address is held, until Expires,
// by a lease (or a decline) another node wrote. The MAC it is leased to
// is not said: the error may end up in a NAK sent on the wire.
type LeaseConflict struct {
	IP      netip.Addr
	Node    string // "": a phoneboot without a node name
	Expires time.Time
}

func (e *LeaseConflict) Error() string {
	who := "node " + e.Node
	if e.Node == "" {
		who = "a phoneboot without a node name"
	}
	return fmt.Sprintf("%v is leased by %s until %s", e.IP, who, e.Expires.UTC().Format("15:04:05 UTC"))
}

const leaseColumns = `ip, mac, expires_ms, hostname, vendor_class, node`

// Leases returns every DHCP lease row of every node, expired ones
// included.
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	return s.queryLeases(ctx, `SELECT `+leaseColumns+` FROM dhcp_leases`)
}

// NodeLeases is what the DHCP server of node loads at start: its own
// leases and declines, and the addresses any node declined (the server
// keeps those in its pool). Other nodes' leases are theirs: PutLease
// refuses to overwrite them.
func (s *Store) NodeLeases(ctx context.Context, node string) ([]Lease, error) {
	return s.queryLeases(ctx, `SELECT `+leaseColumns+` FROM dhcp_leases WHERE node = $1 OR mac IS NULL`, node)
}

func (s *Store) queryLeases(ctx context.Context, query string, args ...any) ([]Lease, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("load leases: %w", err)
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var (
			l      Lease
			ip     string
			mac    sql.Null[string]
			expire int64
		)
		if err := rows.Scan(&ip, &mac, &expire, &l.Hostname, &l.VendorClass, &l.Node); err != nil {
			return nil, fmt.Errorf("load leases: %w", err)
		}
		if l.IP, err = netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("load leases: %w", err)
		}
		if mac.Valid {
			if l.MAC, err = phone.ParseMAC(mac.V); err != nil {
				return nil, fmt.Errorf("load leases: %w", err)
			}
		} else {
			l.Declined = true
		}
		l.Expires = time.UnixMilli(expire)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load leases: %w", err)
	}
	return out, nil
}

// PutLease stores l, written by node l.Node, as the only lease of its
// address and, unless Declined, the only lease of its MAC, in one
// transaction. The row of the address is replaced when it is l.Node's
// own, the same MAC's, or no longer holds the address (expired); a live
// lease or decline of another node is never overwritten: that is a
// *LeaseConflict. The MAC's row is replaced wherever it is (the phone
// moved to another node's network). The database enforces the rest:
// two nodes writing one address or one MAC at the same moment cannot
// both succeed (ip is the primary key, mac unique), and the loser gets a
// *LeaseConflict too when the winner's row is another node's.
func (s *Store) PutLease(ctx context.Context, l Lease) error {
	if !l.IP.Is4() {
		return fmt.Errorf("put lease: %v is not an IPv4 address", l.IP)
	}
	zero := l.MAC == (phone.MAC{})
	if zero != l.Declined {
		return errors.New("put lease: a lease has a MAC exactly when it is not declined")
	}
	var err error
	// Twice at most: a MAC written by two nodes at once (unique mac) is
	// the MAC's row, which the second may replace.
	for range 2 {
		if err = s.putLease(ctx, l); err == nil || !isUnique(err) {
			break
		}
		// Another writer got there first; say whose row won.
		if c, cerr := s.conflictAt(ctx, l); cerr != nil || c != nil {
			if c != nil {
				return c
			}
			break
		}
	}
	if err != nil {
		return fmt.Errorf("put lease %s: %w", l.IP, Reason(err))
	}
	return nil
}

// putLease replaces the MAC's row, and the address's when it may (see
// PutLease); a live row of another node stays, and the INSERT then fails
// on the address's primary key. The conditions are in the statements,
// not read before them: PostgreSQL evaluates them again on a row another
// transaction changed meanwhile.
func (s *Store) putLease(ctx context.Context, l Lease) error {
	var mac sql.Null[string]
	if !l.Declined {
		mac = sql.Null[string]{V: l.MAC.String(), Valid: true}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The MAC's row, and the address's if it is the node's or ran out.
	// mac = NULL is never true: a declined lease replaces by address only.
	if _, err := tx.ExecContext(ctx, `DELETE FROM dhcp_leases WHERE mac = $1 OR (ip = $2 AND (node = $3 OR expires_ms <= $4))`,
		mac, l.IP.String(), l.Node, time.Now().UnixMilli()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO dhcp_leases (ip, mac, expires_ms, hostname, vendor_class, node) VALUES ($1, $2, $3, $4, $5, $6)`,
		l.IP.String(), mac, l.Expires.UnixMilli(), text(l.Hostname), text(l.VendorClass), l.Node); err != nil {
		return err
	}
	return tx.Commit()
}

// rowQuerier is a transaction or a handle.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conflictIn is the lease of another node that keeps l from its address,
// or nil.
func conflictIn(ctx context.Context, q rowQuerier, l Lease) (*LeaseConflict, error) {
	var (
		mac    sql.Null[string]
		expire int64
		node   string
	)
	err := q.QueryRowContext(ctx, `SELECT mac, expires_ms, node FROM dhcp_leases WHERE ip = $1`, l.IP.String()).
		Scan(&mac, &expire, &node)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	sameMAC := mac.Valid && !l.Declined && mac.V == l.MAC.String()
	if node == l.Node || sameMAC || !live(expire, time.Now()) {
		return nil, nil
	}
	return &LeaseConflict{IP: l.IP, Node: node, Expires: time.UnixMilli(expire)}, nil
}

// conflictAt is conflictIn after the fact, outside a transaction.
func (s *Store) conflictAt(ctx context.Context, l Lease) (*LeaseConflict, error) {
	return conflictIn(ctx, s.w, l)
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// DeleteLease removes the lease of mac that node wrote, if any.
func (s *Store) DeleteLease(ctx context.Context, node string, mac phone.MAC) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM dhcp_leases WHERE mac = $1 AND node = $2`, mac.String(), node); err != nil {
		return fmt.Errorf("delete lease %s: %w", mac, err)
	}
	return nil
}
