package recovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/files"
	"phoneboot/internal/fleet"
	"phoneboot/internal/node"
	"phoneboot/internal/phone"
	"phoneboot/internal/provision"
	"phoneboot/internal/store"
)

// checker runs the checks of one guide.
type checker struct {
	o     Options
	ctx   context.Context
	cfg   *config.Config
	off   *node.Offline
	model phone.Model
	mac   phone.MAC // zero: no phone given
}

// entry is the inventory's entry for the phone, with its index; nil when
// no MAC was given or it is not listed.
func (c *checker) entry() (*config.Phone, int) {
	if c.mac == (phone.MAC{}) {
		return nil, -1
	}
	for i := range c.cfg.Phones {
		if c.cfg.Phones[i].MAC == c.mac {
			return &c.cfg.Phones[i], i
		}
	}
	return nil, -1
}

// target is the load the phone is to run and the line of the config
// that says so: its entry's load, else [site.loads] for the model.
func (c *checker) target() (string, int) {
	if e, i := c.entry(); e != nil && e.Load != "" {
		return e.Load, c.cfg.PhoneLine(i, "load")
	}
	return c.cfg.Site.Loads[c.model.Name].ID, c.cfg.SiteLoadLine(c.model.Name)
}

// file is the config file's name, as the checks' texts say it (the
// guide's heading names its path).
func (c *checker) file() string { return filepath.Base(c.cfg.File) }

// dhcp: something gives the phones option 150 pointing at phoneboot:
// phoneboot's own DHCP server, or the site's (site.tftp_via_dhcp).
func (c *checker) dhcp() Check {
	ch := Check{Item: "DHCP option 150", Source: "docs/cisco-79xx.md §5, §7; seed page",
		Why: "after the reset the phone has no TFTP server of its own: it takes the one DHCP names (option 150, else 66); a server set by hand is not used (§7)"}
	d := c.cfg.DHCP
	switch {
	case d.Interface != "": // config requires its range
		tftp := "phoneboot's address on " + d.Interface
		if len(d.TFTP) > 0 {
			tftp = joinAddrs(d.TFTP)
		}
		ch.Status = OK
		ch.Found = fmt.Sprintf("phoneboot is the DHCP server on %s ([dhcp] in %s): it hands out %s with option 150 = %s", d.Interface, c.file(), d.Pool, tftp)
	case c.cfg.Site.TFTPViaDHCP:
		ch.Status = OK
		ch.Found = fmt.Sprintf("site.tftp_via_dhcp = true in %s: your DHCP server gives phones option 150 (or 66) pointing at phoneboot (phoneboot cannot check that server; phoneboot dhcp snippet prints what it needs)", c.file())
	default:
		ch.Status = Missing
		ch.Found = fmt.Sprintf("nothing says the phones' DHCP points them at phoneboot: %s has no [dhcp] interface and range, and no site.tftp_via_dhcp = true (a serve started with --dhcp-iface is not seen here)", c.file())
		ifc, addr := c.iface()
		ch.Do = []string{
			"either let your DHCP server send it: print its configuration (--for isc, kea, dnsmasq, mikrotik or pfsense), add it to that server, then set site.tftp_via_dhcp = true under [site] in " + c.file() + ":",
			"  phoneboot dhcp snippet --for isc --tftp " + addr,
			"or let phoneboot be the DHCP server of the phones' network (or [dhcp] interface and range in " + c.file() + "):",
			"  sudo phoneboot serve --dhcp-iface " + ifc + " --dhcp-range " + c.suggestRange(ifc),
		}
	}
	return ch
}

// iface is the interface and address to suggest in commands: this
// machine's first IPv4 interface, else placeholders.
func (c *checker) iface() (string, string) {
	for _, i := range c.o.interfaces() {
		return i.Name, i.Prefix.Addr().String()
	}
	return "IFACE", "PHONEBOOT-IP"
}

// suggestRange is a DHCP range on the subnet of interface name: .100 to
// .199 of its /24.
func (c *checker) suggestRange(name string) string {
	for _, i := range c.o.interfaces() {
		if i.Name == name && i.Prefix.Bits() <= 24 {
			a := i.Prefix.Addr().As4()
			from := netip.AddrFrom4([4]byte{a[0], a[1], a[2], 100})
			to := netip.AddrFrom4([4]byte{a[0], a[1], a[2], 199})
			return from.String() + "-" + to.String()
		}
	}
	return "10.0.0.100-10.0.0.199"
}

// load: the phone's target load is set and complete, as phoneboot check
// judges it (its problems on the line that sets the target).
func (c *checker) load() Check {
	ch := Check{Item: "target load", Source: "docs/firmware.md; docs/cisco-79xx.md §4.4"}
	id, line := c.target()
	if id == "" {
		ch.Status = Missing
		ch.Found = fmt.Sprintf("no target load for the %s in [site.loads] of %s", c.model.Name, c.file())
		ch.Why = "without one phoneboot names no load in the phone's config and it keeps whatever it runs"
		if c.model.TermFile != "" {
			ch.Why += "; and the reset of a " + c.model.Name + " gets no " + c.model.TermFile + " to load"
		}
		fits := c.fitting()
		if len(fits) == 0 {
			ch.Do = []string{"import the Cisco package of the load you want for the " + c.model.Name + ", then name it under [site.loads] in " + c.file() + ":",
				"  phoneboot firmware import PACKAGE.zip",
				"  " + c.model.Name + " = \"LOAD\""}
			return ch
		}
		ch.Do = []string{fmt.Sprintf("name one under [site.loads] in %s; the catalog has %s for the %s:", c.file(), strings.Join(fits, ", "), c.model.Name),
			"  " + c.model.Name + " = \"" + fits[len(fits)-1] + "\""}
		return ch
	}
	where := fmt.Sprintf("%s (%s line %d)", id, c.file(), line)
	var bad, notes []string
	for _, p := range c.off.Problems {
		if line > 0 && p.File == c.cfg.File && p.Line == line {
			if p.Note {
				notes = append(notes, p.Msg)
			} else {
				bad = append(bad, p.Msg)
			}
		}
	}
	if len(bad) > 0 {
		ch.Status = Missing
		ch.Found = where + ": " + strings.Join(bad, "; ")
		ch.Why = "phoneboot names only a complete load that fits the model, so the phone would stay on what it runs"
		ch.Do = []string{"import the Cisco package of " + id + " (every file of it), then look at the catalog:",
			"  phoneboot firmware import PACKAGE.zip",
			"  phoneboot firmware list"}
		return ch
	}
	ch.Status = OK
	if l, ok := c.off.Catalog.Load(id); ok {
		ch.Found = fmt.Sprintf("%s is complete in the catalog: %d %s, %s", where, len(l.Components), plural(len(l.Components), "component", "components"), size(l.Size()))
	} else {
		ch.Found = where + " is complete in the TFTP root"
	}
	if len(notes) > 0 {
		ch.Found += "; note: " + strings.Join(notes, "; ")
	}
	return ch
}

// fitting lists the catalog's loads that fit the model, sorted.
func (c *checker) fitting() []string {
	var out []string
	for _, l := range c.off.Catalog.Loads() {
		if slices.Contains(l.Models, c.model.Name) {
			out = append(out, l.ID)
		}
	}
	return out
}

// term: phoneboot serves the term file a Java phone's factory reset asks
// for, as provision answers it.
func (c *checker) term() Check {
	name := c.model.TermFile
	ch := Check{Item: "term file", Source: "docs/cisco-79xx.md §1.3, §4.3, §7; seed page (\"7961 default.61 file missing\")",
		Why: "the reset reloads the phone's firmware from " + name + " (termNN.default.loads, NN from the model); without it the reset cannot reload (§1.3)"}
	f, err := c.off.Provisioner.Open(c.ctx, provision.Request{Name: name, Transport: event.TFTP})
	if err == nil {
		defer f.Close()
		ch.Status = OK
		ch.Found = fmt.Sprintf("phoneboot serves %s (%d bytes), %s", name, f.Size(), c.termOrigin(name, f))
		return ch
	}
	ch.Status = Missing
	if fe := (*files.Error)(nil); !errors.As(err, &fe) {
		ch.Found = fmt.Sprintf("phoneboot cannot open %s: %v", name, err)
		return ch
	}
	site := c.cfg.Site.Loads[c.model.Name].ID
	switch _, inCatalog := c.off.Catalog.Load(site); {
	case site == "":
		ch.Found = fmt.Sprintf("phoneboot has no %s to serve: the %s has no target in [site.loads]", name, c.model.Name)
		ch.Do = []string{"give the " + c.model.Name + " a target in [site.loads] (see target load): phoneboot serves the " + name + " that came with that load's package"}
	case !inCatalog:
		ch.Found = fmt.Sprintf("phoneboot has no %s to serve: [site.loads] %s = %s is not in the catalog", name, c.model.Name, site)
		ch.Do = []string{"import the whole Cisco package of " + site + ": phoneboot serves the " + name + " that came with it:",
			"  phoneboot firmware import PACKAGE.zip"}
	default:
		tftp := filepath.Join(c.o.data(), "tftp")
		ch.Found = fmt.Sprintf("phoneboot has no %s to serve: the package imported for %s (or for the first step of its path) had none (phoneboot firmware list shows each load's term files)", name, site)
		ch.Do = []string{"copy the " + name + " of " + site + "'s protocol (never SCCP and SIP mixed, §4.3) into " + tftp + ": phoneboot serves your file:",
			"  cp " + name + " " + tftp + "/",
			"or import the whole Cisco package of " + site + ", whose zip carries its term files; the catalog takes them only with their load: phoneboot firmware rm " + site + " first"}
	}
	if e, _ := c.entry(); e != nil && e.Load != "" && !strings.EqualFold(e.Load, site) {
		ch.Do = append(ch.Do, fmt.Sprintf("the term file follows [site.loads], not the phone's own load = %q: the phone asks for it before phoneboot knows which phone it is", e.Load))
	}
	return ch
}

// termOrigin says where the term file phoneboot serves comes from: the
// admin's file in the TFTP root, or the package of a catalog load.
func (c *checker) termOrigin(name string, f files.File) string {
	root := filepath.Join(c.o.data(), "tftp")
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			if strings.EqualFold(e.Name(), name) {
				return "your file in " + filepath.Join(root, e.Name())
			}
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, f.Size())); err == nil {
		sum := hex.EncodeToString(h.Sum(nil))
		for _, l := range c.off.Catalog.Loads() {
			for _, t := range l.TermFiles {
				if strings.EqualFold(t.Name, name) && t.SHA256 == sum {
					return "the one that came with " + l.ID
				}
			}
		}
	}
	return "from the firmware catalog"
}

// inventory: whether the phone is in phoneboot.toml, and as which model.
func (c *checker) inventory() Check {
	ch := Check{Item: "inventory", Source: "docs/config.md; docs/provisioning.md"}
	e, i := c.entry()
	if e == nil {
		ch.Status = Note
		ch.Found = fmt.Sprintf("%s is not in %s: it will be auto-provisioned, with the site's defaults (%s, no lines): it boots but has no extension to register, and until phoneboot learns its model (from the vendor class its own DHCP server sees) it names no load for it", c.mac, c.file(), c.cfg.Site.Protocol)
		ch.Do = []string{"to give it its model, its target load and its lines, add it (a running serve picks the change up by itself):",
			fmt.Sprintf("  phoneboot phones add %s --model %s --line 201:PASSWORD", c.mac, c.model.Name)}
		return ch
	}
	line := c.cfg.PhoneLine(i, "mac")
	if e.Model.Name != "" && e.Model.Name != c.model.Name {
		ch.Status = Missing
		ch.Found = fmt.Sprintf("%s line %d says %s is a %s, not a %s", c.file(), line, c.mac, e.Model.Name, c.model.Name)
		ch.Why = "the reset sequence, the load and the term file depend on the model"
		ch.Do = []string{"recover it as the model it is, or correct model in " + c.file() + ":",
			fmt.Sprintf("  phoneboot recover %s --mac %s", e.Model.Name, c.mac)}
		return ch
	}
	proto := e.Protocol
	if proto == "" {
		proto = c.cfg.Site.Protocol
	}
	ch.Status = OK
	ch.Found = fmt.Sprintf("%s is in %s (line %d): %s, %s, %d %s", c.mac, c.file(), line, c.model.Name, proto, len(e.Lines), plural(len(e.Lines), "line", "lines"))
	if e.Label != "" {
		ch.Found += fmt.Sprintf(", label %q", e.Label)
	}
	return ch
}

// lastSeen is what the fleet knows of the phone.
func (c *checker) lastSeen() (Check, error) {
	ch := Check{Item: "last seen", Status: Note, Source: "docs/tracking.md"}
	if !store.Exists(c.o.data(), c.cfg.Store.URL) {
		ch.Found = "phoneboot has never seen it (no database yet: phoneboot serve has not run with " + c.o.data() + ")"
		return ch, nil
	}
	fl, err := fleet.Open(c.ctx, c.o.data(), c.cfg)
	if err != nil {
		return ch, err
	}
	defer fl.Close()
	v, err := fl.Phone(c.ctx, c.mac, 1)
	if errors.Is(err, fleet.ErrUnknown) || err == nil && v.LastSeen.IsZero() {
		ch.Found = "phoneboot has never seen it boot"
		return ch, nil
	}
	if err != nil {
		return ch, err
	}
	ch.Found = fmt.Sprintf("%s at %s, on %s: %s", fleet.Ago(c.o.now(), v.LastSeen), dash(v.IP), orUnknown(v.Load), describe(v.Row))
	if len(v.Findings) > 0 && v.State != "stuck" {
		ch.Found += "; " + v.Findings[0].Symptom
	}
	ch.Do = []string{"its timeline: phoneboot phones show " + c.mac.String()}
	return ch, nil
}

// describe is a fleet row's state in words: the detail when it has one
// ("upgrading 1/2 …: 3 of 5 files", "up to date on …").
func describe(r fleet.Row) string {
	switch {
	case r.Detail == "":
		return r.State
	case strings.HasPrefix(r.Detail, r.State):
		return r.Detail
	}
	return r.State + ": " + r.Detail
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// size is n bytes as phoneboot firmware list writes it.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orUnknown(load string) string {
	if load == "" {
		return "an unknown load"
	}
	return load
}
