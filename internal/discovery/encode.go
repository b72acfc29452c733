package discovery

import (
	"encoding/binary"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The frames phoneboot writes: the announcer's (announce.go) and the
// tests' simulated phones. gopacket serializes Ethernet, LLC, SNAP and
// LLDP; it has no CDP serializer, so the CDP TLVs are written here.

var cdpCaps = map[string]uint32{"router": 0x01, "trans-bridge": 0x02, "source-route-bridge": 0x04, "switch": 0x08,
	"host": 0x10, "igmp": 0x20, "repeater": 0x40, "phone": 0x80, "remote": 0x100}

var lldpCaps = map[string]uint16{"other": 0x01, "repeater": 0x02, "bridge": 0x04, "wlan-ap": 0x08, "router": 0x10,
	"phone": 0x20, "docsis": 0x40, "station": 0x80, "c-vlan": 0x100, "s-vlan": 0x200, "tpmr": 0x400}

// EncodeCDP writes n as a CDPv2 frame from n.SourceMAC to the CDP group.
// The VoIP VLAN Reply TLV (0x0e) is written when voiceReply is set, with
// n.VoiceVLAN even when that is 0 (see docs/discovery.md for what 0
// tells a phone); the VoIP VLAN Query TLV (0x0f) when n.VoiceVLANQuery.
func EncodeCDP(n Neighbor, voiceReply bool) ([]byte, error) {
	var pdu []byte
	tlv := func(t uint16, v []byte) {
		pdu = binary.BigEndian.AppendUint16(pdu, t)
		pdu = binary.BigEndian.AppendUint16(pdu, uint16(4+len(v)))
		pdu = append(pdu, v...)
	}
	str := func(t uint16, s string) {
		if s != "" {
			tlv(t, []byte(s))
		}
	}
	ttl := int(n.TTL.Seconds())
	if ttl <= 0 || ttl > 255 {
		ttl = 180
	}
	pdu = append(pdu, 2, byte(ttl), 0, 0) // version 2, TTL, checksum below
	str(0x01, n.DeviceID)
	if len(n.Addresses) > 0 {
		v := binary.BigEndian.AppendUint32(nil, uint32(len(n.Addresses)))
		for _, a := range n.Addresses {
			if a.Is4() {
				v = append(v, 1, 1, 0xcc, 0, 4)
			} else {
				v = append(v, 2, 8, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd, 0, 16)
			}
			v = append(v, a.AsSlice()...)
		}
		tlv(0x02, v)
	}
	str(0x03, n.Port)
	if len(n.Capabilities) > 0 {
		var c uint32
		for _, name := range n.Capabilities {
			bit, ok := cdpCaps[name]
			if !ok {
				return nil, fmt.Errorf("CDP has no capability %q", name)
			}
			c |= bit
		}
		tlv(0x04, binary.BigEndian.AppendUint32(nil, c))
	}
	str(0x05, n.Software)
	str(0x06, n.Platform)
	if n.NativeVLAN > 0 {
		tlv(0x0a, binary.BigEndian.AppendUint16(nil, uint16(n.NativeVLAN)))
	}
	if voiceReply {
		tlv(0x0e, binary.BigEndian.AppendUint16([]byte{0x01}, uint16(n.VoiceVLAN)))
	}
	if n.VoiceVLANQuery {
		tlv(0x0f, []byte{0x20, 0x02, 0x00, 0x01}) // as phones send it (VoIP Hopper)
	}
	if n.PowerMW > 0 {
		tlv(0x10, binary.BigEndian.AppendUint16(nil, uint16(min(n.PowerMW, 0xffff))))
	}
	if len(pdu) > 1400 {
		return nil, fmt.Errorf("CDP frame of %d bytes is too big for Ethernet", len(pdu))
	}
	binary.BigEndian.PutUint16(pdu[2:4], CDPChecksum(pdu))
	return serialize(&layers.Ethernet{SrcMAC: n.SourceMAC[:], DstMAC: CDPGroup[:], EthernetType: layers.EthernetTypeLLC},
		&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 0x03},
		&layers.SNAP{OrganizationalCode: []byte{0, 0, 0x0c}, Type: layers.EthernetTypeCiscoDiscovery},
		gopacket.Payload(pdu))
}

// CDPChecksum is the checksum of a CDP PDU (version to last TLV, the
// checksum field zero): the Internet checksum, except that an odd last
// byte is summed as the low byte of a word whose high byte is its sign
// extension (what Cisco does, and Wireshark checks).
func CDPChecksum(pdu []byte) uint16 {
	var sum uint32
	i := 0
	for ; i+1 < len(pdu); i += 2 {
		if i == 2 {
			continue // the checksum field
		}
		sum += uint32(pdu[i])<<8 | uint32(pdu[i+1])
	}
	if i < len(pdu) {
		last := uint32(pdu[i])
		if last&0x80 != 0 {
			last |= 0xff00
		}
		sum += last
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// EncodeLLDP writes n as an LLDP frame from n.SourceMAC to the nearest
// bridge group, with LLDP-MED capabilities, inventory (firmware revision
// = n.Software, model = n.Platform) and, when voicePolicy is set, a
// network policy for voice: n.VoiceVLAN tagged, or (VLAN 0) untagged.
func EncodeLLDP(n Neighbor, voicePolicy bool) ([]byte, error) {
	ttl := int(n.TTL.Seconds())
	if ttl <= 0 || ttl > 0xffff {
		ttl = 120
	}
	l := &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeMACAddr, ID: n.SourceMAC[:]},
		PortID:    portID(n),
		TTL:       uint16(ttl),
	}
	add := func(t layers.LLDPTLVType, v []byte) {
		l.Values = append(l.Values, layers.LinkLayerDiscoveryValue{Type: t, Length: uint16(len(v)), Value: v})
	}
	med := func(sub layers.LLDPMediaSubtype, v []byte) {
		add(layers.LLDPTLVOrgSpecific, append([]byte{0x00, 0x12, 0xbb, byte(sub)}, v...))
	}
	for _, s := range []struct {
		t layers.LLDPTLVType
		v string
	}{{layers.LLDPTLVPortDescription, n.Port}, {layers.LLDPTLVSysName, n.DeviceID}, {layers.LLDPTLVSysDescription, n.Platform}} {
		if s.v != "" {
			if len(s.v) > 255 {
				return nil, fmt.Errorf("LLDP string of %d bytes is too long (at most 255)", len(s.v))
			}
			add(s.t, []byte(s.v))
		}
	}
	if len(n.Capabilities) > 0 {
		var c uint16
		for _, name := range n.Capabilities {
			bit, ok := lldpCaps[name]
			if !ok {
				return nil, fmt.Errorf("LLDP has no capability %q", name)
			}
			c |= bit
		}
		add(layers.LLDPTLVSysCapabilities, binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, c), c))
	}
	if len(n.Addresses) > 0 {
		a := n.Addresses[0]
		fam := byte(layers.IANAAddressFamilyIPV4)
		if !a.Is4() {
			fam = byte(layers.IANAAddressFamilyIPV6)
		}
		v := append([]byte{byte(1 + len(a.AsSlice())), fam}, a.AsSlice()...)
		v = append(v, 1, 0, 0, 0, 0, 0) // interface subtype ifIndex, number 0, no OID
		add(layers.LLDPTLVMgmtAddress, v)
	}
	// LLDP-MED capabilities: LLDP-MED, network policy, inventory; class
	// III (an endpoint) or network connectivity (4) for a switch.
	class := byte(3)
	for _, c := range n.Capabilities {
		if c == "bridge" {
			class = 4
		}
	}
	med(layers.LLDPMediaTypeCapabilities, []byte{0x00, 0x23, class})
	if voicePolicy {
		// application voice; U=0 (defined), T tagged unless VLAN 0, VLAN,
		// L2 priority 5, DSCP 46 (EF): what a switch configured for voice
		// says.
		var b uint32 = uint32(n.VoiceVLAN&0xfff)<<9 | 5<<6 | 46
		if n.VoiceVLAN != 0 {
			b |= 1 << 22
		}
		med(layers.LLDPMediaTypeNetwork, []byte{byte(layers.LLDPAppTypeVoice), byte(b >> 16), byte(b >> 8), byte(b)})
	}
	if n.PowerMW > 0 {
		// PD, PSE source, priority high, in units of 0.1 W.
		med(layers.LLDPMediaTypePower, binary.BigEndian.AppendUint16([]byte{0x52}, uint16(min(n.PowerMW/100, 0x3ff))))
	}
	if n.Software != "" {
		med(layers.LLDPMediaTypeFirmware, []byte(n.Software))
	}
	if n.Platform != "" {
		med(layers.LLDPMediaTypeModel, []byte(n.Platform))
	}
	return serialize(&layers.Ethernet{SrcMAC: n.SourceMAC[:], DstMAC: LLDPGroup[:], EthernetType: layers.EthernetTypeLinkLayerDiscovery}, l)
}

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		return nil, fmt.Errorf("building the frame: %w", err)
	}
	return buf.Bytes(), nil
}

// portID is the port by name, or by the MAC when it has none (the
// TLV is mandatory and must not be empty).
func portID(n Neighbor) layers.LLDPPortID {
	if n.Port == "" {
		return layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeMACAddr, ID: n.SourceMAC[:]}
	}
	return layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte(n.Port)}
}
