package analyze

import (
	"fmt"
	"net/netip"
	"strings"

	"phoneboot/internal/discovery"
	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// announced is what a phone's last CDP/LLDP event said.
type announced struct {
	model, load string
	addr        netip.Addr
}

// discovery reads a CDP or LLDP frame (internal/discovery decodes it):
// a phone's becomes an event when what it says of itself changed, as
// the live listener records them (event.Neighbor, one per change).
func (a *analyzer) discovery(f *frame) {
	if f.raw == nil {
		a.skipped++ // not an Ethernet frame: nothing to decode
		return
	}
	n, ok, err := discovery.Decode(f.raw)
	switch {
	case err != nil:
		a.problem(f.n, "%s: %v", strings.ToUpper(protoName(f)), err)
		return
	case !ok || !n.IsPhone():
		a.skipped++ // a switch's, or not CDP/LLDP after all
		return
	}
	// A frame naming another MAC than its source speaks for another
	// phone: it teaches nothing, as the live listener (discovery.Feeder)
	// takes it.
	mac := n.MAC
	if !n.OwnMAC() || mac == (phone.MAC{}) {
		a.skipped++
		return
	}
	now := announced{model: n.Model}
	if _, ok := phone.ParseLoadID(n.Software); ok {
		now.load = n.Software
	}
	for _, ip := range n.Addresses {
		if ip.Is4() {
			now.addr = ip
			break
		}
	}
	if last, ok := a.announced[mac]; ok && last == now {
		return
	}
	if len(a.announced) >= a.o.MaxPhones {
		return
	}
	a.announced[mac] = now
	src := event.CDP
	if n.Protocol == discovery.LLDP {
		src = event.LLDP
	}
	var parts []string
	if n.Platform != "" {
		parts = append(parts, n.Platform)
	}
	if n.Software != "" {
		parts = append(parts, "software "+n.Software)
	}
	if n.Port != "" {
		parts = append(parts, "port "+n.Port)
	}
	if n.PowerMW > 0 {
		parts = append(parts, fmt.Sprintf("%.1f W", float64(n.PowerMW)/1000))
	}
	if n.VoiceVLANQuery {
		parts = append(parts, "asks for its voice VLAN")
	}
	if n.VoiceVLAN > 0 {
		parts = append(parts, fmt.Sprintf("voice VLAN %d", n.VoiceVLAN))
	}
	a.emit(event.Event{Time: f.t, MAC: mac, IP: now.addr, Source: src, Kind: event.Neighbor,
		Facts: event.Facts{Model: now.model, Running: now.load}, Detail: strings.Join(parts, ", ")})
	if now.addr.IsValid() {
		a.phones.sawEthernet(now.addr, mac)
	}
}

func protoName(f *frame) string {
	if f.etype == 0x88cc {
		return "lldp"
	}
	return "cdp"
}
