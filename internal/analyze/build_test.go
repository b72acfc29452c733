package analyze

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"phoneboot/internal/phone"
	"phoneboot/internal/tftp"
)

// capture builds a pcap of Ethernet frames in memory, a packet at a
// time, each a millisecond (or step) after the last.
type capture struct {
	t   testing.TB
	buf bytes.Buffer
	w   *pcapgo.Writer
	now time.Time
}

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func newCapture(t testing.TB) *capture {
	c := &capture{t: t, now: t0}
	c.w = pcapgo.NewWriter(&c.buf)
	if err := c.w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return c
}

// host is a machine of the capture: its MAC and address.
type host struct {
	mac phone.MAC
	ip  netip.Addr
}

func hostAt(mac string, ip string) host {
	m, err := phone.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return host{m, netip.MustParseAddr(ip)}
}

var broadcast = host{phone.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, netip.MustParseAddr("255.255.255.255")}

func (c *capture) frame(b []byte) {
	c.now = c.now.Add(time.Millisecond)
	ci := gopacket.CaptureInfo{Timestamp: c.now, CaptureLength: len(b), Length: len(b)}
	if err := c.w.WritePacket(ci, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *capture) layers(ls ...gopacket.SerializableLayer) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		c.t.Fatal(err)
	}
	c.frame(buf.Bytes())
}

// udp sends a datagram from one host's port to another's.
func (c *capture) udp(from host, sport uint16, to host, dport uint16, payload []byte) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(from.mac[:]), DstMAC: net.HardwareAddr(to.mac[:]), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: from.ip.AsSlice(), DstIP: to.ip.AsSlice()}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	u.SetNetworkLayerForChecksum(ip)
	c.layers(eth, ip, u, gopacket.Payload(payload))
}

// tcp sends a TCP segment.
func (c *capture) tcp(from host, sport uint16, to host, dport uint16, seq uint32, syn, fin bool, payload []byte) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(from.mac[:]), DstMAC: net.HardwareAddr(to.mac[:]), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: from.ip.AsSlice(), DstIP: to.ip.AsSlice()}
	t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, SYN: syn, FIN: fin, ACK: !syn, Window: 65535}
	t.SetNetworkLayerForChecksum(ip)
	c.layers(eth, ip, t, gopacket.Payload(payload))
}

// arp sends a request from a host for an address.
func (c *capture) arp(from host, target netip.Addr) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(from.mac[:]), DstMAC: net.HardwareAddr(broadcast.mac[:]), EthernetType: layers.EthernetTypeARP}
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: from.mac[:], SourceProtAddress: from.ip.AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: target.AsSlice()}
	c.layers(eth, a)
}

// get is a whole TFTP read: the request to port 69, then the server's
// DATA blocks from its transfer port tid, each ACKed; blocks listed in
// again are sent twice (a retransmission).
func (c *capture) get(ph host, cport uint16, srv host, tid uint16, name string, size int, again ...uint16) {
	c.udp(ph, cport, srv, 69, tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet))
	for block := uint16(1); ; block++ {
		n := min(512, size-int(block-1)*512)
		data := tftp.AppendData(nil, block, make([]byte, n))
		c.udp(srv, tid, ph, cport, data)
		for _, a := range again {
			if a == block {
				c.udp(srv, tid, ph, cport, data)
			}
		}
		c.udp(ph, cport, srv, tid, tftp.AppendAck(nil, block))
		if n < 512 {
			return
		}
	}
}

// notFound is a TFTP read the server answers with "file not found".
func (c *capture) notFound(ph host, cport uint16, srv host, tid uint16, name string) {
	c.udp(ph, cport, srv, 69, tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet))
	c.udp(srv, tid, ph, cport, tftp.AppendError(nil, tftp.ErrFileNotFound, "file not found"))
}

func (c *capture) bytes() []byte { return c.buf.Bytes() }

func (c *capture) result(o Options) *Result {
	c.t.Helper()
	res, err := Read(bytes.NewReader(c.bytes()), o)
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}
