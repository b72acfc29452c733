package analyze

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// dhcpPacket is a DHCP message, client's or server's: an event of the
// phone its chaddr names, as phoneboot's own DHCP server records them.
func (a *analyzer) dhcpPacket(d datagram) {
	m, err := dhcpv4.FromBytes(d.payload)
	if err != nil {
		a.problem(d.n, "DHCP from %v: %v", d.src, err)
		return
	}
	mac, ok := macOf(m.ClientHWAddr)
	if !ok || m.HWType != 1 {
		a.skipped++ // not an Ethernet client
		return
	}
	kind, ok := dhcpKind(m.MessageType())
	if !ok {
		a.problem(d.n, "DHCP from %v: no message type (option 53)", d.src)
		return
	}
	ev := event.Event{Time: d.t, MAC: mac, Source: event.DHCP, Kind: kind}
	ip := func(b []byte) netip.Addr {
		x, _ := netip.AddrFromSlice(b)
		return x.Unmap()
	}
	var parts []string
	switch kind {
	case event.DHCPOffer, event.DHCPAck, event.DHCPNak:
		ev.IP = ip(m.YourIPAddr)
		server := d.src.Addr()
		if sid := m.ServerIdentifier(); sid != nil {
			server = ip(sid)
		}
		if kind == event.DHCPNak {
			ev.IP = netip.Addr{}
			parts = append(parts, fmt.Sprintf("from %v: %s", server, m.Message()))
			break
		}
		parts = append(parts, fmt.Sprintf("%v from %v", ev.IP, server))
		if tftp := tftpServers(m); tftp != "" {
			parts = append(parts, "TFTP server "+tftp)
		} else {
			parts = append(parts, "no TFTP server (option 150 or 66)")
		}
		if kind == event.DHCPAck {
			addr := ev.IP
			if !addr.IsValid() || addr.IsUnspecified() {
				addr = ip(m.ClientIPAddr) // ACK of an INFORM
			}
			a.phones.leased(addr, mac, d.t)
		}
	default:
		if req := m.RequestedIPAddress(); req != nil {
			ev.IP = ip(req)
			parts = append(parts, fmt.Sprintf("asks for %v", ev.IP))
		} else if c := ip(m.ClientIPAddr); c.IsValid() && !c.IsUnspecified() {
			ev.IP = c
			parts = append(parts, fmt.Sprintf("from %v", c))
		}
		if vc := m.ClassIdentifier(); vc != "" {
			if model, ok := phone.ModelByVendorClass(vc); ok {
				ev.Facts.Model = model.Name
			}
			parts = append(parts, fmt.Sprintf("vendor class %q", vc))
		}
		if prl := m.ParameterRequestList(); len(prl) > 0 {
			var codes []string
			for _, c := range prl {
				codes = append(codes, fmt.Sprint(c.Code()))
			}
			parts = append(parts, "option 55: "+strings.Join(codes, ","))
		}
	}
	if ev.IP.IsValid() && ev.IP.IsUnspecified() {
		ev.IP = netip.Addr{}
	}
	ev.Detail = strings.Join(parts, "; ")
	a.emit(ev)
}

// tftpServers is what option 150 and option 66 of a reply name.
func tftpServers(m *dhcpv4.DHCPv4) string {
	var out []string
	if v := m.Options.Get(dhcpv4.GenericOptionCode(150)); len(v) >= 4 {
		for i := 0; i+4 <= len(v); i += 4 {
			out = append(out, netip.AddrFrom4([4]byte(v[i:i+4])).String())
		}
	}
	if v := m.Options.Get(dhcpv4.OptionTFTPServerName); len(v) > 0 {
		out = append(out, fmt.Sprintf("%q (option 66)", strings.TrimRight(string(v), "\x00")))
	}
	return strings.Join(out, ", ")
}

func dhcpKind(t dhcpv4.MessageType) (event.Kind, bool) {
	switch t {
	case dhcpv4.MessageTypeDiscover:
		return event.DHCPDiscover, true
	case dhcpv4.MessageTypeOffer:
		return event.DHCPOffer, true
	case dhcpv4.MessageTypeRequest:
		return event.DHCPRequest, true
	case dhcpv4.MessageTypeAck:
		return event.DHCPAck, true
	case dhcpv4.MessageTypeNak:
		return event.DHCPNak, true
	case dhcpv4.MessageTypeInform:
		return event.DHCPInform, true
	case dhcpv4.MessageTypeRelease:
		return event.DHCPRelease, true
	case dhcpv4.MessageTypeDecline:
		return event.DHCPDecline, true
	}
	return "", false
}
