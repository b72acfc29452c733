package stale

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"phoneboot/internal/phone"
)

// ARP over Ethernet for IPv4 (RFC 826), the only kind phones send.
const (
	etherTypeARP = 0x0806
	etherHeader  = 14
	arpLen       = 28 // hardware type … target protocol address
	frameLen     = etherHeader + arpLen

	opRequest = 1
	opReply   = 2
)

// Broadcast is the Ethernet broadcast address, where ARP requests go.
var Broadcast = phone.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ARP is one ARP message as read from an Ethernet frame.
type ARP struct {
	Source   phone.MAC // the frame's Ethernet source
	Op       uint16    // opRequest or opReply
	SenderHW phone.MAC
	SenderIP netip.Addr // 0.0.0.0 in an RFC 5227 probe
	TargetHW phone.MAC
	TargetIP netip.Addr
}

// Request reports whether a is an ARP request.
func (a ARP) Request() bool { return a.Op == opRequest }

// Probe reports whether a is an RFC 5227 probe: a request whose sender
// has no address yet.
func (a ARP) Probe() bool { return a.Op == opRequest && a.SenderIP == netip.IPv4Unspecified() }

// ParseARP reads an Ethernet frame carrying IPv4-over-Ethernet ARP. A
// frame of another kind, or cut short, is an error that says which; a
// longer frame (Ethernet padding) is fine. Never panics.
func ParseARP(frame []byte) (ARP, error) {
	if len(frame) < frameLen {
		return ARP{}, fmt.Errorf("ARP frame of %d bytes, want at least %d", len(frame), frameLen)
	}
	if et := binary.BigEndian.Uint16(frame[12:14]); et != etherTypeARP {
		return ARP{}, fmt.Errorf("ethertype %#04x is not ARP", et)
	}
	p := frame[etherHeader:]
	if ht, pt := binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4]); ht != 1 || pt != 0x0800 || p[4] != 6 || p[5] != 4 {
		return ARP{}, fmt.Errorf("ARP for hardware type %d, protocol %#04x (%d/%d-byte addresses), not IPv4 over Ethernet", ht, pt, p[4], p[5])
	}
	a := ARP{Op: binary.BigEndian.Uint16(p[6:8])}
	if a.Op != opRequest && a.Op != opReply {
		return ARP{}, fmt.Errorf("ARP operation %d is neither request nor reply", a.Op)
	}
	copy(a.Source[:], frame[6:12])
	copy(a.SenderHW[:], p[8:14])
	a.SenderIP = netip.AddrFrom4([4]byte(p[14:18]))
	copy(a.TargetHW[:], p[18:24])
	a.TargetIP = netip.AddrFrom4([4]byte(p[24:28]))
	return a, nil
}

// Frame is a as an Ethernet frame to dst (padded to Ethernet's 60-byte
// minimum).
func (a ARP) Frame(dst phone.MAC) []byte {
	b := make([]byte, 60)
	copy(b[0:6], dst[:])
	copy(b[6:12], a.Source[:])
	binary.BigEndian.PutUint16(b[12:14], etherTypeARP)
	p := b[etherHeader:]
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], 0x0800)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], a.Op)
	copy(p[8:14], a.SenderHW[:])
	s, t := a.SenderIP.As4(), a.TargetIP.As4()
	copy(p[14:18], s[:])
	copy(p[18:24], a.TargetHW[:])
	copy(p[24:28], t[:])
	return b
}

// ProbeFor is the RFC 5227 probe for addr from hw: "who has addr?" with
// sender address 0.0.0.0, so that no host's ARP cache learns anything
// from it.
func ProbeFor(hw phone.MAC, addr netip.Addr) ARP {
	return ARP{Source: hw, Op: opRequest, SenderHW: hw, SenderIP: netip.IPv4Unspecified(), TargetIP: addr}
}

// RequestFor is an ordinary ARP request "who has target? tell sender"
// (what a phone sends; the tests' simulated phones use it).
func RequestFor(hw phone.MAC, sender, target netip.Addr) ARP {
	return ARP{Source: hw, Op: opRequest, SenderHW: hw, SenderIP: sender, TargetIP: target}
}
