package provision

import (
	"net/netip"
	"sort"
	"strings"

	"phoneboot/internal/phone"
)

// Masked stands for a SIP password in a Preview that does not reveal it.
const Masked = "********"

// Generated is one file phoneboot writes for a phone.
type Generated struct {
	Name string // as phones ask for it: SEP00137F38B3DE.cnf.xml
	Body []byte
}

// Preview is what a phone gets now when it asks for its own files
// (SEP<MAC>.cnf.xml, and SIP<MAC>.cnf for a 7940/7960 on SIP) from
// phoneboot's address local (the zero Addr: the site's call control as
// configured). It changes nothing: no offer is noted, no event written,
// nothing cached. SIP passwords are Masked unless reveal.
func (p *Provisioner) Preview(mac phone.MAC, local netip.Addr, reveal bool) ([]Generated, error) {
	s := p.snap.Load()
	k := p.state(s, mac)
	v, _ := s.view(mac, k)
	if !reveal {
		for i := range v.Lines {
			if v.Lines[i].Password != "" {
				v.Lines[i].Password = Masked
			}
		}
	}
	site := s.siteAt(s.localKey(local))
	out, err := s.phoneFiles(site, v)
	if err != nil {
		return nil, err
	}
	device := v.MAC.DeviceName() + ".cnf.xml"
	if v.Model.Name == "" && k.classic {
		if out[strings.ToLower(device)], _, err = s.defaultDoc(site, k); err != nil {
			return nil, err
		}
	}
	var gen []Generated
	for lower, b := range out {
		name := device
		if !strings.HasSuffix(lower, ".cnf.xml") {
			name = "SIP" + mac.Hex() + ".cnf"
		}
		gen = append(gen, Generated{Name: name, Body: b})
	}
	// SEP<MAC>.cnf.xml first: the phone asks for it first.
	sort.Slice(gen, func(i, j int) bool {
		return strings.HasSuffix(gen[i].Name, ".xml") && !strings.HasSuffix(gen[j].Name, ".xml")
	})
	return gen, nil
}
