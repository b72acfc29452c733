package perfdhcp

import (
	"os"
	"testing"
)

// TestRead: both sections of a perfdhcp report, in their own fields.
func TestRead(t *testing.T) {
	out, err := os.ReadFile("testdata/report.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Discovers: 10000, Offers: 9990, Requests: 9990, Acks: 9980, OfferDelay: "0.812", AckDelay: "0.901"}
	if got := Read(string(out)); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := Read("perfdhcp: cannot open socket"); got != (Counts{}) {
		t.Fatalf("no report: %+v", got)
	}
}
