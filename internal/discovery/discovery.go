// Package discovery reads what phones and switches say about themselves
// on the wire: CDP (Cisco Discovery Protocol, v1 and v2, in 802.3 frames
// with LLC/SNAP) and LLDP with its LLDP-MED extensions. Decode turns one
// Ethernet frame into a Neighbor; the listener (listen.go) hears them on
// an interface and the announcer (announce.go) sends the frames a switch
// would, so that phones learn their voice VLAN.
//
// Everything in a Neighbor came from the network: its strings are clipped
// to MaxString bytes and are printed through internal/printable.
package discovery

import (
	"net/netip"
	"time"

	"phoneboot/internal/phone"
)

// Neighbor is what one CDP or LLDP frame says about its sender.
type Neighbor struct {
	Protocol     string       // "cdp" or "lldp"
	SourceMAC    phone.MAC    // the frame's Ethernet source
	DeviceID     string       // CDP Device ID / LLDP System Name ("SEP00137F38B3DE", "SEP….cisco.com")
	MAC          phone.MAC    // the phone's MAC from DeviceID (SEP/SIP<MAC>), else SourceMAC
	Addresses    []netip.Addr // CDP Addresses / LLDP management addresses
	Port         string
	Capabilities []string // e.g. "host", "phone"
	Software     string   // CDP Software version / LLDP-MED firmware revision: the running load ("P00308000100")
	Platform     string   // "Cisco IP Phone 7940"
	Model        string   // phone.ModelByName of Platform when known ("7940"), else ""
	PowerMW      int      // CDP power consumption / LLDP-MED power, milliwatts (0: not said)
	NativeVLAN   int      // 0: not said
	VoiceVLAN    int      // CDP VoIP VLAN reply or LLDP-MED network policy (voice): 0 not said
	// VoiceVLANQuery: a CDP VoIP VLAN query (what a phone sends).
	VoiceVLANQuery bool
	TTL            time.Duration
}

// Protocols a Neighbor comes from.
const (
	CDP  = "cdp"
	LLDP = "lldp"
)

// Limits on what one frame may make phoneboot keep: a string field is
// cut to MaxString bytes, and at most MaxAddresses addresses and
// MaxCapabilities capabilities are kept.
const (
	MaxString       = 128
	MaxAddresses    = 8
	MaxCapabilities = 16
)

// The multicast groups the protocols are sent to.
var (
	CDPGroup  = [6]byte{0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc}
	LLDPGroup = [6]byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}
)

// IsPhone reports whether the neighbor presents itself as an IP phone:
// a known phone model, the phone capability, or a SEP/SIP device ID.
func (n Neighbor) IsPhone() bool {
	if n.Model != "" {
		return true
	}
	for _, c := range n.Capabilities {
		if c == "phone" {
			return true
		}
	}
	_, ok := macOfDeviceID(n.DeviceID)
	return ok
}

// OwnMAC reports whether the MAC the frame names its device by is the
// MAC it was sent from: only such a frame may teach phoneboot anything
// about that phone (a frame claiming another phone's MAC is not its).
func (n Neighbor) OwnMAC() bool { return n.MAC == n.SourceMAC }
