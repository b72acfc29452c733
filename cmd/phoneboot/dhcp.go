package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"phoneboot/internal/dhcp"
)

const dhcpUsage = `Usage:
  phoneboot dhcp snippet --for isc|kea|dnsmasq|mikrotik|pfsense --tftp IP[,IP]

Prints the configuration that makes your own DHCP server tell Cisco phones
where phoneboot is: option 150 (a list of IPv4 addresses, what the phones
try first) and option 66 (one name or address); see docs/dhcp.md.
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
	if _, err := parseFlags(fs, args[1:], stdout, "Prints the option 150/66 configuration for your own DHCP server.", 0); err != nil {
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
	text, err := dhcp.Snippet(*server, addrs)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, text)
	return nil
}
