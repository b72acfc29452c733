package discovery

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/testutil"
)

// listenIn opens n's peer, inside its namespace, for CDP and LLDP.
func listenIn(t *testing.T, n *testutil.Net) *Conn {
	t.Helper()
	c, err := testutil.InNS(n, func() (*Conn, error) { return Listen(n.Peer) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func listenHost(t *testing.T, n *testutil.Net) *Conn {
	t.Helper()
	c, err := Listen(n.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readNeighbors reads c for d and returns what decoded.
func readNeighbors(t *testing.T, c *Conn, d time.Duration, want int) []Neighbor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []Neighbor
	buf := make([]byte, 2048)
	for len(out) < want {
		f, err := c.Read(ctx, buf)
		if err != nil {
			break
		}
		n, ok, err := Decode(f.Data)
		if err != nil {
			t.Errorf("Decode: %v", err)
			continue
		}
		if ok {
			out = append(out, n)
		}
	}
	return out
}

// A phone in another namespace sends its CDP and an LLDP frame on its
// veth; the listener on the other end hears both and nothing else (a
// unicast frame to it is not let through).
func TestLiveListen(t *testing.T) {
	n := testutil.Netns(t)
	if n == nil {
		return
	}
	host := listenHost(t, n)
	ph := listenIn(t, n)
	seed := readHexDump(t, filepath.Join("testdata", "seed-7940-cdp.hex"))
	m := phone.MAC{0x00, 0x1e, 0x7a, 0, 0x79, 0x71}
	lldp, err := EncodeLLDP(Neighbor{SourceMAC: m, DeviceID: "SEP001E7A007971", Platform: "CP-7971G-GE", Software: "SCCP70.8-3-3SR2S",
		Capabilities: []string{"phone"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	other := append(append(append([]byte(nil), host.Iface.HardwareAddr...), m[:]...), 0x08, 0x00)
	other = append(other, make([]byte, 46)...)
	for _, f := range [][]byte{other, seed, lldp} {
		if err := ph.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	// The filter lets through only the two frames to the groups, in order.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	buf := make([]byte, 2048)
	var got []Neighbor
	for range 2 {
		f, err := host.Read(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		nb, ok, err := Decode(f.Data)
		if !ok || err != nil {
			t.Fatalf("a frame not to the groups got through: %x (%v)", f.Data, err)
		}
		got = append(got, nb)
	}
	if got[0].DeviceID != "SEP00137F38B3DE" || got[0].Software != "P00308000100" || got[1].Model != "7971" {
		t.Errorf("heard %+v", got)
	}
	// The sender does not hear its own frames.
	if own := readNeighbors(t, ph, 300*time.Millisecond, 1); len(own) != 0 {
		t.Errorf("the sender heard its own frames: %+v", own)
	}
}

// The announcer's frames, decoded on the other end: CDP with the VoIP
// VLAN Reply and LLDP-MED with the voice policy; and a phone's query is
// answered within seconds, not at the next period.
func TestLiveAnnounce(t *testing.T) {
	n := testutil.Netns(t)
	if n == nil {
		return
	}
	c := listenHost(t, n)
	ph := listenIn(t, n)
	a := NewAnnouncer(c, 110, slog.New(slog.DiscardHandler))
	a.Every = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	got := readNeighbors(t, ph, 5*time.Second, 2)
	if len(got) != 2 || got[0].Protocol != CDP || got[0].VoiceVLAN != 110 || got[1].Protocol != LLDP || got[1].VoiceVLAN != 110 {
		t.Fatalf("heard %+v", got)
	}
	if got[0].SourceMAC != phone.MAC(c.Iface.HardwareAddr) || got[0].DeviceID != "phoneboot" {
		t.Errorf("announced as %s %q", got[0].SourceMAC, got[0].DeviceID)
	}
	start := time.Now()
	a.Query()
	again := readNeighbors(t, ph, 10*time.Second, 2)
	if len(again) != 2 || time.Since(start) > 10*time.Second {
		t.Fatalf("after a query: %d frames in %v", len(again), time.Since(start))
	}
}
