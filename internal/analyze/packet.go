package analyze

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"phoneboot/internal/phone"
)

// frame is what the link layer of one packet says.
type frame struct {
	n       int // packet number, 1 first
	t       time.Time
	src     phone.MAC // zero: not known (loopback, SLL of another kind)
	srcOK   bool
	raw     []byte // the whole Ethernet frame, for CDP/LLDP (nil on other links)
	etype   layers.EthernetType
	payload []byte
}

// The Ethernet types and addresses this reads besides IP.
var (
	cdpDst = []byte{0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc}
)

// packet dispatches one captured packet.
func (a *analyzer) packet(n int, link layers.LinkType, data []byte, t time.Time) {
	a.tick(t)
	f := frame{n: n, t: t}
	if !a.link(&f, link, data) {
		a.skipped++
		return
	}
	switch f.etype {
	case layers.EthernetTypeIPv4, layers.EthernetTypeIPv6:
		a.ip(&f)
	case layers.EthernetTypeARP:
		a.arpPacket(&f)
	case layers.EthernetTypeLinkLayerDiscovery, layers.EthernetTypeCiscoDiscovery:
		a.discovery(&f)
	default:
		a.skipped++
	}
}

// link reads the link layer: Ethernet (with 802.1Q tags), Linux cooked
// (tcpdump -i any), or raw IP.
func (a *analyzer) link(f *frame, link layers.LinkType, data []byte) bool {
	switch link {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return false
		}
		f.src, f.srcOK = macOf(data[6:12])
		f.raw = data
		et := binary.BigEndian.Uint16(data[12:14])
		rest := data[14:]
		for (et == 0x8100 || et == 0x88a8) && len(rest) >= 4 { // VLAN tags
			et = binary.BigEndian.Uint16(rest[2:4])
			rest = rest[4:]
		}
		if et < 0x0600 { // 802.3 length: LLC; CDP is LLC/SNAP to 01:00:0c:cc:cc:cc
			if slices.Equal(data[:6], cdpDst) {
				f.etype = layers.EthernetTypeCiscoDiscovery
				return true
			}
			return false
		}
		f.etype, f.payload = layers.EthernetType(et), rest
		return true
	case layers.LinkTypeLinuxSLL:
		var sll layers.LinuxSLL
		if sll.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return false
		}
		if sll.PacketType != layers.LinuxSLLPacketTypeOutgoing {
			f.src, f.srcOK = macOf(sll.Addr) // the sender's, for packets received
		}
		f.etype, f.payload = sll.EthernetType, sll.Payload
		return true
	case layers.LinkTypeLinuxSLL2:
		var sll layers.LinuxSLL2
		if sll.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return false
		}
		if sll.PacketType != layers.LinuxSLL2PacketTypeOutgoing {
			f.src, f.srcOK = macOf(sll.Addr)
		}
		f.etype, f.payload = sll.ProtocolType, sll.Payload
		return true
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		if len(data) == 0 {
			return false
		}
		f.etype, f.payload = layers.EthernetTypeIPv4, data
		if data[0]>>4 == 6 {
			f.etype = layers.EthernetTypeIPv6
		}
		return true
	}
	return false
}

// datagram is one UDP datagram or TCP segment.
type datagram struct {
	*frame
	src, dst netip.AddrPort
	tcp      *layers.TCP
	payload  []byte
}

// ip reads IPv4/IPv6 and hands UDP and TCP on.
func (a *analyzer) ip(f *frame) {
	var src, dst netip.Addr
	var proto layers.IPProtocol
	var body []byte
	if f.etype == layers.EthernetTypeIPv4 {
		var ip4 layers.IPv4
		if err := ip4.DecodeFromBytes(f.payload, gopacket.NilDecodeFeedback); err != nil {
			a.problem(f.n, "IPv4: %v", err)
			return
		}
		if ip4.Flags&layers.IPv4MoreFragments != 0 || ip4.FragOffset != 0 {
			a.skipped++ // fragments: phones' boot traffic is not fragmented
			return
		}
		src, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(ip4.DstIP.To4())
		proto, body = ip4.Protocol, ip4.Payload
	} else {
		var ip6 layers.IPv6
		if err := ip6.DecodeFromBytes(f.payload, gopacket.NilDecodeFeedback); err != nil {
			a.problem(f.n, "IPv6: %v", err)
			return
		}
		src, _ = netip.AddrFromSlice(ip6.SrcIP)
		dst, _ = netip.AddrFromSlice(ip6.DstIP)
		proto, body = ip6.NextHeader, ip6.Payload
	}
	if src.Is4() && !src.IsUnspecified() {
		a.arp.seen(src) // it is there: not an absent server
		if f.srcOK {
			a.phones.sawEthernet(src, f.src)
		}
	}
	switch proto {
	case layers.IPProtocolUDP:
		var u layers.UDP
		if err := u.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
			a.problem(f.n, "UDP: %v", err)
			return
		}
		payload := u.Payload
		if int(u.Length) >= 8 && int(u.Length)-8 < len(payload) {
			payload = payload[:u.Length-8] // Ethernet padding
		}
		a.udp(datagram{frame: f, src: netip.AddrPortFrom(src, uint16(u.SrcPort)), dst: netip.AddrPortFrom(dst, uint16(u.DstPort)), payload: payload})
	case layers.IPProtocolTCP:
		var t layers.TCP
		if err := t.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
			a.problem(f.n, "TCP: %v", err)
			return
		}
		a.http.segment(datagram{frame: f, src: netip.AddrPortFrom(src, uint16(t.SrcPort)), dst: netip.AddrPortFrom(dst, uint16(t.DstPort)), tcp: &t, payload: t.Payload})
	default:
		a.skipped++
	}
}

// udp hands a datagram to DHCP, syslog or TFTP.
func (a *analyzer) udp(d datagram) {
	sp, dp := d.src.Port(), d.dst.Port()
	switch {
	case (sp == 68 && dp == 67) || (sp == 67 && dp == 68) || (sp == 67 && dp == 67):
		a.dhcpPacket(d)
	case dp == a.o.SyslogPort:
		a.syslogPacket(d)
	default:
		if !a.tftp.datagram(d) {
			a.skipped++
		}
	}
}
