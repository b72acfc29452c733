package sim

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"phoneboot/internal/firmware/fwtest"
)

// The behaviours of the harshest plausible phone (issue 11), each against
// the in-test TFTP server of sim_test.go.

// oldSIPRoot is a root for 7960 phone 0 on an old SIP load: SIPDefault.cnf
// names no image, SIP<MAC>.cnf names image (none when ""), and the
// packages of loads (fwtest's, §4.2) are there.
func oldSIPRoot(image string, loads ...string) map[string][]byte {
	f := classicRoot(1)
	delete(f, "OS79XX.TXT")
	f["SIPDefault.cnf"] = []byte(sipDefaultNoImage)
	own := "line1_name: 1001\n"
	if image != "" {
		own = fmt.Sprintf("image_version: %q\n", image) + own
	}
	f["SIP"+mac(0).Hex()+".cnf"] = []byte(own)
	for _, id := range loads {
		maps.Copy(f, fwtest.LoadFiles(id, 900, fwtest.Classic(id)...))
	}
	return f
}

// oldSIP is the boot of phone 0 on an old SIP load that changes nothing:
// the first file (OS79XX.TXT or 79XX.TXT) and the two text configs.
func oldSIP(first, result string) []string {
	return []string{first + " " + result, "SIPDefault.cnf ok", "SIP" + mac(0).Hex() + ".cnf ok"}
}

func TestRefusedUnsignedDowngrade(t *testing.T) {
	// §4.4 [S10]: no downgrade to unsigned loads once on SIP 5.x. The
	// phone does not fetch the image, keeps its load, comes up, no reboot.
	t.Run("old load, image_version", func(t *testing.T) {
		files := oldSIPRoot("P0S3-04-4-00")
		files["P0S3-04-4-00.bin"] = randomBytes(800, 44)
		files["OS79XX.TXT"] = []byte("P0S3-04-4-00\n") // same first four characters: no protocol change
		srv, _, _ := startServer(t, files)
		p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-05-3-00"}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		expect(t, r, "up", "P0S3-05-3-00", 0, oldSIP("OS79XX.TXT", "ok"))
		if len(r.Refused) != 1 || !strings.Contains(r.Refused[0], "refused P0S3-04-4-00: unsigned") {
			t.Errorf("Refused %q", r.Refused)
		}
	})
	t.Run("UAL load, SEP and image_version", func(t *testing.T) {
		files := classicRoot(1)
		maps.Copy(files, fwtest.LoadFiles("P0S3-04-4-00", 900, "P0S3-04-4-00.bin"))
		files["SEP"+mac(0).Hex()+".cnf.xml"] = sipStub("P0S3-04-4-00")
		files["SIPDefault.cnf"] = []byte(sipDefaultNoImage)
		files["SIP"+mac(0).Hex()+".cnf"] = []byte("image_version: P0S3-04-4-00\n")
		srv, _, _ := startServer(t, files)
		p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-8-12-00"}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		want := slices.Delete(ual812(mac(0)), 2, 3) // no P0S3-04-4-00.loads either
		expect(t, r, "up", "P0S3-8-12-00", 0, want)
		if len(r.Refused) != 1 {
			t.Errorf("Refused %q, want one sentence for both configs", r.Refused)
		}
	})
	t.Run("unsigned to unsigned is no refusal", func(t *testing.T) {
		srv, _, _ := startServer(t, oldSIPRoot("P0S3-04-4-00", "P0S3-04-4-00"))
		p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-04-3-00"}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		want := append(oldSIP("OS79XX.TXT", "not found"), "P0S3-04-4-00.loads ok", "P003-04-4-00.sbn ok", "P0S3-04-4-00.sb2 ok")
		want = append(want, oldSIP("OS79XX.TXT", "not found")...)
		expect(t, r, "up", "P0S3-04-4-00", 1, want)
		if len(r.Refused) != 0 {
			t.Errorf("Refused %q", r.Refused)
		}
	})
}

func TestRefusedForeignLoad(t *testing.T) {
	// A load of another family or phone type is refused on its name
	// (§4.1, §4.3; §8 "Load ID incorrect").
	files := javaRoot(1)
	files["SEP"+mac(0).Hex()+".cnf.xml"] = javaSIP("SIP70.9-4-2SR3-1S")
	srv, _, _ := startServer(t, files)
	p := Phone{MAC: mac(0), Model: model(t, "7961"), Load: "SIP41.9-4-2SR3-1S"}
	r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "up", "SIP41.9-4-2SR3-1S", 0, javaBoot(mac(0)))
	if len(r.Refused) != 1 || !strings.Contains(r.Refused[0], "not a load for a 7961") {
		t.Errorf("Refused %q", r.Refused)
	}

	files = classicRoot(1)
	files["SEP"+mac(0).Hex()+".cnf.xml"] = sipStub("SIP41.9-4-2SR3-1S")
	srv, _, _ = startServer(t, files)
	p = Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-8-12-00"}
	r = p.Boot(context.Background(), options(srv, "127.0.0.2"))
	expect(t, r, "up", "P0S3-8-12-00", 0, slices.Delete(ual812(mac(0)), 2, 3))
	if len(r.Refused) != 1 {
		t.Errorf("Refused %q", r.Refused)
	}
}

func TestSkippedStepBricks(t *testing.T) {
	h := mac(0).Hex()
	flash := func(id string) []string {
		var s []string
		for _, c := range fwtest.Classic(id) {
			s = append(s, c+" ok")
		}
		return s
	}
	with := func(f map[string][]byte, k string, v []byte) map[string][]byte { f[k] = v; return f }
	java85 := javaRoot(1)
	maps.Copy(java85, fwtest.LoadFiles("SIP41.8-5-2S", 900, fwtest.Java("SIP41.8-5-2S", "8-5-2TH1-9")...))
	java85["SEP"+h+".cnf.xml"] = javaSIP("SIP41.8-5-2S")

	for _, c := range []struct {
		name     string
		p        Phone
		files    map[string][]byte
		state    string // the state, or its start when it ends in ": "
		load     string
		reboots  int
		requests []string
	}{
		{
			name: "SIP 3.x straight to 5.3", p: Phone{Load: "P0S3-03-1-00"},
			files: oldSIPRoot("P0S3-05-3-00", "P0S3-05-3-00"),
			state: "stuck: bricked: P0S3-03-1-00 to P0S3-05-3-00 skips SIP 4.4", load: "P0S3-05-3-00", reboots: 1,
			requests: append(oldSIP("79XX.TXT", "not found"), append([]string{"P0S3-05-3-00.loads ok"}, flash("P0S3-05-3-00")...)...),
		},
		{
			name: "SIP 4.4 to 5.3 is the chain", p: Phone{Load: "P0S3-04-4-00"},
			files: oldSIPRoot("P0S3-05-3-00", "P0S3-05-3-00"),
			state: "up", load: "P0S3-05-3-00", reboots: 1,
			requests: slices.Concat(oldSIP("OS79XX.TXT", "not found"), []string{"P0S3-05-3-00.loads ok"}, flash("P0S3-05-3-00"), oldSIP("OS79XX.TXT", "not found")),
		},
		{
			name: "SIP 5.3 straight to 7.2", p: Phone{Load: "P0S3-05-3-00"},
			files: oldSIPRoot("P0S3-07-2-00", "P0S3-07-2-00"),
			state: "stuck: bricked: P0S3-05-3-00 to P0S3-07-2-00 skips SIP 6.x", load: "P0S3-07-2-00", reboots: 1,
		},
		{
			name: "SIP 5.0 straight to 6.3 passes over 5.3", p: Phone{Load: "P0S3-05-0-00"},
			files: oldSIPRoot("P0S3-06-3-00", "P0S3-06-3-00"),
			state: "stuck: bricked: P0S3-05-0-00 to P0S3-06-3-00 skips SIP 5.3", load: "P0S3-06-3-00", reboots: 1,
		},
		{
			name: "SIP 6.3 to the 8.12 loader skips 7.x", p: Phone{Load: "P0S3-06-3-00"},
			files: classicRoot(1),
			state: "stuck: bricked: P0S3-06-3-00 to P003-8-12-00 skips SIP 7.x", load: "P003-8-12-00", reboots: 1,
			requests: []string{"OS79XX.TXT ok", "P003-8-12-00.loads not found", "P003-8-12-00.bin ok"},
		},
		{
			name: "SIP 7.2 to 8.12 is direct", p: Phone{Load: "P0S3-07-2-00"},
			files: classicRoot(1), state: "up", load: "P0S3-8-12-00", reboots: 1,
		},
		{
			name: "SIP 8.12 down to 6.3 without 7.x", p: Phone{Load: "P0S3-8-12-00"},
			files: with(oldSIPRoot("", "P0S3-06-3-00"), "SEP"+h+".cnf.xml", sipStub("P0S3-06-3-00")),
			state: "stuck: bricked: P0S3-8-12-00 to P0S3-06-3-00 does not stop at SIP 7.x", load: "P0S3-06-3-00", reboots: 1,
			requests: slices.Concat(ual812(mac(0))[:1], []string{"SEP" + h + ".cnf.xml ok", "P0S3-06-3-00.loads ok"}, flash("P0S3-06-3-00")),
		},
		{
			name: "Java 8.3(2) straight to 9.4(2)SR3", p: Phone{Load: "SIP41.8-3-2S"},
			files: javaRoot(1),
			state: "stuck: bricked: SIP41.8-3-2S to SIP41.9-4-2SR3-1S skips 8.5(2)", load: "SIP41.9-4-2SR3-1S", reboots: 1,
			requests: slices.Concat(javaBoot(mac(0)), []string{"SIP41.9-4-2SR3-1S.loads ok"}, javaFlash()),
		},
		{
			name: "Java 8.3(2) to 8.5(2) is the way", p: Phone{Load: "SIP41.8-3-2S"},
			files: java85, state: "up", load: "SIP41.8-5-2S", reboots: 1,
		},
		{
			name: "Java 8.3(2) factory reset onto a 9.4 term file", p: Phone{Load: "SIP41.8-3-2S", FactoryReset: true},
			files: javaRoot(1),
			state: "stuck: bricked: SIP41.8-3-2S to SIP41.9-4-2SR3-1S skips 8.5(2)", load: "term61.default", reboots: 1,
			requests: append([]string{"term61.default.loads ok"}, javaFlash()...),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, _, _ := startServer(t, c.files)
			p := c.p
			p.MAC, p.Model = mac(0), model(t, "7960")
			if strings.HasPrefix(p.Load, "SIP41") {
				p.Model = model(t, "7961")
			}
			r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
			state := c.state
			if strings.HasPrefix(r.State, c.state) && strings.HasPrefix(c.state, "stuck: bricked: ") {
				state = r.State
			}
			expect(t, r, state, c.load, c.reboots, c.requests)
		})
	}
}

// seedDefault is the seed page's "XML magic", the <Default> document
// that got its 7960 going when served as SEP<MAC>.cnf.xml, with the loads
// of loadInformation7 (7960) and loadInformation8 (7940).
func seedDefault(load7960, load7940 string) []byte {
	return fmt.Appendf(nil, `<Default>
<callManagerGroup>
<members>
<member priority="0">
<callManager>
<ports>
<ethernetPhonePort>2000</ethernetPhonePort>
</ports>
<processNodeName>192.168.0.1</processNodeName>
</callManager>
</member>
</members>
</callManagerGroup>
<loadInformation6 model="IP Phone 7910"></loadInformation6>
<loadInformation124 model="Addon 7914"></loadInformation124>
<loadInformation9 model="IP Phone 7935"></loadInformation9>
<loadInformation8 model="IP Phone 7940">%s</loadInformation8>
<loadInformation7 model="IP Phone 7960">%s</loadInformation7>
<loadInformation20000 model="IP Phone 7905"></loadInformation20000>
<loadInformation30008 model="IP Phone 7902"></loadInformation30008>
<loadInformation30007 model="IP Phone 7912"></loadInformation30007>
</Default>
`, load7940, load7960)
}

func TestDefaultDocument(t *testing.T) {
	// The seed page's SIP 6.3 → 7.2 on the bare loader, with its <Default>
	// document as SEP<MAC>.cnf.xml: each model takes the loadInformationN
	// of its own type code (§2.2.1: 7960 → 7, 7940 → 8).
	h := mac(0).Hex()
	sep := "SEP" + h + ".cnf.xml"
	toLoader := []string{"OS79XX.TXT ok", "P003-07-2-00.loads not found", "P003-07-2-00.bin not found", "P003-07-2-00.sbn ok",
		"CTLSEP" + h + ".tlv not found", sep + " ok"}
	up72 := slices.Concat(toLoader, []string{"P0S3-07-2-00.loads ok", "P003-07-2-00.sbn ok", "P0S3-07-2-00.sb2 ok"}, ual72())
	for _, c := range []struct {
		name, model string
		doc         []byte
		state, load string
		reboots     int
		requests    []string
	}{
		{"7960, the seed page's document", "7960", seedDefault("P0S3-07-2-00", ""), "up", "P0S3-07-2-00", 2, up72},
		{"7940, the seed page's document", "7940", seedDefault("P0S3-07-2-00", ""), "stuck: Protocol Application Invalid", "P003-07-2-00", 1, toLoader},
		{"7940, its own code", "7940", seedDefault("", "P0S3-07-2-00"), "up", "P0S3-07-2-00", 2, up72},
		{"7960, a numbered load in a <device>", "7960",
			[]byte(`<device><deviceProtocol>SIP</deviceProtocol><loadInformation7 model="IP Phone 7960">P0S3-07-2-00</loadInformation7></device>`),
			"stuck: Protocol Application Invalid", "P003-07-2-00", 1, toLoader},
		{"7960, a plain load in a <Default>", "7960",
			[]byte(`<Default><loadInformation model="IP Phone 7960">P0S3-07-2-00</loadInformation></Default>`),
			"stuck: Protocol Application Invalid", "P003-07-2-00", 1, toLoader},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := sip72Root()
			files[sep] = c.doc
			srv, _, _ := startServer(t, files)
			p := Phone{MAC: mac(0), Model: model(t, c.model), Load: "P0S3-06-3-00"}
			r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
			expect(t, r, c.state, c.load, c.reboots, c.requests)
		})
	}

	// On a full load the document is read the same way: a 7960 on 8.12
	// is told 8.12 by loadInformation7 and stays; a 7940 finds no load of
	// its own in it and keeps its load (§2.1: empty keeps the running load).
	files := classicRoot(1)
	files[sep] = seedDefault("P0S3-8-12-00", "")
	srv, _, _ := startServer(t, files)
	for _, m := range []string{"7960", "7940"} {
		p := Phone{MAC: mac(0), Model: model(t, m), Load: "P0S3-8-12-00"}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		want := ual812(mac(0))
		if m == "7940" {
			want = slices.Delete(want, 2, 3)
		}
		expect(t, r, "up", "P0S3-8-12-00", 0, want)
	}
}

func TestOldRequestFile(t *testing.T) {
	// Old loads ask OS79XX.TXT first (§1.2 [S12]); "the really old SIP
	// firmware were requesting 79XX.TXT" (seed page): SIP 2.x/3.x ask
	// 79XX.TXT, and not OS79XX.TXT (inference).
	files := oldSIPRoot("")
	files["OS79XX.TXT"] = []byte("P0S3-06-3-00\n")
	files["79XX.TXT"] = []byte("P0S3-06-3-00\n")
	srv, _, _ := startServer(t, files)
	for _, c := range []struct{ load, first string }{
		{"P0S3-02-3-00", "79XX.TXT"},
		{"P0S3-03-1-00", "79XX.TXT"},
		{"P0S30301", "79XX.TXT"}, // an "8.3" name (§4.1)
		{"P0S3-04-4-00", "OS79XX.TXT"},
		{"P0S3-05-3-00", "OS79XX.TXT"},
		{"P0S3-06-3-00", "OS79XX.TXT"},
	} {
		p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: c.load}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		expect(t, r, "up", c.load, 0, oldSIP(c.first, "ok"))
	}
}

func TestRunningImageNotFetched(t *testing.T) {
	// A phone told the image it runs fetches none of it (§1.1 stage 6:
	// only a load that differs is fetched), so what it does not download
	// tells the server what it runs.
	t.Run("old SIP", func(t *testing.T) {
		files := oldSIPRoot("P0S3-05-3-00", "P0S3-05-3-00")
		files["OS79XX.TXT"] = []byte("P0S3-05-3-00\n")
		srv, _, _ := startServer(t, files)
		p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-05-3-00"}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		expect(t, r, "up", "P0S3-05-3-00", 0, oldSIP("OS79XX.TXT", "ok"))
	})
	t.Run("old SCCP", func(t *testing.T) {
		files := firmwareFiles()
		files["OS79XX.TXT"] = []byte("P00305000200\n")
		files["XMLDefault.cnf.xml"] = []byte(strings.Replace(string(xmlDefault()), "P0030801SR02", "P00305000200", 1))
		files["P00305000200.bin"] = randomBytes(900, 50)
		srv, _, _ := startServer(t, files)
		p := Phone{MAC: mac(0), Model: model(t, "7940"), Load: "P00305000200"}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		expect(t, r, "up", "P00305000200", 0, []string{"OS79XX.TXT ok", "SEP" + mac(0).Hex() + ".cnf.xml not found", "XMLDefault.cnf.xml ok"})
	})
	t.Run("spelt otherwise is another image", func(t *testing.T) {
		// §4.1: "names must match exactly"; the phone compares names, so
		// the same release spelt without its zero is fetched.
		srv, _, _ := startServer(t, oldSIPRoot("P0S3-5-3-00", "P0S3-05-3-00"))
		p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-05-3-00"}
		r := p.Boot(context.Background(), options(srv, "127.0.0.2"))
		expect(t, r, "stuck: File not found P0S3-5-3-00.bin", "P0S3-05-3-00", 0,
			append(oldSIP("OS79XX.TXT", "not found"), "P0S3-5-3-00.loads not found", "P0S3-5-3-00.bin not found", "P0S3-5-3-00.sbn not found"))
	})
}

// ctlRemedy plays phoneboot's CTL loop breaker on dir, from the phone's
// log: an empty CTLSEP<MAC>.tlv after empty times "not found" in a row,
// and, when gone is set, no file again after as many times "ok"; any
// other request resets the count ("with nothing else asked in between").
func ctlRemedy(dir, ctl string, after int, gone bool) func(string) {
	nf, ok := 0, 0
	path := filepath.Join(dir, ctl)
	return func(line string) {
		switch {
		case strings.Contains(line, ctl+": not found"):
			if nf, ok = nf+1, 0; nf == after {
				os.WriteFile(path, nil, 0o644)
				nf = 0
			}
		case strings.Contains(line, ctl+": ok"):
			if ok, nf = ok+1, 0; ok == after && gone {
				os.Remove(path)
				ok = 0
			}
		default:
			nf, ok = 0, 0
			if !gone {
				os.Remove(path) // served while the loop lasts only
			}
		}
	}
}

func TestCTLLoopAgain(t *testing.T) {
	// A 7960 on SIP 7.2 upgrades to 8.12; with CTLLoopAgain the seed
	// page's CTL loop comes back after the upgrade reboot, and the
	// server's remedy has to work a second time.
	h := mac(0).Hex()
	ctl := "CTLSEP" + h + ".tlv"
	upgrade := []string{"SEP" + h + ".cnf.xml ok", "P0S3-8-12-00.loads ok", "P003-8-12-00.sbn ok", "P0S3-8-12-00.sb2 ok"}
	after := ual812(mac(0))[1:]
	boot := func(t *testing.T, p Phone, gone bool) Report {
		t.Helper()
		srv, dir, _ := startServer(t, classicRoot(1))
		o := options(srv, "127.0.0.2")
		o.Log = ctlRemedy(dir, ctl, 3, gone)
		return p.Boot(context.Background(), o)
	}

	// Feb 2005 variation: three "not found", the empty file three times,
	// then gone again: on both boots.
	p := Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-07-2-00", CTLLoopEmpty: true, CTLLoopAgain: true}
	round := []string{ctl + " not found", ctl + " not found", ctl + " not found", ctl + " ok", ctl + " ok", ctl + " ok", ctl + " not found"}
	r := boot(t, p, true)
	expect(t, r, "up", "P0S3-8-12-00", 1, slices.Concat(round, upgrade, round, after))

	// Without CTLLoopAgain the second boot asks once.
	p.CTLLoopAgain = false
	r = boot(t, p, true)
	expect(t, r, "up", "P0S3-8-12-00", 1, slices.Concat(round, upgrade, []string{ctl + " not found"}, after))

	// CTLLoopAgain alone is CTLLoop on every boot: an empty file moves it
	// along, each time.
	p = Phone{MAC: mac(0), Model: model(t, "7960"), Load: "P0S3-07-2-00", CTLLoopAgain: true}
	round = []string{ctl + " not found", ctl + " not found", ctl + " not found", ctl + " ok"}
	r = boot(t, p, false)
	expect(t, r, "up", "P0S3-8-12-00", 1, slices.Concat(round, upgrade, round, after))
}
