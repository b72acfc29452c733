package dhcp

import (
	"fmt"
	"net/netip"
	"strings"
)

// Snippet renders option 150 (every address) and 66 (the first) in the
// syntax of another DHCP server (isc, kea, dnsmasq, mikrotik, pfsense), for
// sites that keep their own.
func Snippet(server string, addrs []netip.Addr) (string, error) {
	list := make([]string, len(addrs))
	hex := make([]string, len(addrs))
	for i, a := range addrs {
		list[i] = a.String()
		b := a.As4()
		hex[i] = fmt.Sprintf("%02x%02x%02x%02x", b[0], b[1], b[2], b[3])
	}
	first := list[0]
	switch server {
	case "isc":
		return fmt.Sprintf(`# ISC dhcpd (dhcpd.conf): at the top, then in the phones' subnet or class.
option tftp-server-list code 150 = array of ip-address;
option tftp-server-list %s;
option tftp-server-name "%s";
`, strings.Join(list, ", "), first), nil
	case "kea":
		return fmt.Sprintf(`// Kea (kea-dhcp4.conf): inside "Dhcp4".
"option-def": [ { "name": "tftp-server-list", "code": 150, "type": "ipv4-address", "array": true, "space": "dhcp4" } ],
"option-data": [
  { "name": "tftp-server-list", "code": 150, "data": "%s", "always-send": true },
  { "name": "tftp-server-name", "code": 66, "data": "%s" }
]
`, strings.Join(list, ", "), first), nil
	case "dnsmasq":
		return fmt.Sprintf(`# dnsmasq (dnsmasq.conf)
dhcp-option=150,%s
dhcp-option=66,"%s"
`, strings.Join(list, ","), first), nil
	case "mikrotik":
		return fmt.Sprintf(`# MikroTik RouterOS: then add both to the network's dhcp-options.
/ip dhcp-server option add name=tftp150 code=150 value=0x%s
/ip dhcp-server option add name=tftp66 code=66 value="'%s'"
/ip dhcp-server network set [find] dhcp-option=tftp150,tftp66
`, strings.Join(hex, ""), first), nil
	case "pfsense":
		return fmt.Sprintf(`pfSense / OPNsense: Services > DHCP Server > (the phones' interface):
  TFTP server (option 66):            %s
  Additional BOOTP/DHCP Options:      Number 150, Type "IP address or host", Value %s
  (the form takes one address per option; phones only need one)
`, first, first), nil
	case "":
		return "", fmt.Errorf("dhcp snippet: --for is missing: isc, kea, dnsmasq, mikrotik or pfsense")
	}
	return "", fmt.Errorf("dhcp snippet: --for %q: use isc, kea, dnsmasq, mikrotik or pfsense", server)
}
