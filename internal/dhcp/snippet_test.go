package dhcp

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/testutil"
)

func TestDHCPSnippets(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6")}
	want := map[string]string{
		"isc":      "option tftp-server-list 10.0.0.5, 10.0.0.6;",
		"kea":      `"code": 150, "data": "10.0.0.5, 10.0.0.6"`,
		"dnsmasq":  "dhcp-option=150,10.0.0.5,10.0.0.6",
		"mikrotik": "value=0x0a0000050a000006",
		"pfsense":  "Number 150",
	}
	for server, w := range want {
		got, err := Snippet(server, addrs)
		if err != nil || !strings.Contains(got, w) {
			t.Errorf("%s: %v\n%s\nwant %q", server, err, got, w)
		}
	}
	if _, err := Snippet("windows", addrs); err == nil || !strings.Contains(err.Error(), "isc, kea, dnsmasq") {
		t.Errorf("unknown server: %v", err)
	}
}

// TestDHCPSnippetDnsmasqAccepts: the real dnsmasq parses the snippet.
func TestDHCPSnippetDnsmasqAccepts(t *testing.T) {
	bin := testutil.Tool(t, "dnsmasq")
	text, err := Snippet("dnsmasq", []netip.Addr{netip.MustParseAddr("10.0.0.5")})
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "dnsmasq.conf")
	os.WriteFile(conf, []byte(text), 0o644)
	if out, err := exec.Command(bin, "--test", "--conf-file="+conf).CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("dnsmasq --test: %v\n%s", err, out)
	}
}
