package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/printable"
)

// ParseAnnounce reads --announce-voice-vlan's IF:VLAN ("eth0:110"; VLAN
// 0 tells phones there is no voice VLAN).
func ParseAnnounce(s string) (iface string, vlan int, err error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("--announce-voice-vlan %q: want INTERFACE:VLAN, e.g. eth0:110 (VLAN 0: there is no voice VLAN)", s)
	}
	vlan, err = strconv.Atoi(s[i+1:])
	if err != nil || vlan < 0 || vlan > 4094 {
		return "", 0, fmt.Errorf("--announce-voice-vlan %q: the VLAN must be a number from 0 to 4094", s)
	}
	return s[:i], vlan, nil
}

// AnnounceEvery is how often the announcer speaks unasked: the phones'
// own CDP period is 60 s and a switch's holdtime 180 s.
const AnnounceEvery = 30 * time.Second

// Announcer sends, on its interface, the CDP VoIP VLAN Reply and the
// LLDP-MED network policy a switch configured with a voice VLAN sends,
// so that phones on a switch that sends neither learn their voice VLAN
// (or, VLAN 0, that they have none and stay on the untagged one). It
// speaks every Every, and again soon after a phone asks (Query): a 79xx
// sends a CDP VoIP VLAN Query as it boots and waits for the answer.
type Announcer struct {
	Conn  *Conn
	VLAN  int
	Every time.Duration // 0: AnnounceEvery
	Log   *slog.Logger

	query chan struct{}
	rival time.Time // when a switch's frame was last warned of
}

// NewAnnouncer makes an announcer of vlan on c.
func NewAnnouncer(c *Conn, vlan int, log *slog.Logger) *Announcer {
	return &Announcer{Conn: c, VLAN: vlan, Log: log, query: make(chan struct{}, 1)}
}

// Query tells the announcer a phone asked; it answers within a second
// (one answer for many questions at once).
func (a *Announcer) Query() {
	select {
	case a.query <- struct{}{}:
	default:
	}
}

// Heard takes a frame heard on the announcer's interface: a phone's VoIP
// VLAN query is answered (Query); a switch speaking CDP or LLDP there is
// warned of, at most every ten minutes, since phones hear both answers
// (docs/discovery.md: never announce beside a real switch).
func (a *Announcer) Heard(n Neighbor, now time.Time) {
	var own phone.MAC
	copy(own[:], a.Conn.Iface.HardwareAddr)
	if n.SourceMAC == own {
		return // its own frame, looped back (lo has no MAC to filter by)
	}
	if n.VoiceVLANQuery && n.OwnMAC() {
		a.Query()
	}
	if n.IsPhone() || !slices.ContainsFunc(n.Capabilities, func(c string) bool { return c == "switch" || c == "bridge" || c == "router" }) {
		return
	}
	if !a.rival.IsZero() && now.Sub(a.rival) < 10*time.Minute {
		return
	}
	a.rival = now
	a.Log.Warn("voice VLAN announcer: a switch speaks "+strings.ToUpper(n.Protocol)+" on "+a.Conn.Iface.Name+
		": phones hear both answers; turn --announce-voice-vlan off here (docs/discovery.md)",
		"device", printable.String(n.DeviceID), "mac", n.SourceMAC.String(), "its voice vlan", n.VoiceVLAN)
}

// Frames are what the announcer sends: CDP, then LLDP.
func (a *Announcer) Frames() ([][]byte, error) {
	var src phone.MAC
	copy(src[:], a.Conn.Iface.HardwareAddr)
	n := Neighbor{SourceMAC: src, DeviceID: "phoneboot", Port: a.Conn.Iface.Name, Capabilities: []string{"switch"},
		Platform: "phoneboot voice VLAN announcer", VoiceVLAN: a.VLAN, TTL: 180 * time.Second}
	cdp, err := EncodeCDP(n, true)
	if err != nil {
		return nil, err
	}
	n.Capabilities = []string{"bridge"}
	lldp, err := EncodeLLDP(n, true)
	if err != nil {
		return nil, err
	}
	return [][]byte{cdp, lldp}, nil
}

// Run announces until ctx is done.
func (a *Announcer) Run(ctx context.Context) error {
	frames, err := a.Frames()
	if err != nil {
		return err
	}
	every := a.Every
	if every <= 0 {
		every = AnnounceEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	failed := false
	for {
		sent := time.Now()
		var errs []string
		for _, f := range frames {
			if err := a.Conn.Send(f); err != nil {
				errs = append(errs, err.Error())
			}
		}
		switch {
		case len(errs) > 0 && !failed:
			a.Log.Warn("voice VLAN announcer: cannot send on "+a.Conn.Iface.Name, "err", strings.Join(errs, "; "))
		case len(errs) == 0 && failed:
			a.Log.Info("voice VLAN announcer: sending again on " + a.Conn.Iface.Name)
		}
		failed = len(errs) > 0
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-a.query:
			// Answer now, but at most once a second however many ask.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Until(sent.Add(time.Second))):
			}
		}
	}
}
