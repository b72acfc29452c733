package sim

import (
	"errors"
	"path"
	"strings"

	"phoneboot/internal/phone"
)

// bootUAL is a 7940/7960 boot on a Universal Application Loader load
// (SCCP ≥ 6, SIP ≥ 7, or the bare P003-… loader): CTL, SEP<MAC>.cnf.xml,
// the load it names, then the protocol's own files (§1.2, §1.2.1, §1.2.2).
func (b *booter) bootUAL() (string, error) {
	if err := b.ctl(); err != nil {
		return "", err
	}
	cfg, found, err := b.deviceXML()
	if err != nil {
		return "", err
	}
	if !found && b.proto != "SIP" {
		// §1.2.2: SCCP falls back to XMLDefault.cnf.xml; SIP goes on to
		// its text files (§1.2 hunt order ends with SIPDefault.cnf).
		if cfg, err = b.defaultXML(); err != nil {
			return "", err
		}
	}
	if cfg.protocol != "" && b.id.Protocol == "" {
		b.proto = cfg.protocol // a bare loader runs what the config asks for
	}
	if cfg.load != "" {
		// §1.2.1: the .loads file is read on every boot, even when the
		// load is current; it matters only when the load differs.
		name := cfg.load + ".loads"
		data, found, err := b.get(name)
		if err != nil {
			return "", err
		}
		if cfg.load != b.load {
			if !found {
				return "", stuck("File not found %s", name)
			}
			l, err := parseLoads(name, data)
			if err != nil {
				return "", err
			}
			return b.flashLoads(cfg.load, l)
		}
	}
	if b.proto == "SIP" {
		return b.sipConfigs(true)
	}
	return "", b.appReady()
}

// appReady: a phone still on the bare loader has no protocol application
// to run: the "Protocol Application Invalid" of a half-done upgrade (§1.6).
func (b *booter) appReady() error {
	if b.id.Loader {
		return stuck("Protocol Application Invalid")
	}
	return nil
}

// ctl asks for CTLSEP<MAC>.tlv, the first request of a UAL boot. Not found
// is normal (§1.5); the quirks turn it into the seed page's loops.
func (b *booter) ctl() error {
	name := "CTLSEP" + b.mac + ".tlv"
	quirk := (b.p.CTLLoop || b.p.CTLLoopEmpty) && !b.ctlPassed
	served := false
	for {
		data, found, err := b.get(name)
		if quirk && errors.Is(err, errBound) {
			return stuck("%s loop", name)
		}
		if err != nil {
			return err
		}
		switch {
		case !quirk:
			return nil
		case !found && served:
			// Feb 2005: removing the file after the phone had been
			// fetching it for a while got things moving.
			b.ctlPassed = true
			return nil
		case found && len(data) == 0 && b.p.CTLLoopEmpty:
			served = true
		case found:
			// "Creating this file moved things along."
			b.ctlPassed = true
			return nil
		}
		if err := b.pause(); err != nil {
			return err
		}
	}
}

// deviceXML reads SEP<MAC>.cnf.xml. A file that is there but empty or not
// XML is asked for again and again (seed page: the phone "began looping to
// transfer SEP<mac>.cnf.xml … An empty SEP<mac>.cnf.xml did not help")
// until it parses or goes away. On the bare loader that loop ends in
// "Protocol Application Invalid", as on the seed page.
func (b *booter) deviceXML() (xmlConfig, bool, error) {
	name := "SEP" + b.mac + ".cnf.xml"
	looping := false
	for {
		data, found, err := b.get(name)
		if looping && errors.Is(err, errBound) {
			if b.id.Loader {
				return xmlConfig{}, true, stuck("Protocol Application Invalid")
			}
			return xmlConfig{}, true, stuck("%s loop", name)
		}
		if err != nil || !found {
			return xmlConfig{}, found, err
		}
		if cfg, ok := parseXML(data, b.p.Model); ok {
			return cfg, true, nil
		}
		looping = true
		if err := b.pause(); err != nil {
			return xmlConfig{}, true, err
		}
	}
}

// defaultXML reads XMLDefault.cnf.xml, the fallback of SCCP phones
// without a file of their own (§1.2.2, §1.3). Without it, or with one
// that does not parse, the phone has no CallManager to go to (§1.5):
// "CFG file not found" (§8).
func (b *booter) defaultXML() (xmlConfig, error) {
	data, found, err := b.get("XMLDefault.cnf.xml")
	if err != nil {
		return xmlConfig{}, err
	}
	cfg, ok := parseXML(data, b.p.Model)
	if !found || !ok {
		return cfg, stuck("CFG file not found")
	}
	return cfg, nil
}

// sipConfigs reads the 7940/7960 SIP text configs (§1.2.1, §3): SIPDefault.cnf,
// then the phone's own file, which overrides it; an image_version other
// than the running load is an upgrade (§3.2). UAL loads ask for the own
// file under tftp_cfg_dir, observed as "./SIP<MAC>.cnf"; old loads ask
// for plain SIP<MAC>.cnf (§1.2.3).
func (b *booter) sipConfigs(ual bool) (string, error) {
	kv := map[string]string{}
	data, _, err := b.get("SIPDefault.cnf")
	if err != nil {
		return "", err
	}
	parseSIP(data, kv)
	own := "SIP" + b.mac + ".cnf"
	if ual {
		// Inference: the observed "./" is the tftp_cfg_dir of that
		// SIPDefault.cnf; a config that sets none gets "./" too.
		dir := kv["tftp_cfg_dir"]
		if dir == "" || dir == "." {
			dir = "./"
		}
		if !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		own = dir + own
	}
	data, _, err = b.get(own)
	if err != nil {
		return "", err
	}
	parseSIP(data, kv)
	if image := kv["image_version"]; image != "" && image != b.load {
		if ual {
			return b.upgrade(image)
		}
		return b.installImage(image)
	}
	if err := b.appReady(); err != nil {
		return "", err
	}
	if !ual {
		return "", nil
	}
	// §1.2.1: then the ring list and the dial plan (dial_template).
	if _, _, err := b.get("RINGLIST.DAT"); err != nil {
		return "", err
	}
	dial := kv["dial_template"]
	if dial == "" {
		dial = "dialplan"
	}
	_, _, err = b.get(dial + ".xml")
	return "", err
}

// bootOld is a 7940/7960 boot on a load older than the UAL: OS79XX.TXT
// first, its image when the first four characters differ from the running
// load's (§1.2, §3.3), then the protocol's configs (§1.2.3).
func (b *booter) bootOld() (string, error) {
	data, found, err := b.get("OS79XX.TXT")
	if err != nil {
		return "", err
	}
	if image := osImage(data); found && image != "" && prefix4(image) != prefix4(b.load) {
		return b.installImage(image)
	}
	switch b.proto {
	case "SIP":
		return b.sipConfigs(false)
	case "SCCP":
		// Inference (§1.2.3): an XML-capable old SCCP load reads
		// SEP<MAC>.cnf.xml, then XMLDefault.cnf.xml; pre-XML loads and
		// their legacy .cnf files are not simulated.
		cfg, found, err := b.deviceXML()
		if err != nil {
			return "", err
		}
		if !found {
			if cfg, err = b.defaultXML(); err != nil {
				return "", err
			}
		}
		if cfg.load != "" && cfg.load != b.load {
			return b.installImage(cfg.load)
		}
		return "", nil
	}
	return "", stuck("%q loads on a %s are not simulated", b.proto, b.p.Model.Name)
}

func prefix4(s string) string {
	if len(s) > 4 {
		return s[:4]
	}
	return s
}

// installImage fetches an image an old load was told to run: its .loads
// and the components listed when the server has one, else the single
// image file, .bin then .sbn (§1.2.3: the image "is stored as a .bin
// file"). Nothing found is "TFTP file not found" (§8).
//
// Modelled simply (inference): a .loads of a SIP package lists the P003-…
// loader and the P0S3-… application (.sb2); a phone that got both runs
// the application under the UAL from then on. A loader fetched on its own
// (.bin/.sbn) leaves the phone on the bare UAL, which must find its
// application through SEP<MAC>.cnf.xml or SIPDefault.cnf, the seed page's
// SIP 6.3 → 7.2 story.
func (b *booter) installImage(image string) (string, error) {
	l, found, err := b.fetchLoads(image)
	if err != nil {
		return "", err
	}
	if found {
		next, err := b.flashLoads(image, l)
		if err != nil || next == "" {
			return next, err
		}
		for _, c := range l.Components {
			app := strings.TrimSuffix(c, path.Ext(c))
			if id, ok := phone.ParseLoadID(app); ok && strings.EqualFold(path.Ext(c), ".sb2") &&
				id.Family == phone.FamilyClassic && !id.Loader {
				return app, nil
			}
		}
		return image, nil
	}
	for _, ext := range []string{".bin", ".sbn"} {
		_, found, err := b.get(image + ext)
		if err != nil {
			return "", err
		}
		if found {
			return image, nil
		}
	}
	return "", stuck("File not found %s.bin", image)
}
