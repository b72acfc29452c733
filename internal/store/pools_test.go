package store

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

func pool(a, b string) Pool { return Pool{First: netip.MustParseAddr(a), Last: netip.MustParseAddr(b)} }

func TestClaimPools(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		// Two nodes, two handles on one database.
		a, b := open(t, where), open(t, where)
		if err := a.ClaimPools(ctx, "building-a", []Pool{pool("10.1.0.100", "10.1.0.199"), pool("10.1.1.10", "10.1.1.20")}); err != nil {
			t.Fatal(err)
		}
		// Touching at one address is overlapping.
		err := b.ClaimPools(ctx, "building-b", []Pool{pool("10.1.0.199", "10.1.0.250")})
		var o *PoolOverlap
		if !errors.As(err, &o) || o.Node != "building-a" || o.Theirs != pool("10.1.0.100", "10.1.0.199") ||
			o.Pool != pool("10.1.0.199", "10.1.0.250") {
			t.Fatalf("overlapping claim: %v, want a PoolOverlap with building-a's range", err)
		}
		if got, want := err.Error(), "DHCP range 10.1.0.199-10.1.0.250 overlaps 10.1.0.100-10.1.0.199, which node building-a serves"; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		if err := b.ClaimPools(ctx, "building-b", []Pool{pool("10.1.0.200", "10.1.0.250")}); err != nil {
			t.Fatal(err)
		}
		// A claim replaces the node's own rows, so a node may move its
		// range over the one it had; a refused claim leaves them as they were.
		if err := a.ClaimPools(ctx, "building-a", []Pool{pool("10.1.0.50", "10.1.0.150")}); err != nil {
			t.Fatal(err)
		}
		if err := a.ClaimPools(ctx, "building-a", []Pool{pool("10.1.0.50", "10.1.0.210")}); !errors.As(err, &o) || o.Node != "building-b" {
			t.Fatalf("claim over building-b's: %v", err)
		}
		got, err := a.Pools(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []NodePool{{"building-a", pool("10.1.0.50", "10.1.0.150")}, {"building-b", pool("10.1.0.200", "10.1.0.250")}}
		if !slices.Equal(got, want) {
			t.Fatalf("pools %v, want %v", got, want)
		}
		// Its own ranges may not overlap each other; bad ranges are refused.
		if err := a.ClaimPools(ctx, "building-a", []Pool{pool("10.2.0.1", "10.2.0.9"), pool("10.2.0.9", "10.2.0.20")}); !errors.As(err, &o) || o.Node != "building-a" {
			t.Errorf("self-overlapping claim: %v", err)
		}
		for _, p := range []Pool{pool("10.2.0.9", "10.2.0.1"), pool("::1", "::2"), {}} {
			if err := a.ClaimPools(ctx, "building-a", []Pool{p}); err == nil || errors.As(err, &o) {
				t.Errorf("claim %v: %v, want an error", p, err)
			}
		}
		if err := a.ClaimPools(ctx, "", nil); err == nil {
			t.Error("a claim without a node name went through")
		}
		// No pools: the node gives its ranges up, and another may take them.
		if err := a.ClaimPools(ctx, "building-a", nil); err != nil {
			t.Fatal(err)
		}
		if err := b.ClaimPools(ctx, "building-b", []Pool{pool("10.1.0.1", "10.1.0.250")}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClaimPoolsAtOnce: nodes claiming overlapping ranges at the same
// moment; the database lets exactly one have it.
func TestClaimPoolsAtOnce(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		const nodes = 6
		stores := make([]*Store, nodes)
		for i := range stores {
			stores[i] = open(t, where)
		}
		for round := range 5 {
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make([]error, nodes)
			)
			names := []string{"n0", "n1", "n2", "n3", "n4", "n5"}
			for i, s := range stores {
				wg.Go(func() {
					<-start
					// Every node's range overlaps every other's.
					errs[i] = s.ClaimPools(t.Context(), names[i], []Pool{pool("10.9.0.10", "10.9.0.200")})
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for _, err := range errs {
				var o *PoolOverlap
				switch {
				case err == nil:
					won++
				case !errors.As(err, &o):
					t.Fatalf("round %d: %v, want a PoolOverlap", round, err)
				}
			}
			got, err := stores[0].Pools(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if won != 1 || len(got) != 1 {
				t.Fatalf("round %d: %d claims won, pools %v; want exactly one", round, won, got)
			}
			if err := stores[0].ClaimPools(t.Context(), got[0].Node, nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestLeasesAcrossNodes(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		ctx := t.Context()
		a, b := open(t, where), open(t, where)
		m1, m2, m3 := mac(t, "00:13:7f:00:00:01"), mac(t, "00:13:7f:00:00:02"), mac(t, "00:13:7f:00:00:03")
		x, y, z := netip.MustParseAddr("10.1.0.100"), netip.MustParseAddr("10.2.0.100"), netip.MustParseAddr("10.1.0.101")
		live, gone := ms(time.Now().Add(time.Hour)), ms(time.Now().Add(-time.Minute))

		put := func(s *Store, l Lease) {
			t.Helper()
			if err := s.PutLease(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		put(a, Lease{MAC: m1, IP: x, Expires: live, Node: "a"})
		// Another node may not take an address a holds, for any MAC.
		var c *LeaseConflict
		err := b.PutLease(ctx, Lease{MAC: m2, IP: x, Expires: live, Node: "b"})
		if !errors.As(err, &c) || c.Node != "a" || c.IP != x || !c.Expires.Equal(live) {
			t.Fatalf("b leasing a's address: %v, want a LeaseConflict naming a", err)
		}
		if err := b.PutLease(ctx, Lease{IP: x, Expires: live, Declined: true, Node: "b"}); !errors.As(err, &c) {
			t.Fatalf("b declining a's address: %v, want a LeaseConflict", err)
		}
		// a replaces its own row; the MAC moves to b's network: its row
		// at a goes, wherever it was.
		put(a, Lease{MAC: m2, IP: x, Expires: live, Node: "a"})
		put(b, Lease{MAC: m2, IP: y, Expires: live, Node: "b"})
		got, err := a.Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Lease{{MAC: m2, IP: y, Expires: live, Node: "b"}}; !slices.Equal(got, want) {
			t.Fatalf("after the move: %+v, want %+v", got, want)
		}
		// The same MAC at the same address: the MAC's row, taken over.
		put(a, Lease{MAC: m2, IP: y, Expires: live, Node: "a"})
		// An expired lease of another node no longer holds its address.
		put(b, Lease{MAC: m3, IP: z, Expires: gone, Node: "b"})
		put(a, Lease{MAC: m1, IP: z, Expires: live, Node: "a"})
		// A live decline of another node holds it too.
		put(b, Lease{IP: x, Expires: live, Declined: true, Node: "b"})
		if err := a.PutLease(ctx, Lease{MAC: m3, IP: x, Expires: live, Node: "a"}); !errors.As(err, &c) || c.Node != "b" {
			t.Fatalf("a leasing b's declined address: %v", err)
		}

		// What each node loads: its own, and every decline.
		la, err := a.NodeLeases(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		want := []Lease{{IP: x, Expires: live, Declined: true, Node: "b"}, {MAC: m1, IP: z, Expires: live, Node: "a"},
			{MAC: m2, IP: y, Expires: live, Node: "a"}}
		if !slices.Equal(sortLeases(la), want) {
			t.Fatalf("a loads %+v, want %+v", la, want)
		}
		lb, err := b.NodeLeases(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		if want := []Lease{{IP: x, Expires: live, Declined: true, Node: "b"}}; !slices.Equal(lb, want) {
			t.Fatalf("b loads %+v, want %+v", lb, want)
		}
		// DeleteLease removes the node's own row only.
		if err := b.DeleteLease(ctx, "b", m1); err != nil {
			t.Fatal(err)
		}
		if err := a.DeleteLease(ctx, "a", m1); err != nil {
			t.Fatal(err)
		}
		if la, _ := a.NodeLeases(ctx, "a"); len(la) != 2 {
			t.Errorf("after deletes a loads %+v", la)
		}
	})
}

// TestLeaseOneAddressAtOnce: nodes leasing one address to different MACs
// at the same moment; the database lets one have it, the others are told
// whose it is.
func TestLeaseOneAddressAtOnce(t *testing.T) {
	engines(t, func(t *testing.T, where string) {
		const nodes = 6
		stores := make([]*Store, nodes)
		for i := range stores {
			stores[i] = open(t, where)
		}
		names := []string{"n0", "n1", "n2", "n3", "n4", "n5"}
		exp := ms(time.Now().Add(time.Hour))
		for round := range 10 {
			ip := netip.AddrFrom4([4]byte{10, 3, 0, byte(10 + round)})
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make([]error, nodes)
			)
			for i, s := range stores {
				wg.Go(func() {
					<-start
					m := mac(t, "00:13:7f:00:00:00")
					m[4], m[5] = byte(round), byte(i)
					errs[i] = s.PutLease(t.Context(), Lease{MAC: m, IP: ip, Expires: exp, Node: names[i]})
				})
			}
			close(start)
			wg.Wait()
			won := -1
			for i, err := range errs {
				var c *LeaseConflict
				switch {
				case err == nil && won >= 0:
					t.Fatalf("round %d: %s and %s both leased %v", round, names[won], names[i], ip)
				case err == nil:
					won = i
				case !errors.As(err, &c):
					t.Fatalf("round %d, %s: %v, want a LeaseConflict", round, names[i], err)
				}
			}
			ls, err := stores[0].Leases(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, l := range ls {
				if l.IP == ip {
					n++
					if won < 0 || l.Node != names[won] {
						t.Fatalf("round %d: %v is %+v, winner %d", round, ip, l, won)
					}
				}
			}
			if n != 1 {
				t.Fatalf("round %d: %d rows of %v", round, n, ip)
			}
		}
	})
}
