package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Node names this phoneboot among the nodes of one fleet, several
// phoneboots on one database (docs/fleet.md). Without a name a phoneboot
// is alone: its phoneboot.toml holds everything.
//
// With a name, the fleet's sections ([site], [[phone]], [provision],
// [track], [security]) are the fleet's and live in fleet.toml beside
// phoneboot.toml, which the node keeps in step with the database
// (internal/fleetfile); phoneboot.toml keeps the node's own: [node],
// [dhcp], [store].
type Node struct {
	Name string
	// Networks are the phone networks the node serves; its DHCP ranges
	// must lie in them.
	Networks []netip.Prefix
	// FirmwareURL is where the other nodes fetch the loads this node
	// imported (its phone HTTP server, http://HOST:6970/); "": the node
	// shares none.
	FirmwareURL string
}

// FleetFile is the name of the fleet's shared file, beside phoneboot.toml.
const FleetFile = "fleet.toml"

// fleetSections are the top-level tables of the fleet's file; the
// others (node, dhcp, store) are each node's.
var fleetSections = []string{"site", "phone", "provision", "track", "security"}

var nodeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func (c *Config) buildNode(r *rawNode, fail failFunc) {
	if r.Name != "" && !nodeNameRE.MatchString(r.Name) {
		fail(c.pos.at("node", 0, "name"), "node.name %q: want 1–32 lower-case letters, digits and dashes, e.g. \"building-a\"", r.Name)
	} else {
		c.Node.Name = r.Name
	}
	for _, s := range r.Networks {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			fail(c.pos.at("node", 0, "networks"), "node.networks: %q is not an IPv4 network such as \"10.1.0.0/16\"", s)
			continue
		}
		c.Node.Networks = append(c.Node.Networks, p.Masked())
	}
	if u := r.FirmwareURL; u != "" {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			fail(c.pos.at("node", 0, "firmware_url"), "node.firmware_url %q: want an http:// URL, e.g. \"http://10.1.0.2:6970/\"", u)
		} else {
			c.Node.FirmwareURL = strings.TrimSuffix(u, "/") + "/"
		}
	}
	if len(r.Networks)+len(r.FirmwareURL) > 0 && r.Name == "" {
		fail(c.pos.header("node", 0), "[node] has no name: a node of a fleet needs one (name = \"building-a\")")
	}
}

// Serves reports whether a is in one of the node's networks (every
// address when it names none).
func (n Node) Serves(a netip.Addr) bool {
	if len(n.Networks) == 0 {
		return true
	}
	a = a.Unmap()
	return slices.ContainsFunc(n.Networks, func(p netip.Prefix) bool { return p.Contains(a) })
}

// InventoryFile is the file whose [[phone]] entries are the inventory of
// the config at path: the fleet's file when path names a node, else path
// itself. Edits (AddPhone, SetPhone …) go there.
func InventoryFile(path string) string {
	if name, _ := NodeName(path); name != "" {
		return filepath.Join(filepath.Dir(path), FleetFile)
	}
	return path
}

// NodeName is the [node] name of the config file at path, "" if none,
// read even when the rest of the file or its fleet's file is broken.
func NodeName(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var raw struct {
		Node struct {
			Name string `toml:"name"`
		} `toml:"node"`
	}
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return "", err
	}
	return raw.Node.Name, nil
}

// withFleet is node's config joined with the fleet's file beside it: the
// fleet's sections from there, the node's own from node. Each file may
// hold only its own sections; one in the wrong file is an error at its
// line.
func withFleet(node *Config, nodeTop map[string]int) (*Config, error) {
	var errs Errors
	for _, s := range fleetSections {
		if l, ok := nodeTop[s]; ok {
			errs = append(errs, &Error{File: node.File, Line: l,
				Msg: fmt.Sprintf("[%s] is the fleet's: on node %s it belongs in %s, which every node shares", s, node.Node.Name, FleetFile)})
		}
	}
	path := filepath.Join(filepath.Dir(node.File), FleetFile)
	fleet := Default(path)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		var fe Errors
		if fleet, fe = parseFleet(path, data); fe != nil {
			errs = append(errs, fe...)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	fleet.DHCP, fleet.Store, fleet.Node, fleet.NodeFile = node.DHCP, node.Store, node.Node, node.File
	fleet.Exists = true // the node's file is there; an absent fleet.toml is an empty fleet
	return fleet, nil
}

// CheckFleet reports what is wrong with data as the fleet's file named
// file: nil, or Errors with its lines.
func CheckFleet(file string, data []byte) error {
	if _, errs := parseFleet(file, data); errs != nil {
		return errs
	}
	return nil
}

// parseFleet parses the fleet's file; a node's section in it is an error.
func parseFleet(path string, data []byte) (*Config, Errors) {
	c, top, err := parse(path, data)
	if err != nil {
		var fe Errors
		if !errors.As(err, &fe) {
			fe = Errors{{File: path, Msg: err.Error()}}
		}
		return nil, fe
	}
	var errs Errors
	for s, l := range top {
		if !slices.Contains(fleetSections, s) {
			errs = append(errs, &Error{File: path, Line: l,
				Msg: fmt.Sprintf("[%s] is each node's own: it belongs in the node's phoneboot.toml, not in the fleet's %s", s, FleetFile)})
		}
	}
	if errs != nil {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return c, nil
}
