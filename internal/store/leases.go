package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

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
}

// Leases returns every DHCP lease row, expired ones included.
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT ip, mac, expires_ms, hostname, vendor_class FROM dhcp_leases`)
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
		if err := rows.Scan(&ip, &mac, &expire, &l.Hostname, &l.VendorClass); err != nil {
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

// PutLease stores l as the only lease of its address and, unless
// Declined, the only lease of its MAC: a row with the same address or the
// same MAC is replaced, in one transaction.
func (s *Store) PutLease(ctx context.Context, l Lease) error {
	if !l.IP.Is4() {
		return fmt.Errorf("put lease: %v is not an IPv4 address", l.IP)
	}
	zero := l.MAC == (phone.MAC{})
	if zero != l.Declined {
		return errors.New("put lease: a lease has a MAC exactly when it is not declined")
	}
	var mac sql.Null[string]
	if !zero {
		mac = sql.Null[string]{V: l.MAC.String(), Valid: true}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put lease %s: %w", l.IP, err)
	}
	defer tx.Rollback()
	// mac = NULL is never true, so a declined lease replaces by address only.
	if _, err := tx.ExecContext(ctx, `DELETE FROM dhcp_leases WHERE ip = $1 OR mac = $2`, l.IP.String(), mac); err != nil {
		return fmt.Errorf("put lease %s: %w", l.IP, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO dhcp_leases (ip, mac, expires_ms, hostname, vendor_class) VALUES ($1, $2, $3, $4, $5)`,
		l.IP.String(), mac, l.Expires.UnixMilli(), text(l.Hostname), text(l.VendorClass)); err != nil {
		return fmt.Errorf("put lease %s: %w", l.IP, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put lease %s: %w", l.IP, err)
	}
	return nil
}

// DeleteLease removes the lease of mac, if any.
func (s *Store) DeleteLease(ctx context.Context, mac phone.MAC) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM dhcp_leases WHERE mac = $1`, mac.String()); err != nil {
		return fmt.Errorf("delete lease %s: %w", mac, err)
	}
	return nil
}
