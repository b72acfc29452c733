package discovery

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
)

type recorder struct{ evs []event.Event }

func (r *recorder) record(ev event.Event) { r.evs = append(r.evs, ev) }

func seedNeighbor(t *testing.T) Neighbor {
	n, ok, err := Decode(readHexDump(t, filepath.Join("testdata", "seed-7940-cdp.hex")))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	return n
}

// A phone repeating its frame makes one event; a new load another.
func TestFeederOneEventPerChange(t *testing.T) {
	book := phonestate.New(0)
	var r recorder
	f := &Feeder{Book: book, Record: r.record}
	n := seedNeighbor(t)
	now := time.Now()
	for i := range 10 {
		f.Hear(n, now.Add(time.Duration(i)*time.Minute))
	}
	if len(r.evs) != 1 {
		t.Fatalf("%d events for 10 identical frames, want 1: %+v", len(r.evs), r.evs)
	}
	ev := r.evs[0]
	if ev.Source != event.CDP || ev.Kind != event.Neighbor || ev.MAC != n.MAC || ev.Facts.Model != "7940" ||
		ev.Facts.Running != "P00308000100" || ev.IP != netip.MustParseAddr("192.168.200.5") {
		t.Errorf("event %+v", ev)
	}
	p, ok := book.Get(n.MAC)
	if !ok || p.Model.Name != "7940" || p.Running != "P00308000100" {
		t.Errorf("book has %+v", p)
	}
	if p.IP.IsValid() {
		t.Errorf("the feeder bound %v to the phone: binding is identity's", p.IP)
	}
	n.Software = "P00308000500"
	f.Hear(n, now.Add(time.Hour))
	if len(r.evs) != 2 || r.evs[1].Facts.Running != "P00308000500" {
		t.Fatalf("after a new load: %+v", r.evs)
	}
}

// A frame that names another phone than its sender changes nothing.
func TestFeederForeignMAC(t *testing.T) {
	book := phonestate.New(0)
	victim := phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}
	book.SetInventory(map[phone.MAC]netip.Addr{victim: netip.MustParseAddr("10.0.0.5")})
	book.Learn(victim, phone.Models[0])
	var r recorder
	f := &Feeder{Book: book, Record: r.record}
	n := seedNeighbor(t)
	n.SourceMAC = phone.MAC{0x02, 0, 0, 0, 0, 1}
	n.Software = "P00303020214"
	for range 5 {
		f.Hear(n, time.Now())
	}
	if len(r.evs) != 0 {
		t.Errorf("events for a foreign frame: %+v", r.evs)
	}
	if p, _ := book.Get(victim); p.Running != "" || p.Model.Name != phone.Models[0].Name {
		t.Errorf("the victim changed: %+v", p)
	}
	if _, ok := book.Get(n.SourceMAC); ok {
		t.Error("the sender got into the book")
	}
}

// An address that is another phone's is not taken.
func TestFeederOthersAddress(t *testing.T) {
	book := phonestate.New(0)
	other := phone.MAC{0x00, 0x13, 0x7f, 0, 0, 9}
	book.SetInventory(map[phone.MAC]netip.Addr{other: netip.MustParseAddr("192.168.200.5")})
	var r recorder
	f := &Feeder{Book: book, Record: r.record}
	f.Hear(seedNeighbor(t), time.Now())
	if len(r.evs) != 1 || r.evs[0].IP.IsValid() {
		t.Errorf("events %+v; want one without the other phone's address", r.evs)
	}
}

// A sender making up a phone per frame costs a bounded table and a
// trickle of events.
func TestFeederFlood(t *testing.T) {
	book := phonestate.New(0)
	var r recorder
	f := &Feeder{Book: book, Record: r.record}
	n := seedNeighbor(t)
	now := time.Now()
	const frames = 50000
	for i := range frames {
		m := phone.MAC{0x02, 0xfe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		n.SourceMAC, n.MAC, n.DeviceID = m, m, m.DeviceName()
		f.Hear(n, now.Add(time.Duration(i)*time.Millisecond)) // 50 s of frames
	}
	if f.Len() > MaxNeighbors {
		t.Errorf("feeder remembers %d neighbors, bound %d", f.Len(), MaxNeighbors)
	}
	if max := NewPhonesPerMinute * 3; len(r.evs) > max {
		t.Errorf("%d events from %d made-up phones in 50 s, want at most %d", len(r.evs), frames, max)
	}
	if book.Len() > NewPhonesPerMinute*3 {
		t.Errorf("book grew to %d phones", book.Len())
	}
	t.Logf("%d frames of made-up phones: %d events, %d remembered, %d in the book", frames, len(r.evs), f.Len(), book.Len())
}

// What a phone says is escaped in the event's detail.
func TestFeederEscapes(t *testing.T) {
	book := phonestate.New(0)
	var r recorder
	f := &Feeder{Book: book, Record: r.record}
	n := seedNeighbor(t)
	n.Platform = "\x1b[2JCisco IP Phone 7940\r\nforged"
	f.Hear(n, time.Now())
	if len(r.evs) != 1 || strings.ContainsAny(r.evs[0].Detail, "\x1b\r\n") || !strings.Contains(r.evs[0].Detail, `\x1b[2J`) {
		t.Errorf("events %+v", r.evs)
	}
}
