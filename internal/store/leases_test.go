package store

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func sortLeases(ls []Lease) []Lease {
	slices.SortFunc(ls, func(a, b Lease) int { return a.IP.Compare(b.IP) })
	return ls
}

func TestLeases(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		path := where
		s := open(t, path)
		ctx := t.Context()
		a, b := mac(t, "00:13:7f:38:b3:de"), mac(t, "00:13:7f:38:b3:df")
		ip1, ip2, ip3 := netip.MustParseAddr("10.0.0.50"), netip.MustParseAddr("10.0.0.51"), netip.MustParseAddr("10.0.0.52")
		exp := ms(time.Now().Add(time.Hour))

		for _, l := range []Lease{
			{MAC: a, IP: ip1, Expires: exp, Hostname: "SEP00137F38B3DE", VendorClass: "Cisco Systems, Inc. IP Phone CP-7960G"},
			{MAC: b, IP: ip2, Expires: exp},
			{MAC: a, IP: ip3, Expires: exp},         // a moves: its row at ip1 goes
			{MAC: b, IP: ip3, Expires: exp},         // b takes ip3: a's row and b's row at ip2 go
			{IP: ip1, Expires: exp, Declined: true}, // declined address
		} {
			if err := s.PutLease(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []Lease{{IP: ip1, Expires: exp, Declined: true}, {MAC: b, IP: ip3, Expires: exp}}
		if !slices.Equal(sortLeases(got), want) {
			t.Fatalf("leases = %+v, want %+v", got, want)
		}

		// Bad leases are refused.
		for _, l := range []Lease{{MAC: a, IP: netip.MustParseAddr("::1")}, {IP: ip2}, {MAC: a, IP: ip2, Declined: true}} {
			if err := s.PutLease(ctx, l); err == nil || !strings.Contains(err.Error(), "put lease") {
				t.Errorf("Put(%+v) = %v, want an error", l, err)
			}
		}

		if err := s.DeleteLease(ctx, "", b); err != nil {
			t.Fatal(err)
		}
		if err := s.PutLease(ctx, Lease{MAC: a, IP: ip2, Expires: exp, Hostname: "h"}); err != nil {
			t.Fatal(err)
		}
		s.Close()

		// They survive a reopen.
		s = open(t, path)
		got, err = s.Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want = []Lease{{IP: ip1, Expires: exp, Declined: true}, {MAC: a, IP: ip2, Expires: exp, Hostname: "h"}}
		if !slices.Equal(sortLeases(got), want) {
			t.Fatalf("after reopen: leases = %+v, want %+v", got, want)
		}
	})
}
