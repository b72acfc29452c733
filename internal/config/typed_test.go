package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default("x.toml")
	if c.Provision.CTLLoopRequests != 4 || c.Provision.ConfigLoopRequests != 4 || c.Provision.LoopWindow != 2*time.Minute {
		t.Errorf("provision = %+v, want 4/4/2m", c.Provision)
	}
	if c.Track.QuietAfter != 5*time.Minute {
		t.Errorf("track.quiet_after = %v, want 5m", c.Track.QuietAfter)
	}
	if c.Site.Protocol != "SCCP" || c.File != "x.toml" || c.Exists || len(c.Phones) != 0 || c.Site.Loads == nil {
		t.Errorf("default = %+v", c)
	}
	// An empty file is the defaults too.
	e, err := Parse("x.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Exists || e.Provision != c.Provision || e.Track != c.Track || e.Site.Protocol != c.Site.Protocol {
		t.Errorf("empty file = %+v, want the defaults", e)
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "phoneboot.toml")
	c, err := Read(missing, false)
	if err != nil || c.Exists || c.File != missing || c.Provision.CTLLoopRequests != DefaultCTLLoopRequests {
		t.Fatalf("missing, optional: %v %+v", err, c)
	}
	_, err = Read(missing, true)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "config file "+missing+" does not exist" {
		t.Fatalf("missing, named: %v", err)
	}
	os.WriteFile(missing, []byte("[track]\nquiet_after = \"90s\"\n"), 0o600)
	c, err = Read(missing, true)
	if err != nil || !c.Exists || c.Track.QuietAfter != 90*time.Second {
		t.Fatalf("file: %v %+v", err, c)
	}
	os.WriteFile(missing, []byte("[track]\nquiet_after = \"0s\"\n"), 0o600)
	if _, err = Read(missing, true); err == nil || !strings.Contains(err.Error(), "phoneboot.toml:2:") {
		t.Fatalf("quiet_after 0s: %v", err)
	}
}

// TestModelKeysCanonical: site.loads keys are model names in any
// spelling, stored under the canonical one; two naming one model are an
// error naming both lines.
func TestModelKeysCanonical(t *testing.T) {
	c, err := Parse("m.toml", []byte("[site.loads]\nCP-7961G = \"SIP41.9-4-2SR3-1S\"\n\"7960G\" = \"P0S3-8-12-00\"\n7941G-GE = \"SIP41.9-4-2SR3-1S\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"7961": "SIP41.9-4-2SR3-1S", "7960": "P0S3-8-12-00", "7941G-GE": "SIP41.9-4-2SR3-1S"}
	if len(c.Site.Loads) != len(want) {
		t.Fatalf("loads = %+v", c.Site.Loads)
	}
	for name, id := range want {
		l := c.Site.Loads[name]
		if l.ID != id || l.Model.Name != name {
			t.Errorf("loads[%s] = %+v, want %s", name, l, id)
		}
	}
	if c.SiteLoadLine("7961") != 2 || c.SiteLoadLine("CP-7961G") != 2 || c.SiteLoadLine("7960") != 3 || c.SiteLoadLine("7970") != 0 {
		t.Errorf("lines: %d %d %d %d", c.SiteLoadLine("7961"), c.SiteLoadLine("CP-7961G"), c.SiteLoadLine("7960"), c.SiteLoadLine("7970"))
	}

	_, err = Parse("m.toml", []byte("[site.loads]\n7961G = \"A\"\n7960 = \"B\"\nCP-7961G = \"C\"\n"))
	w := `m.toml:4: site.loads: "CP-7961G" and "7961G" (line 2) both name the 7961`
	if err == nil || !strings.HasPrefix(err.Error(), w) {
		t.Fatalf("duplicate model keys: %v, want %q", err, w)
	}

	// [[phone]] and [[dhcp.class]] models are typed; the zero Model when
	// not given.
	c, err = Parse("m.toml", []byte("[[phone]]\nmac = \"00137F38B3DE\"\nmodel = \"CP-7960G\"\n[[phone]]\nmac = \"00137F38B3DF\"\n"+
		"[[dhcp.class]]\nmodel = \"IP Phone 7941G-GE\"\n[[dhcp.class]]\nvendor_class = \"x\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Phones[0].Model.Name != "7960" || c.Phones[0].Model.LineKeys != 6 || !reflect.ValueOf(c.Phones[1].Model).IsZero() {
		t.Errorf("phone models: %+v / %+v", c.Phones[0].Model, c.Phones[1].Model)
	}
	if c.DHCP.Classes[0].Model.Name != "7941G-GE" || !reflect.ValueOf(c.DHCP.Classes[1].Model).IsZero() {
		t.Errorf("class models: %+v", c.DHCP.Classes)
	}
}

func TestParseHost(t *testing.T) {
	good := []struct {
		in   string
		want Host
		str  string
	}{
		{"pbx.example.net", Host{"pbx.example.net", 0}, ""},
		{"pbx.example.net:5061", Host{"pbx.example.net", 5061}, ""},
		{"10.0.0.5", Host{"10.0.0.5", 0}, ""},
		{"10.0.0.5:2000", Host{"10.0.0.5", 2000}, ""},
		{"2001:db8::5", Host{"2001:db8::5", 0}, ""},
		{"[2001:db8::5]", Host{"2001:db8::5", 0}, "2001:db8::5"},
		{"[2001:db8::5]:5060", Host{"2001:db8::5", 5060}, ""},
		{"cucm_1", Host{"cucm_1", 0}, ""},
	}
	for _, g := range good {
		h, err := ParseHost(g.in)
		if err != nil || h != g.want {
			t.Errorf("ParseHost(%q) = %+v, %v; want %+v", g.in, h, err, g.want)
			continue
		}
		str := g.str
		if str == "" {
			str = g.in
		}
		if h.String() != str {
			t.Errorf("%+v.String() = %q, want %q", h, h.String(), str)
		}
	}
	for _, bad := range []string{"", "pbx:", "pbx:0", "pbx:65536", "pbx:sip", "pbx:-1", "pbx:50 60", "pb x", "sip://pbx", "[pbx]:5060",
		"[2001:db8::5]:", "[2001:db8::5", "2001:db8::zz", ".pbx", "pbx..net", ":5060"} {
		if h, err := ParseHost(bad); err == nil {
			t.Errorf("ParseHost(%q) = %+v, want an error", bad, h)
		}
	}
}

func TestHostsInSite(t *testing.T) {
	c, err := Parse("h.toml", []byte("[site]\nsip_proxy = \"pbx.example.net:5070\"\ncall_managers = [\"10.0.0.5\", \"cm2:2001\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Site.SIPProxy != (Host{"pbx.example.net", 5070}) || !reflect.DeepEqual(c.Site.CallManagers, []Host{{"10.0.0.5", 0}, {"cm2", 2001}}) {
		t.Errorf("site = %+v", c.Site)
	}
	if c, _ := Parse("h.toml", nil); !c.Site.SIPProxy.IsZero() || c.Site.CallManagers != nil {
		t.Errorf("no hosts: %+v", c.Site)
	}
	_, err = Parse("h.toml", []byte("[site]\nprotocol = \"SIP\"\nsip_proxy = \"pbx:99999\"\ncall_managers = [\n  \"10.0.0.5:x\",\n]\n"))
	for _, w := range []string{`h.toml:3: site.sip_proxy: host "pbx:99999": port "99999" is not a number from 1 to 65535`,
		`h.toml:4: site.call_managers: host "10.0.0.5:x": port "x"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

func TestDHCPTyped(t *testing.T) {
	c, err := Parse("d.toml", []byte(`[dhcp]
interface = "eth1"
range = "10.0.0.100 - 10.0.0.199"
subnet = "10.0.0.0/24"
router = "10.0.0.1"
dns = ["10.0.0.2", "10.0.0.3"]
ntp = ["10.0.0.4"]
tftp = ["10.0.0.5"]
domain = "phones.example.net"
lease_time = "1h"
[[dhcp.class]]
model = "7961"
router = "10.0.0.9"
tftp = ["10.0.0.6"]
lease_time = "10m"
[[phone]]
mac = "00137F38B3DE"
ip = "10.0.0.20"
[[phone]]
mac = "00137F38B3DF"
`))
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	d := c.DHCP
	if d.Pool != (Pool{a("10.0.0.100"), a("10.0.0.199")}) || d.Pool.String() != "10.0.0.100-10.0.0.199" || d.Subnet != netip.MustParsePrefix("10.0.0.0/24") ||
		d.Router != a("10.0.0.1") || !reflect.DeepEqual(d.DNS, []netip.Addr{a("10.0.0.2"), a("10.0.0.3")}) ||
		!reflect.DeepEqual(d.NTP, []netip.Addr{a("10.0.0.4")}) || !reflect.DeepEqual(d.TFTP, []netip.Addr{a("10.0.0.5")}) ||
		d.LeaseTime != time.Hour || d.Domain != "phones.example.net" || d.Interface != "eth1" {
		t.Errorf("dhcp = %+v", d)
	}
	cl := d.Classes[0]
	if cl.Router != a("10.0.0.9") || !reflect.DeepEqual(cl.TFTP, []netip.Addr{a("10.0.0.6")}) || cl.DNS != nil || cl.LeaseTime != 10*time.Minute {
		t.Errorf("class = %+v", cl)
	}
	if c.Phones[0].IP != a("10.0.0.20") || c.Phones[1].IP.IsValid() {
		t.Errorf("phone ips: %v %v", c.Phones[0].IP, c.Phones[1].IP)
	}
	// Nothing given: zero values, the DHCP server's defaults.
	c, _ = Parse("d.toml", nil)
	if !reflect.ValueOf(c.DHCP).IsZero() {
		t.Errorf("empty dhcp = %+v", c.DHCP)
	}
	_, err = Parse("d.toml", []byte("[dhcp]\ndns = [\"10.0.0.2\", \"::1\"]\nsubnet = \"2001:db8::/64\"\n[[dhcp.class]]\nvendor_class = \"x\"\ndns = [\"nope\"]\n"))
	for _, w := range []string{`d.toml:2: dhcp.dns: "::1" is not an IPv4 address`, `d.toml:3: dhcp.subnet "2001:db8::/64": write it like 10.0.0.0/24`,
		`d.toml:4: dhcp.class: "nope" is not an IPv4 address`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	if p, err := ParsePool("10.0.0.9-10.0.0.9"); err != nil || p.From != p.To || !p.IsValid() {
		t.Errorf("one-address pool: %v %v", p, err)
	}
	if (Pool{}).IsValid() || (Pool{}).String() != "" {
		t.Error("the zero Pool is set")
	}
}

func TestDurationsAndThresholds(t *testing.T) {
	c, err := Parse("p.toml", []byte("[provision]\nctl_loop_requests = 2\nconfig_loop_requests = 7\nloop_window = \"90s\"\n[track]\nquiet_after = \"10m\"\n[[site.dial_plan]]\nmatch = \"9.T\"\ntimeout = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Provision != (Provision{2, 7, 90 * time.Second}) || c.Track.QuietAfter != 10*time.Minute || c.Site.DialPlan[0].Timeout != 3*time.Second {
		t.Errorf("config = %+v", c)
	}
	// 0 was "the default" once; now a value not given is the default and
	// 0 is refused.
	_, err = Parse("p.toml", []byte("[provision]\nctl_loop_requests = 0\nconfig_loop_requests = -1\n"))
	for _, w := range []string{"p.toml:2: provision.ctl_loop_requests: 0: a loop takes 1 or more requests", "p.toml:3: provision.config_loop_requests: -1"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

// TestDidYouMeanKnowsEveryTable: the suggestions come from the decoder's
// own keys, for every table.
func TestDidYouMeanKnowsEveryTable(t *testing.T) {
	tests := map[string]string{
		"[track]\nquiet_afer = \"5m\"\n":                               `x.toml:2: unknown key "track.quiet_afer" (did you mean "quiet_after"?)`,
		"[dhcp]\nrouters = \"10.0.0.1\"\n":                             `x.toml:2: unknown key "dhcp.routers" (did you mean "router"?)`,
		"[[dhcp.class]]\nmodle = \"7960\"\n":                           `x.toml:2: unknown key "dhcp.class.modle" (did you mean "model"?)`,
		"[[phone]]\nmac = \"00137F38B3DE\"\nrunning_lod = \"x\"\n":     `x.toml:3: unknown key "phone.running_lod" (did you mean "running_load"?)`,
		"[[phone]]\nmac = \"00137F38B3DE\"\n[[phone.line]]\nxyz = 1\n": `x.toml:4: unknown key "phone.line.xyz" (known here: extension, name, auth_user, password)`,
		"[trak]\n": `x.toml:1: unknown key "trak" (did you mean "track"?)`,
	}
	for text, want := range tests {
		_, err := Parse("x.toml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// TestTypeErrorsHaveLines: a value of the wrong type is named with its
// file, line and key like any other problem.
func TestTypeErrorsHaveLines(t *testing.T) {
	for text, want := range map[string]string{
		"[provision]\nctl_loop_requests = \"4\"\n": `t.toml:2: provision.ctl_loop_requests: incompatible types: TOML value has type string; destination has type integer`,
		"[site.loads]\n7960 = 5\n":                 `t.toml:2: site.loads.7960: incompatible types`,
		"[provision]\nloop_window = 120\n":         `t.toml:2: duration "120": write it like "90s" or "2m"`,
	} {
		_, err := Parse("t.toml", []byte(text))
		var ce *Error
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
