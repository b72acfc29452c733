package discovery

import (
	"encoding/binary"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The frame's structure is checked here before gopacket reads it, so that
// a malformed frame is told in the protocol's own terms (which TLV, at
// which byte, claiming how much) rather than in gopacket's.

// cdpPDU is the CDP header and TLVs of p (nil when no SNAP layer).
func cdpPDU(p gopacket.Packet) []byte {
	if s, ok := p.Layer(layers.LayerTypeSNAP).(*layers.SNAP); ok {
		return s.LayerPayload()
	}
	return nil
}

// lldpPDU is the LLDP TLVs of p: what follows the Ethernet (or 802.1Q)
// header.
func lldpPDU(p gopacket.Packet) []byte {
	if d, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
		return d.LayerPayload()
	}
	if e, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok {
		return e.LayerPayload()
	}
	return nil
}

// checkCDP says what is wrong with a CDP PDU's framing, nil if nothing.
func checkCDP(pdu []byte) error {
	if len(pdu) < 4 {
		return fmt.Errorf("the CDP header is cut: %d bytes, want 4", len(pdu))
	}
	if v := pdu[0]; v != 1 && v != 2 {
		return fmt.Errorf("CDP version %d (want 1 or 2)", v)
	}
	for at := 4; at < len(pdu); {
		left := len(pdu) - at
		if left < 4 {
			return fmt.Errorf("a TLV header at CDP byte %d is cut: %d bytes left, want 4", at, left)
		}
		t := layers.CDPTLVType(binary.BigEndian.Uint16(pdu[at:]))
		n := int(binary.BigEndian.Uint16(pdu[at+2:]))
		switch {
		case n < 4:
			return fmt.Errorf("TLV %#04x (%s) at CDP byte %d has length %d, less than its own header (4)", uint16(t), t, at, n)
		case n > left:
			return fmt.Errorf("TLV %#04x (%s) at CDP byte %d claims %d bytes, %d are left", uint16(t), t, at, n, left)
		}
		at += n
	}
	return nil
}

// checkLLDP says what is wrong with an LLDP PDU's framing, nil if
// nothing: TLVs within the frame, the three mandatory ones first (IEEE
// 802.1AB: Chassis ID, Port ID, TTL), an End TLV.
func checkLLDP(pdu []byte) error {
	mandatory := []layers.LLDPTLVType{layers.LLDPTLVChassisID, layers.LLDPTLVPortID, layers.LLDPTLVTTL}
	for i, at := 0, 0; ; i++ {
		left := len(pdu) - at
		if left == 0 {
			return fmt.Errorf("no End TLV: the frame ends after %d TLVs", i)
		}
		if left < 2 {
			return fmt.Errorf("a TLV header at LLDP byte %d is cut: %d byte left, want 2", at, left)
		}
		h := binary.BigEndian.Uint16(pdu[at:])
		t, n := layers.LLDPTLVType(h>>9), int(h&0x1ff)
		if n > left-2 {
			return fmt.Errorf("TLV %d (%s) at LLDP byte %d claims %d bytes, %d are left", t, t, at, n, left-2)
		}
		if i < len(mandatory) && t != mandatory[i] {
			return fmt.Errorf("TLV %d at LLDP byte %d is %s, where %s must be", i+1, at, t, mandatory[i])
		}
		if i < len(mandatory) && n < 2 {
			return fmt.Errorf("%s TLV at LLDP byte %d has %d bytes, want at least 2", t, at, n)
		}
		if t == layers.LLDPTLVEnd {
			return nil
		}
		at += 2 + n
	}
}
