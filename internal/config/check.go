package config

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"phoneboot/internal/phone"
	"phoneboot/internal/render"
)

// build checks the file's values, turns them into c's typed fields (c
// holds the defaults) and reports every problem.
func (c *Config) build(r *rawConfig) Errors {
	var errs Errors
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: c.File, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	c.buildSite(&r.Site, fail)
	c.buildProvision(&r.Provision, fail)
	if d := r.Track.QuietAfter; d != nil {
		c.Track.QuietAfter = time.Duration(*d)
	}
	c.buildDHCP(&r.DHCP, fail)
	c.buildSecurity(&r.Security, fail)
	c.buildNode(&r.Node, fail)
	if u := r.Store.URL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		fail(c.pos.at("store", 0, "url"), "store.url: want a postgres:// URL, or no url for the SQLite file in the data directory")
	} else {
		c.Store.URL = u
	}
	// The protocol as the file says it ("" when it does not): a phone
	// whose model cannot run the default is no mistake in the file.
	siteProto, _ := protocol(r.Site.Protocol)
	c.buildPhones(r.Phones, siteProto, fail)
	return errs
}

type failFunc func(line int, format string, args ...any)

func (c *Config) buildSecurity(r *rawSecurity, fail failFunc) {
	s := &c.Security
	switch r.PhoneFiles {
	case "":
	case PhoneFilesOwn, PhoneFilesAnyone:
		s.PhoneFiles = r.PhoneFiles
	default:
		fail(c.pos.at("security", 0, "phone_files"), "security.phone_files: %q: want %q (a phone's files go only to its own address) or %q", r.PhoneFiles, PhoneFilesOwn, PhoneFilesAnyone)
	}
	if r.FirstSightHold != nil {
		s.FirstSightHold = time.Duration(*r.FirstSightHold)
	}
	if r.FirstSight != nil && !*r.FirstSight {
		if r.FirstSightHold != nil {
			fail(c.pos.at("security", 0, "first_sight_hold"), "security.first_sight_hold: set, but first_sight = false turns first-sight binding off")
		}
		s.FirstSightHold = 0
	}
}

func (c *Config) buildSite(r *rawSite, fail failFunc) {
	pos, s := c.pos, &c.Site
	line := func(key string) int { return pos.at("site", 0, key) }
	if p, err := protocol(r.Protocol); err != nil {
		fail(line("protocol"), "site.protocol: %v", err)
	} else if p != "" {
		s.Protocol = p
	}
	for _, v := range r.CallManagers {
		h, err := ParseHost(v)
		if err != nil {
			fail(line("call_managers"), "site.call_managers: %v", err)
			continue
		}
		s.CallManagers = append(s.CallManagers, h)
	}
	if r.SIPProxy != "" {
		h, err := ParseHost(r.SIPProxy)
		if err != nil {
			fail(line("sip_proxy"), "site.sip_proxy: %v", err)
		}
		s.SIPProxy = h
	}
	s.TimeZone, s.NTPServers, s.Locale, s.Sync, s.TFTPViaDHCP = r.TimeZone, r.NTPServers, r.Locale, r.Sync, r.TFTPViaDHCP
	// Time zones: names of render's table only (timezones.tsv, checked
	// against Cisco's list and the time zone database); a name it does
	// not have is passed to no phone.
	if _, err := render.LookupTimeZone(r.TimeZone); err != nil {
		fail(line("time_zone"), "site.time_zone: %v", err)
	}
	if err := render.CheckSIPValue(r.SIPTimeZone); err != nil {
		fail(line("sip_time_zone"), "site.sip_time_zone %v", err)
	}
	s.SIPTimeZone = r.SIPTimeZone
	s.NetworkLocale, s.LocaleLangCode, s.LocaleVersion = r.NetworkLocale, r.LocaleLangCode, r.LocaleVersion
	switch cs := strings.ToLower(r.LocaleCharset); cs {
	case "", "iso-8859-1", "utf-8":
		s.LocaleCharset = cs
	default:
		fail(line("locale_charset"), "site.locale_charset %q: phones take iso-8859-1 or utf-8 (usecallmanager.nz)", r.LocaleCharset)
	}
	for _, u := range []struct {
		key string
		v   *int
		to  *int
	}{{"locale_uid", r.LocaleUID, &s.LocaleUID}, {"network_locale_uid", r.NetworkLocaleUID, &s.NetworkLocaleUID}} {
		switch {
		case u.v == nil:
		case *u.v < 1:
			fail(line(u.key), "site.%s: %d: a uid is 1 or more", u.key, *u.v)
		default:
			*u.to = *u.v
		}
	}
	// The details describe a locale block: without one they would say
	// nothing, which is most likely a forgotten locale.
	if r.Locale == "" && r.NetworkLocale == "" {
		for key, set := range map[string]bool{
			"locale_lang_code": r.LocaleLangCode != "", "locale_version": r.LocaleVersion != "",
			"locale_charset": r.LocaleCharset != "", "locale_uid": r.LocaleUID != nil, "network_locale_uid": r.NetworkLocaleUID != nil,
		} {
			if set {
				fail(line(key), "site.%s without site.locale: no phone gets a locale block (set locale, e.g. \"English_United_States\")", key)
			}
		}
	}
	if r.SIPTransport != "" {
		if t, err := transport(r.SIPTransport); err != nil {
			fail(line("sip_transport"), "site.sip_transport: %v", err)
		} else {
			s.SIPTransport = t
		}
	}
	if r.MediaPorts != "" {
		if pr, err := ParsePortRange(r.MediaPorts); err != nil {
			fail(line("media_ports"), "site.media_ports: %v", err)
		} else {
			s.MediaPorts = pr
		}
	}
	if r.JavaSIPPasswordMax != nil {
		if *r.JavaSIPPasswordMax < 0 {
			fail(line("java_sip_password_max"), "site.java_sip_password_max: %d: write a length, or 0 for no limit", *r.JavaSIPPasswordMax)
		} else {
			s.JavaSIPPasswordMax = *r.JavaSIPPasswordMax
		}
	}

	// Keys in line order, so that of two naming one model the second is
	// the one reported.
	keys := make([]string, 0, len(r.Loads))
	for k := range r.Loads {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := pos.at("site.loads", 0, keys[i]), pos.at("site.loads", 0, keys[j])
		return li < lj || li == lj && keys[i] < keys[j]
	})
	first := map[string]string{} // model name → key that named it
	for _, k := range keys {
		at := pos.at("site.loads", 0, k)
		m, ok := phone.ModelByName(k)
		if !ok {
			fail(at, "site.loads: unknown model %q (known: %s)", k, knownModels())
			continue
		}
		if prev, dup := first[m.Name]; dup {
			fail(at, "site.loads: %q and %q (line %d) both name the %s; keep one", k, prev, c.loadLine[m.Name], m.Name)
			continue
		}
		first[m.Name] = k
		s.Loads[m.Name] = Load{Model: m, ID: r.Loads[k]}
		c.loadLine[m.Name] = at
	}

	for i, d := range r.DialPlan {
		if d.Match == "" {
			fail(pos.header("site.dial_plan", i), "site.dial_plan: a rule needs match (e.g. match = \"9.T\")")
		}
		if d.Timeout < 0 {
			fail(pos.at("site.dial_plan", i, "timeout"), "site.dial_plan: timeout %d must be 0 or more seconds", d.Timeout)
		}
		if err := render.CheckRewrite(d.Rewrite); err != nil {
			fail(pos.at("site.dial_plan", i, "rewrite"), "site.dial_plan: %v", err)
		}
		s.DialPlan = append(s.DialPlan, DialRule{Match: d.Match, Timeout: time.Duration(d.Timeout) * time.Second, Rewrite: d.Rewrite})
	}
	for i, g := range r.Rings {
		at := pos.header("site.ring", i)
		switch {
		case g.Name == "" || g.File == "":
			fail(at, "site.ring: a ring needs name and file (e.g. name = \"Piano\", file = \"Piano1.raw\")")
		case i == render.MaxRings:
			fail(at, "site.ring: %d rings; phones list at most %d (Ringlist.xml, cisco-79xx.md §1.3)", len(r.Rings), render.MaxRings)
		default:
			if err := render.CheckRing(render.Ring(g)); err != nil {
				fail(pos.at("site.ring", i, ringKey(err)), "site.ring %q: %v", g.Name, err)
			}
		}
		s.Rings = append(s.Rings, Ring(g))
	}
}

func (c *Config) buildProvision(r *rawProvision, fail failFunc) {
	p := &c.Provision
	for _, t := range []struct {
		key string
		v   *int
		to  *int
	}{{"ctl_loop_requests", r.CTLLoopRequests, &p.CTLLoopRequests}, {"config_loop_requests", r.ConfigLoopRequests, &p.ConfigLoopRequests}} {
		switch {
		case t.v == nil:
		case *t.v < 1:
			fail(c.pos.at("provision", 0, t.key), "provision.%s: %d: a loop takes 1 or more requests", t.key, *t.v)
		default:
			*t.to = *t.v
		}
	}
	if r.LoopWindow != nil {
		p.LoopWindow = time.Duration(*r.LoopWindow)
	}
}

// buildDHCP reports [dhcp] values that do not parse; whether they fit
// the interface is checked when the server starts.
func (c *Config) buildDHCP(r *rawDHCP, fail failFunc) {
	d := &c.DHCP
	line := func(key string) int { return c.pos.at("dhcp", 0, key) }
	d.Interface, d.Domain = r.Interface, r.Domain
	if r.Range != "" {
		p, err := ParsePool(r.Range)
		if err != nil {
			fail(line("range"), "dhcp.range: %v", err)
		}
		d.Pool = p
	}
	if r.Subnet != "" {
		p, err := netip.ParsePrefix(r.Subnet)
		if err != nil || !p.Addr().Is4() {
			fail(line("subnet"), "dhcp.subnet %q: write it like 10.0.0.0/24", r.Subnet)
		}
		d.Subnet = p
	}
	addrs := func(key string, list []string) []netip.Addr {
		var out []netip.Addr
		for _, v := range list {
			a, err := netip.ParseAddr(v)
			if err != nil || !a.Is4() {
				fail(line(key), "dhcp.%s: %q is not an IPv4 address", key, v)
				continue
			}
			out = append(out, a)
		}
		return out
	}
	if r.Router != "" {
		if a := addrs("router", []string{r.Router}); len(a) > 0 {
			d.Router = a[0]
		}
	}
	d.DNS, d.NTP, d.TFTP = addrs("dns", r.DNS), addrs("ntp", r.NTP), addrs("tftp", r.TFTP)
	if r.LeaseTime != nil {
		d.LeaseTime = time.Duration(*r.LeaseTime)
	}
	count := func(key string, v *int) int {
		if v == nil {
			return 0
		}
		if *v < 1 || *v > 100000 {
			fail(line(key), "dhcp.%s = %d: want 1 to 100000", key, *v)
		}
		return *v
	}
	d.NewLeasesPerMinute = count("new_leases_per_minute", r.NewLeasesPerMinute)
	d.NewLeaseBurst = count("new_lease_burst", r.NewLeaseBurst)
	for i, rc := range r.Classes {
		at := c.pos.header("dhcp.class", i)
		cl := DHCPClass{VendorClass: rc.VendorClass}
		if (rc.Model == "") == (rc.VendorClass == "") {
			fail(at, "dhcp.class: give either model or vendor_class")
		}
		if rc.Model != "" {
			m, ok := phone.ModelByName(rc.Model)
			if !ok {
				fail(at, "dhcp.class: unknown model %q", rc.Model)
			}
			cl.Model = m
		}
		classAddrs := func(list []string) []netip.Addr {
			var out []netip.Addr
			for _, v := range list {
				a, err := netip.ParseAddr(v)
				if err != nil || !a.Is4() {
					fail(at, "dhcp.class: %q is not an IPv4 address", v)
					continue
				}
				out = append(out, a)
			}
			return out
		}
		if rc.Router != "" {
			if a := classAddrs([]string{rc.Router}); len(a) > 0 {
				cl.Router = a[0]
			}
		}
		cl.DNS, cl.TFTP = classAddrs(rc.DNS), classAddrs(rc.TFTP)
		if rc.LeaseTime != nil {
			cl.LeaseTime = time.Duration(*rc.LeaseTime)
		}
		d.Classes = append(d.Classes, cl)
	}
	if r.Interface != "" && r.Range == "" {
		fail(line("interface"), "dhcp: interface is set but range is not (e.g. range = \"10.0.0.100-10.0.0.199\")")
	}
}

// buildPhones checks the inventory. siteProto is the site protocol as the
// file gives it, "" when it does not.
func (c *Config) buildPhones(raws []rawPhone, siteProto string, fail failFunc) {
	pos := c.pos
	seen := map[phone.MAC]int{}
	ips := map[netip.Addr]int{}
	firstLine := 0 // [[phone.line]] headers are numbered across all phones
	for i := range raws {
		r := &raws[i]
		lineBase := firstLine
		firstLine += len(r.Lines)
		line := pos.header("phone", i)
		if r.MAC == "" {
			fail(line, "phone entry without mac")
			continue
		}
		mac, err := phone.ParseMAC(r.MAC)
		if err != nil {
			fail(pos.at("phone", i, "mac"), "%v", err)
			continue
		}
		if mac == (phone.MAC{}) {
			fail(pos.at("phone", i, "mac"), "MAC address %q is all zeros, no phone's", r.MAC)
			continue
		}
		if first, dup := seen[mac]; dup {
			fail(pos.at("phone", i, "mac"), "phone %s is listed twice (first at line %d)", mac, first)
			continue
		}
		seen[mac] = pos.at("phone", i, "mac")
		p := Phone{MAC: mac, Label: r.Label, Load: r.Load, RunningLoad: r.RunningLoad}
		if p.Protocol, err = protocol(r.Protocol); err != nil {
			fail(pos.at("phone", i, "protocol"), "phone %s: %v", mac, err)
		}
		if r.SIPTransport != "" {
			if p.SIPTransport, err = transport(r.SIPTransport); err != nil {
				fail(pos.at("phone", i, "sip_transport"), "phone %s: sip_transport %v", mac, err)
			}
		}
		proto := p.Protocol
		if proto == "" {
			proto = siteProto
		}
		for j, l := range r.Lines {
			at := pos.header("phone.line", lineBase+j)
			if l.Extension == "" {
				fail(at, "phone %s: line %d has no extension", mac, j+1)
			}
			if proto == "SIP" && l.Password == "" {
				fail(at, "phone %s: SIP line %d (%s) has no password; the proxy will refuse its REGISTER", mac, j+1, l.Extension)
			}
			p.Lines = append(p.Lines, Line(l))
		}
		if r.IP != "" {
			a, err := netip.ParseAddr(r.IP)
			switch {
			case err != nil || !a.Is4():
				fail(pos.at("phone", i, "ip"), "phone %s: ip %q is not an IPv4 address", mac, r.IP)
			case ips[a] != 0:
				fail(pos.at("phone", i, "ip"), "phone %s: ip %s is reserved for another phone too (line %d)", mac, a, ips[a])
			default:
				ips[a] = pos.at("phone", i, "ip")
				p.IP = a
			}
		}
		c.Phones = append(c.Phones, p)
		if r.Model == "" {
			if len(r.KEM) > 0 {
				fail(pos.at("phone", i, "kem"), "phone %s: kem needs the phone's model (which phones take which modules depends on it)", mac)
			}
			continue
		}
		m, ok := phone.ModelByName(r.Model)
		if !ok {
			fail(pos.at("phone", i, "model"), "phone %s: unknown model %q (known: %s)", mac, r.Model, knownModels())
			continue
		}
		c.Phones[len(c.Phones)-1].Model = m
		kems, ok := c.buildKEMs(r, i, m, proto, fail)
		c.Phones[len(c.Phones)-1].KEMs = kems
		buttons, on := m.LineKeys, ""
		for _, k := range kems {
			buttons += k.LineKeys
		}
		if len(kems) > 0 {
			on = fmt.Sprintf(" with %s", kemList(kems))
		}
		if ok && m.LineKeys > 0 && len(r.Lines) > buttons {
			fail(line, "phone %s: a %s%s has %d line buttons, %d lines are configured", mac, m.Name, on, buttons, len(r.Lines))
		}
		if proto != "" && !slices.Contains(m.Protocols, proto) {
			fail(pos.at("phone", i, "protocol"), "phone %s: a %s cannot run %s (it runs %s)", mac, m.Name, proto, strings.Join(m.Protocols, ", "))
		}
		// cisco-79xx.md §3.2: phone_label holds 11 characters on 7940/7960.
		if m.Family == phone.FamilyClassic && proto == "SIP" && len([]rune(r.Label)) > 11 {
			fail(pos.at("phone", i, "label"), "phone %s: label %q is %d characters; a %s on SIP shows at most 11", mac, r.Label, len([]rune(r.Label)), m.Name)
		}
		javaSIP := m.Family == phone.FamilyJava && proto == "SIP"
		if r.SIPTransport != "" && !javaSIP {
			fail(pos.at("phone", i, "sip_transport"), "phone %s: sip_transport is for 79x1 and later phones on SIP; a %s on %s does not take it from phoneboot", mac, m.Name, orWord(proto, "SCCP"))
		}
		// cisco-79xx.md §1.6 [S22]: the Java phones' SIP firmware takes
		// passwords of at most 8 characters; a longer one never registers.
		if limit := c.Site.JavaSIPPasswordMax; javaSIP && limit > 0 {
			for j, l := range r.Lines {
				if n := utf8.RuneCountInString(l.Password); n > limit {
					fail(pos.at("phone.line", lineBase+j, "password"), "phone %s: line %d (%s): password is %d characters; the SIP firmware of a %s takes at most %d, so with a longer one the line never registers (cisco-79xx.md §1.6); shorten it (site.java_sip_password_max sets the limit)", mac, j+1, l.Extension, n, m.Name, limit)
				}
			}
		}
	}
}

// kemHosts are the phones that take key expansion modules, and which
// (Cisco's data sheets of the 7914, 7915 and 7916: the 7914 on the 7960,
// 7961, 7962, 7965, 7970, 7971 and 7975, the 7915 and 7916 on the 7962,
// 7965 and 7975; up to two of one type. Not in docs/cisco-79xx.md:
// inference from the vendor's product pages).
var kemHosts = map[string][]string{
	"7960": {"7914"}, "7961": {"7914"}, "7961G-GE": {"7914"}, "7970": {"7914"}, "7971": {"7914"},
	"7962": {"7914", "7915", "7916"}, "7965": {"7914", "7915", "7916"}, "7975": {"7914", "7915", "7916"},
}

// maxKEMs is how many modules one phone takes (the data sheets: two).
const maxKEMs = 2

// buildKEMs checks a phone's kem list against its model m; ok is false
// when the list is wrong (then the line count is not checked against it).
func (c *Config) buildKEMs(r *rawPhone, i int, m phone.Model, proto string, fail failFunc) ([]phone.Model, bool) {
	if len(r.KEM) == 0 {
		return nil, true
	}
	at := c.pos.at("phone", i, "kem")
	mac := c.Phones[len(c.Phones)-1].MAC
	var kems []phone.Model
	for _, name := range r.KEM {
		k, found := phone.ModelByName(name)
		if !found || k.Family != phone.FamilyKEM {
			fail(at, "phone %s: kem %q is not a key expansion module (7914, 7915 or 7916)", mac, name)
			return nil, false
		}
		kems = append(kems, k)
	}
	takes := kemHosts[m.Name]
	switch {
	case len(takes) == 0:
		fail(at, "phone %s: a %s takes no key expansion module (those that do: 7960, 7961, 7962, 7965, 7970, 7971, 7975)", mac, m.Name)
	case len(kems) > maxKEMs:
		fail(at, "phone %s: %d modules; a %s takes at most %d", mac, len(kems), m.Name, maxKEMs)
	case !slices.Contains(takes, kems[0].Name):
		fail(at, "phone %s: a %s takes the %s, not the %s", mac, m.Name, strings.Join(takes, ", "), kems[0].Name)
	case len(kems) == 2 && kems[1].Name != kems[0].Name:
		fail(at, "phone %s: a phone's modules are all of one type; here %s", mac, kemList(kems))
	case m.Family == phone.FamilyClassic && proto == "SIP":
		// SIP<MAC>.cnf holds lines 1-6 (cisco-79xx.md §3.2): the SIP
		// firmware of the 7960 has nothing for a module's buttons.
		fail(at, "phone %s: a %s on SIP cannot use expansion modules: its SIP configuration has lines 1 to 6 only (cisco-79xx.md §3.2); run it on SCCP or drop kem", mac, m.Name)
	default:
		return kems, true
	}
	return nil, false
}

// kemList names modules as "7914 and 7914".
func kemList(kems []phone.Model) string {
	names := make([]string, len(kems))
	for i, k := range kems {
		names[i] = k.Name
	}
	return strings.Join(names, " and ")
}

// ringKey is the key a ring's problem is about, for its line.
func ringKey(err error) string {
	if strings.Contains(err.Error(), "file") {
		return "file"
	}
	return "name"
}

// transport reads a SIP transport: TCP or UDP, any case.
func transport(s string) (string, error) {
	switch u := strings.ToUpper(strings.TrimSpace(s)); u {
	case "TCP", "UDP":
		return u, nil
	case "TLS":
		return "", fmt.Errorf("%q: phoneboot serves no trust list, so phones cannot use TLS; use TCP or UDP", s)
	}
	return "", fmt.Errorf("%q: use TCP or UDP", s)
}

// ParsePortRange reads "START-STOP", ports from 1 to 65535, START below STOP.
func ParsePortRange(s string) (PortRange, error) {
	a, b, ok := strings.Cut(s, "-")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	switch {
	case !ok || err1 != nil || err2 != nil || x == 0 || y == 0:
		return PortRange{}, fmt.Errorf("%q: write it like \"16384-32766\"", s)
	case x >= y:
		return PortRange{}, fmt.Errorf("%q: the first port must be below the second", s)
	}
	return PortRange{Start: uint16(x), Stop: uint16(y)}, nil
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func protocol(s string) (string, error) {
	switch u := strings.ToUpper(strings.TrimSpace(s)); u {
	case "", "SCCP", "SIP":
		return u, nil
	}
	return "", fmt.Errorf("protocol %q: use SCCP or SIP", s)
}

func knownModels() string {
	names := make([]string, len(phone.Models))
	for i, m := range phone.Models {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}
