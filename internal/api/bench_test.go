package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/api"
	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/node"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
)

// fleet10k is a store of 10,000 inventory phones, each booted once (DHCP,
// CTL, config, firmware check: six events), and its config.
func fleet10k(b *testing.B) node.Live {
	b.Helper()
	const n = 10_000
	ctx := context.Background()
	dir := b.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, store.FileName))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	var text strings.Builder
	text.WriteString("[site]\nprotocol = \"SIP\"\nsip_proxy = \"192.0.2.10\"\n[site.loads]\n7960 = \"P0S3-8-12-00\"\n")
	mac, _ := phone.ParseMAC("00137F000000")
	var inv []store.Phone
	var macs []phone.MAC
	for i := range n {
		mac = mac.Next()
		macs = append(macs, mac)
		fmt.Fprintf(&text, "\n[[phone]]\nmac = %q\nmodel = \"7960\"\nlabel = \"Desk %d\"\n  [[phone.line]]\n  extension = \"%d\"\n  password = \"pw%d\"\n", mac.String(), i, 1000+i, i)
		inv = append(inv, store.Phone{MAC: mac, Model: "7960", Protocol: "SIP", Label: fmt.Sprintf("Desk %d", i)})
	}
	cfg, err := config.Parse(filepath.Join(dir, "phoneboot.toml"), []byte(text.String()))
	if err != nil {
		b.Fatal(err)
	}
	if err := db.SyncInventory(ctx, inv); err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	var batch []event.Event
	for i, m := range macs {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		at := start.Add(time.Duration(i) * time.Millisecond)
		dev := m.DeviceName()
		batch = append(batch,
			event.Event{Time: at, MAC: m, IP: ip, Source: event.DHCP, Kind: event.DHCPAck},
			event.Event{Time: at.Add(time.Second), MAC: m, IP: ip, Source: event.TFTP, Kind: event.Request, File: "CTL" + dev + ".tlv", Outcome: event.NotFound},
			event.Event{Time: at.Add(2 * time.Second), MAC: m, IP: ip, Source: event.TFTP, Kind: event.Request, File: dev + ".cnf.xml", Outcome: event.OK, Bytes: 1500},
			event.Event{Time: at.Add(3 * time.Second), MAC: m, IP: ip, Source: event.TFTP, Kind: event.Request, File: "SIP" + m.Hex() + ".cnf", Outcome: event.OK, Bytes: 900},
			event.Event{Time: at.Add(4 * time.Second), MAC: m, IP: ip, Source: event.TFTP, Kind: event.Request, File: "P0S3-8-12-00.loads", Outcome: event.OK, Bytes: 600},
			event.Event{Time: at.Add(5 * time.Second), MAC: m, IP: ip, Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-12-00"}},
		)
		if len(batch) >= 6000 {
			if err := db.Record(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := db.Record(ctx, batch); err != nil {
		b.Fatal(err)
	}
	return node.Live{Data: dir, ConfigFile: cfg.File, Store: db, Config: func() *config.Config { return cfg },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// BenchmarkAPIPhones10k is GET /api/v1/phones over a real loopback
// connection with 10,000 phones in the store (docs/benchmarks.md):
// "cached" with the fleet cache a node has (the first request, made
// before the clock runs, fills it; the rest are what a dashboard or
// script refreshing the list gets), "uncached" without one (every
// timeline read and judged again). (Live is made here, not by node.Run: with 10,000 phones
// the provisioner's first build takes longer than nodetest waits.)
func BenchmarkAPIPhones10k(b *testing.B) {
	live := fleet10k(b)
	for _, c := range []struct {
		name  string
		cache *fleet.Cache
	}{{"cached", fleet.NewCache()}, {"uncached", nil}} {
		b.Run(c.name, func(b *testing.B) {
			live.FleetCache = c.cache
			srv := httptest.NewServer(http.StripPrefix("/api/v1", api.New(live)))
			defer srv.Close()
			get := func() int64 {
				resp, err := srv.Client().Get(srv.URL + "/api/v1/phones")
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Total-Count") != "10000" {
					b.Fatalf("status %d, total %s, %v", resp.StatusCode, resp.Header.Get("X-Total-Count"), err)
				}
				return n
			}
			b.SetBytes(get())
			for b.Loop() {
				get()
			}
		})
	}
}
