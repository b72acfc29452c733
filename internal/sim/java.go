package sim

import (
	"errors"
	"strings"
)

// bootJava is a 79x1/79x2/79x5/797x/7911/7906/7931 boot (§1.3): the trust
// lists (all three "not found" is normal), SEP<MAC>.cnf.xml, and, when its
// <loadInformation> differs from the running load, that load's .loads and
// its components in the order listed (jar, cnu, apps, dsp, cvm), then a
// reboot. HTTP on 6970 is not simulated: this is a TFTP client.
func (b *booter) bootJava() (string, error) {
	for _, name := range []string{"CTLSEP" + b.mac + ".tlv", "ITLSEP" + b.mac + ".tlv", "ITLFile.tlv"} {
		if _, _, err := b.get(name); err != nil {
			return "", err
		}
	}
	sep := "SEP" + b.mac + ".cnf.xml"
	var cfg xmlConfig
	for {
		data, found, err := b.get(sep)
		if err != nil {
			return "", b.unprovisioned(err)
		}
		// Inference: an empty or broken file counts as none (§1.5 leaves
		// it open for these phones).
		var ok bool
		if found {
			cfg, ok = parseXML(data, b.p.Model)
		}
		if ok {
			break
		}
		if b.proto == "SIP" {
			// §1.3: "Unprovisioned", and the phone keeps asking until the
			// file is there.
			b.logf("Unprovisioned")
			if err := b.pause(); err != nil {
				return "", b.unprovisioned(err)
			}
			continue
		}
		// SCCP (and a phone whose protocol is unknown): the default file.
		if cfg, err = b.defaultXML(); err != nil {
			return "", err
		}
		break
	}
	if b.proto == "" {
		b.proto = cfg.protocol
	}
	if cfg.load == "" || cfg.load == b.load {
		return "", nil
	}
	return b.upgrade(cfg.load)
}

// unprovisioned names the SEP<MAC>.cnf.xml poll loop of a SIP phone when
// the bound ends it.
func (b *booter) unprovisioned(err error) error {
	if b.proto == "SIP" && errors.Is(err, errBound) {
		return stuck("Unprovisioned")
	}
	return err
}

// factoryReset is the start of a boot after 123456789*0# (§1.3, §7): the
// phone fetches termNN.default.loads and flashes what it lists. That file
// has the body of the .loads of the package it came from (§4.3) but not
// its name, so until a config names the load, the running load is called
// "termNN.default" and the protocol is read off the component names.
func (b *booter) factoryReset() error {
	term := b.p.Model.TermFile
	if term == "" {
		return stuck("%s has no termNN.default.loads", b.p.Model.Name)
	}
	data, found, err := b.get(term)
	if err != nil {
		return err
	}
	if !found {
		return stuck("File not found %s", term)
	}
	l, err := parseLoads(term, data)
	if err != nil {
		return err
	}
	if err := b.flash(l.Components); err != nil {
		return err
	}
	b.installed = map[string]bool{}
	for _, c := range l.Components {
		b.installed[c] = true
	}
	if err := b.reboot(strings.TrimSuffix(term, ".loads")); err != nil {
		return err
	}
	if p := protocolOf(l.Components); p != "" {
		b.proto = p
	}
	return nil
}
