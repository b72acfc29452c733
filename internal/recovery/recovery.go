// Package recovery is the seed page's de-bricking story as a guide: the
// factory-reset key sequence of a phone model, what to answer, and what
// phoneboot must have ready first (DHCP option 150 pointing at it, the
// model's target load complete, the term file a Java phone's reset asks
// for, the phone's inventory entry), each checked now against the config,
// the firmware catalog and the store, as a running phoneboot serve sees
// them. Follow then waits for the phone to boot and follows it until it
// is up to date. `phoneboot recover` prints a Guide; the dashboard can
// show the same values.
//
// The checks ask phoneboot itself (node.OpenOffline: the provisioner,
// catalog and problems serve would have, and fleet for the phone's
// state) rather than analysing the config again. The facts cite
// docs/cisco-79xx.md.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/node"
	"phoneboot/internal/phone"
	"phoneboot/internal/track"
)

// About is what `phoneboot recover --help` says the command does.
const About = `Factory-resets (de-bricks) a phone of MODEL (7960, CP-7961G …): prints the
key sequence, what to answer, and what phoneboot must have ready first, each
checked now and marked ok or MISSING with what to do. --watch then waits for
the phone to boot from phoneboot and follows it until it is up to date (exit
0), stuck (the finding and what to do) or --timeout. See docs/recover.md.`

// Options say which phone to recover and where phoneboot's data is.
type Options struct {
	Data       string // data directory; "" is phoneboot-data
	ConfigFile string // "" is Data/phoneboot.toml (which may be missing)
	DB         string // the store's postgres:// URL; "" is the config's [store] url
	Model      string // any spelling phone.ModelByName takes: 7960, CP-7961G …
	// MAC is the phone's MAC in any spelling phone.ParseMAC takes; ""
	// for any phone of Model.
	MAC string

	// Follow's bounds: how long it waits (default 30 minutes), how often
	// it reads the store (default 1s, between 50ms and 10s), and how long
	// a phone may stay stuck on a finding phoneboot is acting on (a loop
	// breaker at work) before Follow gives up (default 2 minutes).
	Timeout, Every, Settle time.Duration

	// Interfaces lists this machine's IPv4 interfaces, for the commands
	// the guide suggests; nil: the real ones (nothing is sent).
	Interfaces func() []Iface
	Now        func() time.Time // nil: time.Now
}

// Iface is a network interface with an IPv4 address.
type Iface struct {
	Name   string
	Prefix netip.Prefix // its address and subnet
}

// Status is how a Check came out.
type Status string

// Statuses.
const (
	OK      Status = "ok"
	Missing Status = "MISSING" // the reset will not bring the phone back until it is fixed
	Note    Status = "note"    // worth knowing, nothing to fix
)

// Check is one thing phoneboot must have ready before the reset.
type Check struct {
	Item   string `json:"item"`   // "DHCP option 150", "target load", …
	Status Status `json:"status"` // OK, Missing or Note
	Found  string `json:"found"`  // what phoneboot has, or lacks
	Why    string `json:"why,omitempty"`
	// Do is what to do, in order: sentences, and commands to paste,
	// which begin with "$ ".
	Do     []string `json:"do,omitempty"`
	Source string   `json:"source,omitempty"` // "docs/cisco-79xx.md §5", "seed page"
}

// Step is one thing to do on the phone.
type Step struct {
	Text   string `json:"text"`
	Source string `json:"source,omitempty"`
}

// Guide is the recovery of one phone model (and, with a MAC, one phone).
type Guide struct {
	Model      phone.Model `json:"-"`
	ModelName  string      `json:"model"`
	MAC        phone.MAC   `json:"mac,omitzero"`
	ConfigFile string      `json:"config_file"`
	// Target is the load phoneboot walks the phone to ("" none).
	Target string `json:"target,omitempty"`
	// Checks are what phoneboot must have ready first; Steps what to do
	// on the phone then, in order.
	Checks []Check `json:"checks"`
	Steps  []Step  `json:"steps"`
}

// Missing lists the checks that are not ready.
func (g *Guide) Missing() []Check {
	var out []Check
	for _, c := range g.Checks {
		if c.Status == Missing {
			out = append(out, c)
		}
	}
	return out
}

// Err is nil when nothing is missing, else says how much is.
func (g *Guide) Err() error {
	if n := len(g.Missing()); n > 0 {
		return fmt.Errorf("recover: not ready: %d %s MISSING", n, plural(n, "thing", "things"))
	}
	return nil
}

// Build makes the guide for o.Model (and o.MAC), checking what phoneboot
// has ready now. A broken config is an error: phoneboot check explains it.
func Build(ctx context.Context, o Options) (*Guide, error) {
	m, mac, err := o.phone()
	if err != nil {
		return nil, err
	}
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	off, err := node.OpenOffline(ctx, o.data(), cfg)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	defer off.Close()
	c := &checker{o: o, ctx: ctx, cfg: cfg, off: off, model: m, mac: mac}
	g := &Guide{Model: m, ModelName: m.Name, MAC: mac, ConfigFile: cfg.File}
	g.Target, _ = c.target()
	g.Checks = append(g.Checks, c.dhcp(), c.load())
	if m.TermFile != "" {
		g.Checks = append(g.Checks, c.term())
	}
	if mac != (phone.MAC{}) {
		g.Checks = append(g.Checks, c.inventory())
		last, err := c.lastSeen()
		if err != nil {
			return nil, fmt.Errorf("recover: %w", err)
		}
		g.Checks = append(g.Checks, last)
	}
	g.Steps = steps(m, g.Target, mac)
	return g, nil
}

// phone is the model and MAC of o.
func (o Options) phone() (phone.Model, phone.MAC, error) {
	if strings.TrimSpace(o.Model) == "" {
		return phone.Model{}, phone.MAC{}, errors.New("recover: which model? e.g. phoneboot recover 7960 (see phoneboot recover --help)")
	}
	m, ok := phone.ModelByName(o.Model)
	if !ok {
		return phone.Model{}, phone.MAC{}, fmt.Errorf("recover: unknown model %q; phoneboot knows the factory reset of %s", o.Model, strings.Join(resettable(), ", "))
	}
	if m.Reset == "" {
		return phone.Model{}, phone.MAC{}, fmt.Errorf("recover: no factory-reset sequence is known for the %s (docs/cisco-79xx.md §7 has none); phoneboot knows the one of %s", m.Name, strings.Join(resettable(), ", "))
	}
	var mac phone.MAC
	if o.MAC != "" {
		var err error
		if mac, err = phone.ParseMAC(o.MAC); err != nil {
			return phone.Model{}, phone.MAC{}, fmt.Errorf("recover: --mac: %v", err)
		}
	}
	return m, mac, nil
}

// resettable lists the models with a known factory-reset sequence.
func resettable() []string {
	var out []string
	for _, m := range phone.Models {
		if m.Reset != "" {
			out = append(out, m.Name)
		}
	}
	return out
}

func (o Options) data() string {
	if o.Data == "" {
		return "phoneboot-data"
	}
	return o.Data
}

// config reads phoneboot.toml as serve reads it.
func (o Options) config() (*config.Config, error) {
	path := config.FileIn(o.data(), o.ConfigFile)
	cfg, err := config.Read(path, o.ConfigFile != "")
	var ces config.Errors
	if errors.As(err, &ces) {
		return nil, fmt.Errorf("recover: %s has %d %s: phoneboot check explains %s", path, len(ces), plural(len(ces), "problem", "problems"), plural(len(ces), "it", "them"))
	}
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	if o.DB != "" {
		cfg.Store.URL = o.DB
	}
	return cfg, nil
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) interfaces() []Iface {
	if o.Interfaces != nil {
		return o.Interfaces()
	}
	return localInterfaces()
}

// localInterfaces are the up, non-loopback interfaces with an IPv4
// address, read from the system (no traffic).
func localInterfaces() []Iface {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []Iface
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if p, err := netip.ParsePrefix(n.String()); err == nil && p.Addr().Is4() {
					out = append(out, Iface{Name: ifc.Name, Prefix: p})
					break
				}
			}
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// SeeAlso is the line `phoneboot phones show` prints under a finding
// whose advice is a factory reset (track's "do" says so): the command
// that guides it, for the phone's model when known. "" for others.
func SeeAlso(f track.Finding, model string, mac phone.MAC) string {
	if !strings.Contains(strings.ToLower(f.Do), "factory-reset") {
		return ""
	}
	if m, ok := phone.ModelByName(model); ok && m.Reset != "" {
		model = m.Name
	} else {
		model = "MODEL"
	}
	return fmt.Sprintf("  see: phoneboot recover %s --mac %s\n", model, mac)
}
