package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/track"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}

// BenchmarkEncodePhones10k is the API's own share of GET /phones: 10,000
// rows encoded and streamed (fleet.Phones, which reads and judges them,
// is measured by BenchmarkAPIPhones10k as a whole).
func BenchmarkEncodePhones10k(b *testing.B) {
	mac, _ := phone.ParseMAC("00137F000000")
	rows := make([]fleet.Row, 10_000)
	for i := range rows {
		mac = mac.Next()
		rows[i] = fleet.Row{MAC: mac, Model: "7960", Protocol: "SIP", Label: fmt.Sprintf("Desk %d", i), Source: "inventory",
			IP: fmt.Sprintf("10.0.%d.%d", i>>8, i&255), Load: "P0S3-8-12-00", Target: "P0S3-8-12-00", LastSeen: time.Now(),
			LastFile: "SEP" + mac.Hex() + ".cnf.xml", State: "up to date", Findings: []track.Finding{}}
	}
	for b.Loop() {
		s := newStream(discard{http.Header{}}, 200, "{\"phones\": [")
		for i := range rows {
			s.item(utcRow(&rows[i]))
		}
		if err := s.end("]}\n"); err != nil {
			b.Fatal(err)
		}
	}
}
