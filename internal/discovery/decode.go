package discovery

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"phoneboot/internal/phone"
)

// Decode reads one Ethernet frame; ok is false (and err nil) when it is
// neither CDP nor LLDP; err says precisely what is wrong with a malformed
// CDP/LLDP frame. Never panics (fuzzed): gopacket has panicked on
// malformed input before, so a panic in it becomes an error here.
func Decode(frame []byte) (n Neighbor, ok bool, err error) {
	if len(frame) < 14 {
		return Neighbor{}, false, nil // not even an Ethernet header
	}
	dst := [6]byte(frame[0:6])
	copy(n.SourceMAC[:], frame[6:12])
	defer func() {
		if r := recover(); r != nil {
			n, ok, err = Neighbor{}, true, fmt.Errorf("%s frame from %s: cannot be decoded (%v)", protoOf(dst), n.SourceMAC, r)
		}
	}()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
	switch {
	case p.Layer(layers.LayerTypeCiscoDiscovery) != nil || isCDP(p):
		n.Protocol = CDP
		err = decodeCDP(p, &n)
	case p.Layer(layers.LayerTypeLinkLayerDiscovery) != nil || isLLDP(p):
		n.Protocol = LLDP
		err = decodeLLDP(p, &n)
	case dst == CDPGroup || dst == LLDPGroup:
		// Sent to a discovery group, yet no layer got that far: say why
		// when gopacket says why, else it is something else (VTP, DTP,
		// STP also go to these groups).
		if e := p.ErrorLayer(); e != nil {
			return Neighbor{}, true, fmt.Errorf("%s frame from %s: %v", protoOf(dst), n.SourceMAC, e.Error())
		}
		return Neighbor{}, false, nil
	default:
		return Neighbor{}, false, nil
	}
	if err != nil {
		return Neighbor{}, true, err
	}
	n.MAC = n.SourceMAC
	if m, ok := macOfDeviceID(n.DeviceID); ok {
		n.MAC = m
	}
	if m, ok := modelOf(n.Platform); ok {
		n.Model = m.Name
	}
	return n, true, nil
}

func protoOf(dst [6]byte) string {
	if dst == LLDPGroup {
		return "LLDP"
	}
	return "CDP"
}

// isCDP reports whether the frame's SNAP header says CDP, even when what
// follows failed to decode.
func isCDP(p gopacket.Packet) bool {
	s, ok := p.Layer(layers.LayerTypeSNAP).(*layers.SNAP)
	return ok && s.Type == layers.EthernetTypeCiscoDiscovery
}

// isLLDP reports whether the frame's EtherType says LLDP.
func isLLDP(p gopacket.Packet) bool {
	if d, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
		return d.Type == layers.EthernetTypeLinkLayerDiscovery
	}
	e, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	return ok && e.EthernetType == layers.EthernetTypeLinkLayerDiscovery
}

func decodeCDP(p gopacket.Packet, n *Neighbor) error {
	if pdu := cdpPDU(p); pdu != nil {
		if err := checkCDP(pdu); err != nil {
			return fmt.Errorf("CDP frame from %s: %v", n.SourceMAC, err)
		}
	}
	if e := p.ErrorLayer(); e != nil {
		return fmt.Errorf("CDP frame from %s: %v", n.SourceMAC, e.Error())
	}
	c, ok := p.Layer(layers.LayerTypeCiscoDiscovery).(*layers.CiscoDiscovery)
	if !ok {
		return fmt.Errorf("CDP frame from %s: no CDP header after the SNAP header", n.SourceMAC)
	}
	info, ok := p.Layer(layers.LayerTypeCiscoDiscoveryInfo).(*layers.CiscoDiscoveryInfo)
	if !ok {
		return fmt.Errorf("CDP frame from %s: its TLVs cannot be read", n.SourceMAC)
	}
	n.TTL = time.Duration(c.TTL) * time.Second
	n.DeviceID = clip(info.DeviceID)
	n.Port = clip(info.PortID)
	n.Software = clip(strings.TrimSpace(info.Version))
	n.Platform = clip(strings.TrimSpace(info.Platform))
	n.PowerMW = int(info.PowerConsumption)
	n.NativeVLAN = int(info.NativeVLAN)
	n.Addresses = addrs(append(append([]net.IP(nil), info.Addresses...), info.MgmtAddresses...))
	cp := info.Capabilities
	n.Capabilities = caps([]bool{cp.L3Router, cp.TBBridge, cp.SPBridge, cp.L2Switch, cp.IsHost, cp.IGMPFilter, cp.L1Repeater, cp.IsPhone, cp.RemotelyManaged},
		[]string{"router", "trans-bridge", "source-route-bridge", "switch", "host", "igmp", "repeater", "phone", "remote"})
	// gopacket fills the VLAN dialogues with zeros when the TLV is
	// absent: presence is read from the TLV list itself.
	for _, v := range c.Values {
		switch v.Type {
		case layers.CDPTLVVLANReply:
			n.VoiceVLAN = int(info.VLANReply.VLAN)
		case layers.CDPTLVVLANQuery:
			n.VoiceVLANQuery = true
		}
	}
	return nil
}

func decodeLLDP(p gopacket.Packet, n *Neighbor) error {
	if pdu := lldpPDU(p); pdu != nil {
		if err := checkLLDP(pdu); err != nil {
			return fmt.Errorf("LLDP frame from %s: %v", n.SourceMAC, err)
		}
	}
	if e := p.ErrorLayer(); e != nil {
		return fmt.Errorf("LLDP frame from %s: %v", n.SourceMAC, e.Error())
	}
	l, ok := p.Layer(layers.LayerTypeLinkLayerDiscovery).(*layers.LinkLayerDiscovery)
	if !ok {
		return fmt.Errorf("LLDP frame from %s: no LLDP TLVs after the Ethernet header", n.SourceMAC)
	}
	info, ok := p.Layer(layers.LayerTypeLinkLayerDiscoveryInfo).(*layers.LinkLayerDiscoveryInfo)
	if !ok {
		return fmt.Errorf("LLDP frame from %s: its optional TLVs cannot be read", n.SourceMAC)
	}
	n.TTL = time.Duration(l.TTL) * time.Second
	n.DeviceID = clip(info.SysName)
	if n.DeviceID == "" && l.ChassisID.Subtype != layers.LLDPChassisIDSubTypeMACAddr && l.ChassisID.Subtype != layers.LLDPChassisIDSubTypeNetworkAddr {
		n.DeviceID = clip(string(l.ChassisID.ID))
	}
	n.Port = clip(info.PortDescription)
	if n.Port == "" && l.PortID.Subtype != layers.LLDPPortIDSubtypeMACAddr && l.PortID.Subtype != layers.LLDPPortIDSubtypeNetworkAddr {
		n.Port = clip(string(l.PortID.ID))
	}
	if a, ok := netip.AddrFromSlice(info.MgmtAddress.Address); ok &&
		(info.MgmtAddress.Subtype == layers.IANAAddressFamilyIPV4 || info.MgmtAddress.Subtype == layers.IANAAddressFamilyIPV6) {
		n.Addresses = []netip.Addr{a.Unmap()}
	}
	c := info.SysCapabilities.EnabledCap
	if c == (layers.LLDPCapabilities{}) {
		c = info.SysCapabilities.SystemCap
	}
	n.Capabilities = caps([]bool{c.Other, c.Repeater, c.Bridge, c.WLANAP, c.Router, c.Phone, c.DocSis, c.StationOnly, c.CVLAN, c.SVLAN, c.TMPR},
		[]string{"other", "repeater", "bridge", "wlan-ap", "router", "phone", "docsis", "station", "c-vlan", "s-vlan", "tpmr"})
	if d, err := info.Decode8021(); err == nil {
		n.NativeVLAN = int(d.PVID)
	}
	med, err := info.DecodeMedia()
	if err != nil {
		return fmt.Errorf("LLDP frame from %s: LLDP-MED: %v", n.SourceMAC, err)
	}
	n.Software = clip(pickLoad(med.FirmwareRevision, med.SoftwareRevision))
	n.Platform = clip(strings.TrimSpace(med.Model))
	if _, ok := modelOf(n.Platform); !ok && info.SysDescription != "" {
		n.Platform = clip(strings.TrimSpace(info.SysDescription))
	}
	if med.PowerViaMDI.Value > 0 {
		n.PowerMW = int(med.PowerViaMDI.Value)
	}
	// A phone says a policy per application (voice, voice signalling):
	// DecodeMedia keeps only the last, so the voice one is looked for here.
	for _, o := range info.OrgTLVs {
		if o.OUI != layers.IEEEOUIMedia || layers.LLDPMediaSubtype(o.SubType) != layers.LLDPMediaTypeNetwork || len(o.Info) < 4 {
			continue
		}
		if layers.LLDPApplicationType(o.Info[0]) != layers.LLDPAppTypeVoice {
			continue
		}
		b := binary.BigEndian.Uint16(o.Info[1:3])
		if b&0x8000 == 0 { // the U bit: policy unknown
			n.VoiceVLAN = int(b&0x1ffe) >> 1
		}
	}
	return nil
}

// pickLoad is the revision that reads as a load ID, firmware first (a
// Java phone puts its load there), else the first one said.
func pickLoad(firmware, software string) string {
	for _, s := range []string{firmware, software} {
		if _, ok := phone.ParseLoadID(strings.TrimSpace(s)); ok {
			return strings.TrimSpace(s)
		}
	}
	if strings.TrimSpace(firmware) != "" {
		return strings.TrimSpace(firmware)
	}
	return strings.TrimSpace(software)
}

// modelOf finds the phone model a platform string names: "Cisco IP Phone
// 7940", "CP-7971G-GE", or a description with the model in one of its
// words ("Cisco IP Phone 7971G-GE,V3, SCCP70.8-3-3SR2S").
func modelOf(platform string) (phone.Model, bool) {
	if platform == "" {
		return phone.Model{}, false
	}
	if m, ok := phone.ModelByName(platform); ok {
		return m, true
	}
	for _, w := range strings.FieldsFunc(platform, func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
		if len(w) < 4 || w[0] < '0' || w[0] > '9' && !strings.HasPrefix(strings.ToUpper(w), "CP-") {
			continue
		}
		if m, ok := phone.ModelByName(w); ok {
			return m, true
		}
	}
	return phone.Model{}, false
}

// macOfDeviceID reads the MAC of a phone's device ID: SEP or SIP and 12
// hex digits, alone or before a domain ("SEP00137F38B3DE.cisco.com").
func macOfDeviceID(id string) (phone.MAC, bool) {
	if len(id) < 15 {
		return phone.MAC{}, false
	}
	if p := strings.ToUpper(id[:3]); p != "SEP" && p != "SIP" {
		return phone.MAC{}, false
	}
	if len(id) > 15 && id[15] != '.' {
		return phone.MAC{}, false
	}
	m, err := phone.ParseMAC(id[3:15])
	return m, err == nil
}

// clip cuts s to MaxString bytes on a character boundary and copies it:
// a Neighbor must not keep the frame it came from alive.
func clip(s string) string {
	if len(s) > MaxString {
		cut := MaxString
		for cut > MaxString-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return strings.Clone(s)
}

func addrs(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		a = a.Unmap()
		dup := false
		for _, b := range out {
			dup = dup || a == b
		}
		if !dup && len(out) < MaxAddresses {
			out = append(out, a)
		}
	}
	return out
}

func caps(set []bool, names []string) []string {
	var out []string
	for i, on := range set {
		if on {
			out = append(out, names[i])
		}
	}
	return out
}
