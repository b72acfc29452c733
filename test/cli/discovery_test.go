package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/discovery"
	"phoneboot/internal/phone"
	"phoneboot/internal/testutil"
)

// seedFrame is the 7940's CDP frame of the seed page (the discovery
// package's fixture).
func seedFrame(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "discovery", "testdata", "seed-7940-cdp.hex"))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "0x") {
			continue
		}
		_, rest, _ := strings.Cut(line, ":")
		for i, g := range strings.Fields(rest) {
			if i == 8 || len(g)%2 != 0 || len(g) > 4 {
				break
			}
			for j := 0; j < len(g); j += 2 {
				var v byte
				for _, c := range g[j : j+2] {
					v = v<<4 | byte(strings.IndexRune("0123456789abcdef", c))
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// TestServeDiscover: a 7940 in another network namespace sends the seed
// page's CDP frame on its veth; phoneboot serve --discover on the other
// end learns its model, load and address: phones show says so. A frame
// from another sender naming a second phone's MAC teaches nothing about
// that phone.
func TestServeDiscover(t *testing.T) {
	n := testutil.Netns(t)
	if n == nil {
		return
	}
	p, _, data := serve(t, "--discover", n.Host, "--syslog-addr", "", "--http-addr", "", "--admin-addr", "")
	p.waitLog(t, "listening for CDP and LLDP", 10*time.Second)
	sender, err := testutil.InNS(n, func() (*discovery.Conn, error) { return discovery.Listen(n.Peer) })
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	victim := phone.MAC{0x00, 0x1b, 0xd4, 0x00, 0x79, 0x60}
	lie, err := discovery.EncodeCDP(discovery.Neighbor{SourceMAC: phone.MAC{0x02, 0, 0, 0, 0, 0x66}, DeviceID: victim.DeviceName(),
		Platform: "Cisco IP Phone 7960", Software: "P0S3-08-12-00", Capabilities: []string{"host", "phone"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	seed := seedFrame(t)
	for range 3 { // a phone repeats itself: one event all the same
		for _, f := range [][]byte{seed, lie} {
			if err := sender.Send(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	var out string
	waitFor(t, func() bool {
		_, out, _ = runQuick(t, "phones", "show", "00:13:7f:38:b3:de", "--data", data)
		return strings.Contains(out, "model 7940") && strings.Contains(out, "load P00308000100")
	})
	t.Logf("phones show:\n%s", out)
	for _, want := range []string{"ip 192.168.200.5", "cdp", "neighbor", "platform Cisco IP Phone 7940", "power 6.3 W"} {
		if !strings.Contains(out, want) {
			t.Errorf("phones show lacks %q:\n%s", want, out)
		}
	}
	if c := strings.Count(out, "neighbor"); c != 1 {
		t.Errorf("%d neighbor events for three identical frames, want 1:\n%s", c, out)
	}
	_, other, _ := runQuick(t, "phones", "show", victim.String(), "--data", data)
	if strings.Contains(other, "7960") || strings.Contains(other, "P0S3") || strings.Contains(other, "cdp") {
		t.Errorf("a frame naming %s from another sender changed it:\n%s", victim, other)
	}
}

// TestServeDiscoverWithoutCapability: without CAP_NET_RAW, serve says
// once what to do and goes on serving.
func TestServeDiscoverWithoutCapability(t *testing.T) {
	var prefix []string
	if os.Geteuid() == 0 {
		// root: drop the capability from the bounding set, so that the
		// exec'd phoneboot has it not.
		prefix = []string{testutil.Tool(t, "setpriv"), "--bounding-set", "-net_raw", "--"}
	}
	data := filepath.Join(t.TempDir(), "data")
	args := append(prefix, binary, "serve", "--data", data, "--tftp-addr", "127.0.0.1:0", "--discover", "lo",
		"--announce-voice-vlan", "lo:0", "--syslog-addr", "", "--http-addr", "", "--admin-addr", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, args[0], args[1:]...)
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	defer func() { p.cmd.Process.Kill(); <-p.done }()
	p.waitLog(t, "tftp listening", 10*time.Second)
	p.waitLog(t, "phones not discovered and voice VLAN not announced (serving goes on)", 10*time.Second)
	log := p.stderr.String()
	if c := strings.Count(log, "CAP_NET_RAW"); c != 1 {
		t.Errorf("the advice %d times, want once:\n%s", c, log)
	}
	for _, want := range []string{"CAP_NET_RAW", "run phoneboot as root", "setcap cap_net_raw+ep"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "operation not permitted") || strings.Contains(log, "socket:") {
		t.Errorf("syscall text in the message:\n%s", log)
	}
	time.Sleep(300 * time.Millisecond)
	if !p.running() {
		t.Fatalf("serve stopped:\n%s", log)
	}
}

// TestServeAnnounceVoiceVLAN: serve --announce-voice-vlan speaks CDP and
// LLDP-MED on the interface at once; a phone in the other namespace
// decodes voice VLAN 110 from both, and its VoIP VLAN query is answered
// within seconds (not at the next 30 s period).
func TestServeAnnounceVoiceVLAN(t *testing.T) {
	n := testutil.Netns(t)
	if n == nil {
		return
	}
	ph, err := testutil.InNS(n, func() (*discovery.Conn, error) { return discovery.Listen(n.Peer) })
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	p, _, _ := serve(t, "--discover", n.Host, "--announce-voice-vlan", n.Host+":110", "--syslog-addr", "", "--http-addr", "", "--admin-addr", "")
	p.waitLog(t, "listening for CDP and LLDP", 10*time.Second)
	hear := func(d time.Duration) []discovery.Neighbor {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var got []discovery.Neighbor
		buf := make([]byte, 2048)
		for len(got) < 2 {
			f, err := ph.Read(ctx, buf)
			if err != nil {
				break
			}
			if nb, ok, err := discovery.Decode(f.Data); ok && err == nil && nb.DeviceID == "phoneboot" {
				got = append(got, nb)
			}
		}
		return got
	}
	got := hear(10 * time.Second)
	if len(got) != 2 || got[0].Protocol != discovery.CDP || got[0].VoiceVLAN != 110 || got[1].Protocol != discovery.LLDP || got[1].VoiceVLAN != 110 {
		t.Fatalf("heard %+v", got)
	}
	query, err := discovery.EncodeCDP(discovery.Neighbor{SourceMAC: phone.MAC{0x00, 0x13, 0x7f, 0, 0, 0x42}, DeviceID: "SEP00137F000042",
		Platform: "Cisco IP Phone 7960", Capabilities: []string{"host", "phone"}, VoiceVLANQuery: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the one-answer-a-second bound
	start := time.Now()
	if err := ph.Send(query); err != nil {
		t.Fatal(err)
	}
	if again := hear(15 * time.Second); len(again) != 2 || time.Since(start) > 15*time.Second {
		t.Fatalf("after the query: %d frames in %v", len(again), time.Since(start))
	}
}

// TestServeDiscoverFlood: 20,000 CDP frames, each from a made-up phone,
// leave a trickle of phones and events (30 new phones a minute), not
// 20,000 of each.
func TestServeDiscoverFlood(t *testing.T) {
	n := testutil.Netns(t)
	if n == nil {
		return
	}
	p, _, data := serve(t, "--discover", n.Host, "--syslog-addr", "", "--http-addr", "", "--admin-addr", "")
	p.waitLog(t, "listening for CDP and LLDP", 10*time.Second)
	sender, err := testutil.InNS(n, func() (*discovery.Conn, error) { return discovery.Listen(n.Peer) })
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	const frames = 20000
	start := time.Now()
	for i := range frames {
		m := phone.MAC{0x02, 0xfe, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		f, err := discovery.EncodeCDP(discovery.Neighbor{SourceMAC: m, DeviceID: m.DeviceName(), Platform: "Cisco IP Phone 7940",
			Software: "P00308000100", Capabilities: []string{"host", "phone"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := sender.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d frames sent in %v", frames, time.Since(start))
	time.Sleep(2 * time.Second) // the store's flush
	_, out, _ := runQuick(t, "phones", "--data", data)
	got := strings.Count(out, "02:fe:00:")
	if got == 0 || got > 2*discovery.NewPhonesPerMinute {
		t.Errorf("%d made-up phones listed, want 1 to %d:\n%s", got, 2*discovery.NewPhonesPerMinute, out)
	}
	t.Logf("%d phones listed after %d made-up ones", got, frames)
	// The rest were heard, and said to be left out.
	p.waitLog(t, "discovery: changes not recorded", 5*time.Second)
	if !p.running() {
		t.Fatal("serve stopped")
	}
}
