package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/node"
	"phoneboot/internal/node/nodetest"
	"phoneboot/internal/phone"
)

// BenchmarkPhonesPage10k draws the phones page (the first 100 rows, as
// the browser asks for it) with 10,000 phones in the store, each with a
// boot's worth of events; the row cache is dropped every time, so each
// iteration reads and judges every phone.
//
//	go test -run '^$' -bench PhonesPage10k -benchtime 10x ./internal/web
func BenchmarkPhonesPage10k(b *testing.B) {
	var s *Server
	n := nodetest.Start(b, filepath.Join(b.TempDir(), "data"), func(l node.Live) (http.Handler, error) {
		s = New(l, Options{})
		return s, nil
	})
	ctx := context.Background()
	now := time.Now().Add(-time.Minute)
	var evs []event.Event
	for i := range 10000 {
		mac := phone.MAC{0x00, 0x13, 0x7f, 0, byte(i >> 8), byte(i)}
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		for j, f := range []string{"CTLSEP%s.tlv", "SEP%s.cnf.xml", "SIPDefault.cnf", "SIP%s.cnf", "dialplan.xml"} {
			name := f
			if j != 2 && j != 4 {
				name = fmt.Sprintf(f, mac.Hex())
			}
			evs = append(evs, event.Event{Time: now.Add(time.Duration(j) * time.Millisecond), MAC: mac, IP: ip,
				Source: event.TFTP, Kind: event.Request, File: name, Outcome: event.OK, Bytes: 500})
		}
		if len(evs) >= 5000 {
			if err := n.Live.Store.Record(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	if err := n.Live.Store.Record(ctx, evs); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if _, err := n.Live.Fleet().Phones(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("fleet.Phones alone: %v", time.Since(t0))
	b.ResetTimer()
	for b.Loop() {
		s.rows.invalidate()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/phones?sort=seen&dir=desc", nil))
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.StopTimer()
	for _, page := range []string{"/", "/phones?q=00:13:7f:00:27:0f", "/phones/00:13:7f:00:27:0f", "/firmware"} {
		s.rows.invalidate()
		t0 := time.Now()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", page, nil))
		b.Logf("%s: %d in %v", page, rec.Code, time.Since(t0).Round(time.Millisecond))
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/phones", nil))
	if !strings.Contains(rec.Body.String(), "10000 of 10000 phones match") {
		b.Fatalf("page: %.500s", rec.Body.String())
	}
}
