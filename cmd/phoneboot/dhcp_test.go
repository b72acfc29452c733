package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDHCPSnippetFlags(t *testing.T) {
	var out bytes.Buffer
	if err := dhcpCmd([]string{"snippet", "--for", "isc", "--tftp", "fe80::1"}, &out); err == nil || !strings.Contains(err.Error(), "IPv4") {
		t.Errorf("IPv6 for option 150: %v", err)
	}
	out.Reset()
	if err := dhcpCmd([]string{"snippet", "--for", "dnsmasq", "--tftp", "10.0.0.5"}, &out); err != nil || !strings.Contains(out.String(), "dhcp-option=150,10.0.0.5") {
		t.Errorf("dnsmasq snippet: %v\n%s", err, out.String())
	}
}
