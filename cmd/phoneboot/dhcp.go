package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
)

const dhcpUsage = `Usage:
  phoneboot dhcp snippet --for isc|kea|dnsmasq|mikrotik|pfsense --tftp IP[,IP]

Prints the configuration that makes your own DHCP server tell Cisco phones
where phoneboot is: option 150 (a list of IPv4 addresses, what the phones
try first) and option 66 (one name or address), cisco-79xx.md §5.
`

// dhcpCmd is "phoneboot dhcp …".
func dhcpCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(stdout, dhcpUsage)
		return nil
	}
	if args[0] != "snippet" {
		return fmt.Errorf("dhcp: unknown subcommand %q (see phoneboot dhcp help)", args[0])
	}
	fs, _, _ := commonFlags("dhcp snippet")
	server := fs.String("for", "", "the DHCP server: isc, kea, dnsmasq, mikrotik or pfsense")
	tftp := fs.String("tftp", "", "phoneboot's address(es) as the phones reach it, comma-separated")
	if err := parseFlags(fs, args[1:], stdout, "Prints the option 150/66 configuration for your own DHCP server."); err != nil {
		return err
	}
	if *tftp == "" {
		return fmt.Errorf("dhcp snippet: --tftp is missing: the address phones reach phoneboot at, e.g. --tftp 10.0.0.5")
	}
	var addrs []netip.Addr
	for _, s := range strings.Split(*tftp, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !a.Is4() {
			return fmt.Errorf("dhcp snippet: --tftp %q: option 150 holds IPv4 addresses, e.g. 10.0.0.5", s)
		}
		addrs = append(addrs, a)
	}
	text, err := dhcpSnippet(*server, addrs)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, text)
	return nil
}

// dhcpSnippet renders option 150 (every address) and 66 (the first) in
// the syntax of a DHCP server.
func dhcpSnippet(server string, addrs []netip.Addr) (string, error) {
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
