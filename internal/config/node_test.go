package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestNodeWithFleet: a named node's config is its own sections plus the
// fleet's file beside it; each file may hold only its own sections.
func TestNodeWithFleet(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"phoneboot.toml": "[node]\nname = \"building-a\"\nnetworks = [\"10.1.0.0/16\"]\nfirmware_url = \"http://10.1.0.2:6970\"\n",
		FleetFile:        "[site]\ncall_managers = [\"10.0.0.5\"]\n\n[[phone]]\nmac = \"00:13:7f:00:00:01\"\nmodel = \"7940\"\n",
	})
	c, err := Read(filepath.Join(dir, "phoneboot.toml"), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Name != "building-a" || c.Node.FirmwareURL != "http://10.1.0.2:6970/" || len(c.Phones) != 1 ||
		c.File != filepath.Join(dir, FleetFile) || c.NodeFile != filepath.Join(dir, "phoneboot.toml") {
		t.Fatalf("got %+v", c)
	}
	if !c.Node.Serves(netip.MustParseAddr("10.1.2.3")) || c.Node.Serves(netip.MustParseAddr("10.2.0.1")) {
		t.Error("Serves")
	}
	if c.PhoneLine(0, "model") != 6 {
		t.Errorf("phone line %d, want 6 of fleet.toml", c.PhoneLine(0, "model"))
	}
	if got := InventoryFile(filepath.Join(dir, "phoneboot.toml")); got != filepath.Join(dir, FleetFile) {
		t.Errorf("InventoryFile %s", got)
	}

	// No fleet.toml yet: an empty fleet.
	dir = writeFiles(t, map[string]string{"phoneboot.toml": "[node]\nname = \"b\"\n"})
	if c, err := Read(filepath.Join(dir, "phoneboot.toml"), true); err != nil || len(c.Phones) != 0 || !c.Exists {
		t.Fatalf("%v %v", c, err)
	}

	// Sections in the wrong file, and a bad [node].
	dir = writeFiles(t, map[string]string{
		"phoneboot.toml": "[node]\nname = \"b\"\n\n[[phone]]\nmac = \"00:13:7f:00:00:01\"\n",
		FleetFile:        "[store]\nurl = \"\"\n",
	})
	_, err = Read(filepath.Join(dir, "phoneboot.toml"), true)
	for _, want := range []string{"phoneboot.toml:4: [phone] is the fleet's: on node b it belongs in fleet.toml",
		"fleet.toml:1: [store] is each node's own"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	for text, want := range map[string]string{
		"[node]\nname = \"B A\"\n":                 "phoneboot.toml:2: node.name \"B A\": want",
		"[node]\nnetworks = [\"10.0.0.0/8\"]\n":    "phoneboot.toml:1: [node] has no name",
		"[node]\nname = \"a\"\nnetworks = [\"x\"]": "phoneboot.toml:3: node.networks: \"x\" is not",
	} {
		dir := writeFiles(t, map[string]string{"phoneboot.toml": text})
		if _, err := Read(filepath.Join(dir, "phoneboot.toml"), true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// TestNodeDHCPRangeInNetworks: a named node's DHCP range lies inside its
// networks, or the config says where it does not.
func TestNodeDHCPRangeInNetworks(t *testing.T) {
	dir := writeFiles(t, map[string]string{"phoneboot.toml": "[node]\nname = \"building-a\"\nnetworks = [\"10.1.0.0/16\"]\n\n" +
		"[dhcp]\ninterface = \"eth1\"\nrange = \"10.2.0.100-10.2.0.199\"\n"})
	_, err := Read(filepath.Join(dir, "phoneboot.toml"), true)
	want := "phoneboot.toml:7: dhcp.range 10.2.0.100-10.2.0.199 is outside node building-a's networks (10.1.0.0/16)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v, want %q", err, want)
	}
	dir = writeFiles(t, map[string]string{"phoneboot.toml": "[node]\nname = \"building-a\"\nnetworks = [\"10.1.0.0/16\"]\n\n" +
		"[dhcp]\ninterface = \"eth1\"\nrange = \"10.1.0.100-10.1.0.199\"\n"})
	if _, err := Read(filepath.Join(dir, "phoneboot.toml"), true); err != nil {
		t.Fatal(err)
	}
}
