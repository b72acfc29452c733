package sim

import (
	"errors"
	"strings"
)

// bootJava is a 79x1/79x2/79x5/797x/7911/7906/7931 boot (§1.3): the trust
// lists, SEP<MAC>.cnf.xml, and, when its <loadInformation> differs from
// the running load, that load's .loads and its components in the order
// listed (jar, cnu, apps, dsp, cvm), then a reboot (where a skipped 8.5(2)
// bricks it, rules.go). HTTP on 6970 is not simulated: this is a TFTP
// client.
//
// The trust lists are CTLSEP<MAC>.tlv, ITLSEP<MAC>.tlv and ITLFile.tlv, on
// every boot, all three "not found" being normal (§1.3 [S25]). The ITL
// probes are what only Java phones send: a 7940/7960 never asks for an ITL
// file (ctl, classic.go).
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
			cfg, ok = parseXML(data, b.m.typeCode)
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
	if cfg.load == "" || cfg.load == b.load || b.refuse(cfg.load) {
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
// "termNN.default" and the protocol is read off the component names. Its
// version, for the rules, is the one its "# … RELEASE load version"
// comment names, when it has one (§4.3); the step from the load the phone
// ran before counts like any other, so a factory-fresh phone given a
// 9.x term file bricks (§4.4 [S30]: "7970 factory → SIP 9.4: direct ≥
// 8.5(2)SR1 → AUTH FAIL").
func (b *booter) factoryReset() error {
	term := b.m.term
	if term == "" {
		return stuck("%s has no termNN.default.loads", b.m.name)
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
	if err := b.flash(l.components); err != nil {
		return err
	}
	b.installed = map[string]bool{}
	for _, c := range l.components {
		b.installed[c] = true
	}
	id, ok := readLoad(l.release)
	if err := b.rebootAs(strings.TrimSuffix(term, ".loads"), id, ok && id.kind == javaLoad); err != nil {
		return err
	}
	if p := protocolOf(l.components); p != "" {
		b.proto = p
	}
	return nil
}
