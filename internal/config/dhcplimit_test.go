package config

import (
	"strings"
	"testing"
)

func TestDHCPNewLeaseLimit(t *testing.T) {
	c, err := Parse("d.toml", []byte("[dhcp]\nnew_leases_per_minute = 30\nnew_lease_burst = 100\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.DHCP.NewLeasesPerMinute != 30 || c.DHCP.NewLeaseBurst != 100 {
		t.Errorf("dhcp = %+v", c.DHCP)
	}
	_, err = Parse("d.toml", []byte("[dhcp]\nnew_leases_per_minute = 0\nnew_lease_burst = -3\n"))
	for _, want := range []string{"d.toml:2: dhcp.new_leases_per_minute = 0: want 1 to 100000", "d.toml:3: dhcp.new_lease_burst = -3: want 1 to 100000"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
