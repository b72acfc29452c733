package sim

import (
	"errors"
	"strings"
)

// bootUAL is a 7940/7960 boot on a Universal Application Loader load
// (SCCP ≥ 6, SIP ≥ 7, §1.2 inference; the bare P003-… loader is
// bareLoader): CTL, SEP<MAC>.cnf.xml, the load it names, then the
// protocol's own files (§1.2, §1.2.1, §1.2.2).
func (b *booter) bootUAL() (string, error) {
	if err := b.ctl(); err != nil {
		return "", err
	}
	if b.id.kind == ualLoader {
		return b.bareLoader()
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
	if cfg.load != "" {
		// §2.1: an empty <loadInformation> keeps the running load
		// (inference).
		next, flashed, err := b.ualLoad(cfg.load)
		if err != nil || flashed {
			return next, err
		}
	}
	if b.proto == "SIP" {
		return b.sipConfigs(true)
	}
	return "", nil
}

// ualLoad acts on the load an XML config names on a UAL boot. The
// .loads file is read on every boot, even when the load is current
// (§1.2.1, observed twice on a 7960 [S9]); only a different load is
// flashed (§1.1 stage 6), and not one the phone refuses (refusal,
// rules.go), which it does not even fetch. flashed is true when the
// phone flashed and must reboot into next.
func (b *booter) ualLoad(load string) (next string, flashed bool, err error) {
	if load != b.load && b.refuse(load) {
		return "", false, nil
	}
	name := load + ".loads"
	data, found, err := b.get(name)
	if err != nil || load == b.load {
		return "", false, err
	}
	if !found {
		// §8 "File not found": the load named in the config is not on
		// the server; the old load stays.
		return "", false, stuck("File not found %s", name)
	}
	l, err := parseLoads(name, data)
	if err != nil {
		return "", false, err
	}
	next, err = b.flashLoads(load, l)
	return next, next != "", err
}

// bareLoader is a boot on the loader alone: the first half of an upgrade
// through the UAL, "The bootloader, then the application" (§1.6 [S28]).
// It has no protocol application, and SEP<MAC>.cnf.xml is the only file
// it reads after the CTL file; it must name the application:
//
//   - not there: the phone asks for it again and again (seed page: "the
//     phone then began looping to transfer SEP<mac>.cnf.xml"). Harsh
//     reading: the hunt order of §1.2 [S10], which would go on to
//     SIP<MAC>.cnf and the default files, is not followed.
//   - empty or not a config: "Protocol Application Invalid" at once (seed
//     page: "An empty SEP<mac>.cnf.xml did not help matters, and we wound
//     up with the dreaded Protocol Application Invalid"; §1.6).
//   - a config that names no load for this phone (a <device> without
//     <loadInformation>, a <Default> whose loadInformationN of the phone's
//     type code is missing or empty), names the loader itself, or names a
//     load the phone refuses: "Protocol Application Invalid" as well
//     (harsh reading: nothing to install is no better than an empty file).
//   - a load: its .loads and components, then a reboot into it (seed page:
//     the <Default> "XML magic" naming P0S3-07-2-00 in loadInformation7
//     got the 7960 going).
func (b *booter) bareLoader() (string, error) {
	name := "SEP" + b.mac + ".cnf.xml"
	var data []byte
	for {
		got, found, err := b.get(name)
		if errors.Is(err, errBound) {
			return "", stuck("%s loop", name)
		}
		if err != nil {
			return "", err
		}
		if found {
			data = got
			break
		}
		if err := b.pause(); err != nil {
			return "", err
		}
	}
	const invalid = "Protocol Application Invalid"
	cfg, ok := parseXML(data, b.m.typeCode)
	if !ok || cfg.load == "" || cfg.load == b.load {
		return "", stuck(invalid)
	}
	if cfg.protocol != "" {
		b.proto = cfg.protocol // the loader runs what the config asks for
	}
	next, flashed, err := b.ualLoad(cfg.load)
	if err != nil {
		return "", err
	}
	if !flashed {
		return "", stuck(invalid)
	}
	return next, nil
}

// ctl asks for CTLSEP<MAC>.tlv, the first request of a UAL boot (§1.2
// hunt order [S10], §1.2.1 [S9]). Not found is normal (§1.5); the quirks
// turn it into the seed page's loops. A 7940/7960 asks for no ITL file,
// ever: neither the observed log [S9] nor the hunt order [S10] has one
// (Java phones probe ITLSEP<MAC>.tlv and ITLFile.tlv, §1.3, bootJava); a
// server may tell the families apart by it.
func (b *booter) ctl() error {
	name := "CTLSEP" + b.mac + ".tlv"
	quirk := (b.p.CTLLoop || b.p.CTLLoopEmpty || b.p.CTLLoopAgain) && !b.ctlPassed
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

// deviceXML reads SEP<MAC>.cnf.xml on a load with a protocol application.
// A file that is there but empty or not a config is asked for again and
// again (seed page: the phone "began looping to transfer SEP<mac>.cnf.xml
// … An empty SEP<mac>.cnf.xml did not help"; harsh reading, although the
// page adds that "after it loads the firmware the first time, a null file
// will suffice") until it parses or goes away.
func (b *booter) deviceXML() (xmlConfig, bool, error) {
	name := "SEP" + b.mac + ".cnf.xml"
	looping := false
	for {
		data, found, err := b.get(name)
		if looping && errors.Is(err, errBound) {
			return xmlConfig{}, true, stuck("%s loop", name)
		}
		if err != nil || !found {
			return xmlConfig{}, found, err
		}
		if cfg, ok := parseXML(data, b.m.typeCode); ok {
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
	cfg, ok := parseXML(data, b.m.typeCode)
	if !found || !ok {
		return cfg, stuck("CFG file not found")
	}
	return cfg, nil
}

// sipConfigs reads the 7940/7960 SIP text configs (§1.2.1, §3): SIPDefault.cnf,
// then the phone's own file, which overrides it (§3.1 [S21-old]); an
// image_version other than the running load is an upgrade (§3.2), unless
// the phone refuses it; a phone told the image it runs fetches nothing. UAL
// loads ask for the own file under tftp_cfg_dir, observed as
// "./SIP<MAC>.cnf"; old loads ask for plain SIP<MAC>.cnf (§1.2.3).
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
	if image := kv["image_version"]; image != "" && image != b.load && !b.refuse(image) {
		if ual {
			return b.upgrade(image)
		}
		return b.installImage(image)
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
// first (79XX.TXT on SIP 2.x/3.x, loadName.oldRequest), its image only
// when the first four characters differ from the running load's, a
// protocol change (§1.2 [S12], §3.3); then the protocol's configs
// (§1.2.3), where SIP finds the image to run in image_version (§3.2).
func (b *booter) bootOld() (string, error) {
	first := "OS79XX.TXT"
	if b.idOK {
		first = b.id.oldRequest()
	}
	data, found, err := b.get(first)
	if err != nil {
		return "", err
	}
	if image := osImage(data); found && image != "" && prefix4(image) != prefix4(b.load) && !b.refuse(image) {
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
		if cfg.load != "" && cfg.load != b.load && !b.refuse(cfg.load) {
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
// file"; §4.1: .sbn is the signed form). Nothing found is "TFTP file not
// found" (§8).
//
// Modelled simply (inference): a .loads of a SIP package lists the P003-…
// loader and the P0S3-… application (.sb2, §4.2); a phone that got both
// runs the application under the UAL from then on. A loader fetched on
// its own (.bin/.sbn) leaves the phone on the bare UAL, which must find
// its application through SEP<MAC>.cnf.xml, the seed page's SIP 6.3 → 7.2
// story (bareLoader).
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
		for _, c := range l.components {
			stem, ext := splitExt(c)
			if app, ok := readLoad(stem); ok && ext == ".sb2" && app.kind == classicApp {
				return stem, nil
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
