package discovery

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// A switch speaking CDP beside the announcer is warned of, once.
func TestAnnouncerWarnsOfSwitch(t *testing.T) {
	var log strings.Builder
	a := NewAnnouncer(&Conn{Iface: &net.Interface{Name: "eth9"}}, 110, slog.New(slog.NewTextHandler(&log, nil)))
	sw := Neighbor{Protocol: CDP, SourceMAC: [6]byte{0, 0x0d, 0x65, 1, 2, 3}, DeviceID: "core-sw1", Capabilities: []string{"switch", "igmp"}, VoiceVLAN: 20}
	now := time.Now()
	for i := range 5 {
		a.Heard(sw, now.Add(time.Duration(i)*time.Minute))
	}
	a.Heard(Neighbor{Protocol: CDP, DeviceID: "SEP00137F38B3DE", Model: "7940", Capabilities: []string{"host"}}, now)
	if c := strings.Count(log.String(), "a switch speaks CDP on eth9"); c != 1 {
		t.Errorf("%d warnings, want 1:\n%s", c, log.String())
	}
}

func TestParseAnnounce(t *testing.T) {
	for _, c := range []struct {
		in    string
		iface string
		vlan  int
		ok    bool
	}{{"eth0:110", "eth0", 110, true}, {"eth0:0", "eth0", 0, true}, {"eth0", "", 0, false}, {"eth0:4095", "", 0, false},
		{":5", "", 0, false}, {"eth0:x", "", 0, false}, {"eth0:-1", "", 0, false}} {
		iface, vlan, err := ParseAnnounce(c.in)
		if (err == nil) != c.ok || iface != c.iface || vlan != c.vlan {
			t.Errorf("ParseAnnounce(%q) = %q, %d, %v", c.in, iface, vlan, err)
		}
	}
}
