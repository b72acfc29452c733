package render

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"phoneboot/internal/phone"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

var testMAC = phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}

func model(t testing.TB, name string) phone.Model {
	t.Helper()
	m, ok := phone.ModelByName(name)
	if !ok {
		t.Fatalf("model %s not in catalog", name)
	}
	return m
}

func load(t testing.TB, dir string) *Templates {
	t.Helper()
	tp, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func testSite() Site {
	return Site{
		CallManagers: []Host{{Host: "192.0.2.10"}, {Host: "pbx2.example.net", Port: 2001}},
		SIPProxy:     Host{Host: "192.0.2.20"},
		TimeZone:     "Europe/Vienna",
		NTPServers:   []string{"192.0.2.1", "ntp.example.net"},
		Locale:       "German_Germany",
		DialPlan: []DialRule{
			{Match: "1..", Timeout: 0},
			{Match: "0.", Timeout: 5, Rewrite: "9%0"},
			{Match: "*", Timeout: 5},
		},
		Rings:  []Ring{{"Piano 1", "Piano1.raw"}, {"Chirp", "Chirp1.raw"}},
		Sync:   "2",
		Phones: map[phone.MAC]PhoneSettings{testMAC: {}},
	}
}

func testLines() []Line {
	return []Line{
		{Extension: "100", Name: "Reception", Password: "s3cret"},
		{Extension: "101", Name: "Fax", AuthUser: "fax101", Password: "pw101"},
	}
}

// wellFormed parses b as one XML document: one root element and nothing
// but white space around it.
func wellFormed(b []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(tok)) > 0 {
				return fmt.Errorf("text outside the root element: %q", tok)
			}
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d root elements, want 1", roots)
	}
	return nil
}

func TestGolden(t *testing.T) {
	tp := load(t, "")
	s := testSite()
	dev := "SEP" + testMAC.Hex() + ".cnf.xml"
	sip := "SIP" + testMAC.Hex() + ".cnf"
	p7940 := Phone{MAC: testMAC, Model: model(t, "7940"), Protocol: "SCCP", Label: "Reception", Load: "P0030801SR02", Lines: testLines()}
	p7960 := Phone{MAC: testMAC, Model: model(t, "7960"), Protocol: "SIP", Label: "Reception", Load: "P0S3-8-12-00", Lines: testLines()}
	p7961sip := Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP", Label: "Reception", Load: "SIP41.9-4-2SR3-1S", Lines: testLines()}
	p7961sccp := Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SCCP", Label: "Reception", Load: "SCCP41.9-4-2SR3-1S", Lines: testLines()}
	unknown := Phone{MAC: testMAC, Protocol: "SIP"}
	// A 7961 on SIP with a 7914: lines 7 and 8 are on the module; a 7962
	// on SCCP with two 7915, whose load [site.loads] names.
	kem := testSite()
	kem.Phones = map[phone.MAC]PhoneSettings{testMAC: {KEMs: []phone.Model{model(t, "7914")}}}
	kemLines := slices.Clone(testLines())
	for i := 2; i < 8; i++ {
		kemLines = append(kemLines, Line{Extension: fmt.Sprint(100 + i), Password: fmt.Sprint("pw", i)})
	}
	p7961kem := Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP", Label: "Reception", Load: "SIP41.9-4-2SR3-1S", Lines: kemLines}
	kem2 := testSite()
	kem2.Phones = map[phone.MAC]PhoneSettings{testMAC: {KEMs: []phone.Model{model(t, "7915"), model(t, "7915")}}}
	kem2.KEMLoads = map[string]string{"7915": "B015-1-0-4-2"}
	p7962kem := Phone{MAC: testMAC, Model: model(t, "7962"), Protocol: "SCCP", Load: "SCCP42.9-4-2SR3-1S"}
	loads := map[string]string{"7960": "P0S3-8-12-00", "7940": "P0S3-8-12-00", "7961": "SIP41.9-4-2SR3-1S", "7915": "B015-1-0-4-2"}

	cases := []struct {
		file   string
		render func() ([]byte, error)
	}{
		{"7940-sccp/" + dev, func() ([]byte, error) { return tp.DeviceConfig(s, p7940) }},
		{"7960-sip/" + dev, func() ([]byte, error) { return tp.DeviceConfig(s, p7960) }},
		{"7960-sip/SIPDefault.cnf", func() ([]byte, error) { return tp.SIPDefault(s, "P0S3-8-12-00") }},
		{"7960-sip/" + sip, func() ([]byte, error) { return tp.SIPConfig(s, p7960) }},
		{"7961-sip/" + dev, func() ([]byte, error) { return tp.DeviceConfig(s, p7961sip) }},
		{"7961-sccp/" + dev, func() ([]byte, error) { return tp.DeviceConfig(s, p7961sccp) }},
		{"unknown/" + dev, func() ([]byte, error) { return tp.DeviceConfig(s, unknown) }},
		{"7961-sip-kem/" + dev, func() ([]byte, error) { return tp.DeviceConfig(kem, p7961kem) }},
		{"7962-sccp-kem/" + dev, func() ([]byte, error) { return tp.DeviceConfig(kem2, p7962kem) }},
		{"XMLDefault.cnf.xml", func() ([]byte, error) { return tp.DefaultConfig(s, loads) }},
		{"dialplan.xml", func() ([]byte, error) { return tp.DialPlan(s) }},
		{"RINGLIST.DAT", func() ([]byte, error) { return tp.RingList(s) }},
		{"Ringlist.xml", func() ([]byte, error) { return tp.RingListXML(s) }},
		{"syncinfo.xml", func() ([]byte, error) { return tp.SyncInfo(s, "P0S3-8-12-00") }},
		{"OS79XX.TXT", func() ([]byte, error) { return OS79XX("P003-8-12-00 \r\n"), nil }},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := c.render()
			if err != nil {
				t.Fatal(err)
			}
			if len(bytes.TrimSpace(got)) == 0 {
				t.Fatal("empty output")
			}
			if strings.HasSuffix(c.file, ".xml") {
				if err := wellFormed(got); err != nil {
					t.Fatalf("not well-formed XML: %v\n%s", err, got)
				}
			}
			path := filepath.Join("testdata", "golden", filepath.FromSlash(c.file))
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/render -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// The stub of §2.3 is what a 7960 on SIP 8.12 was observed to accept.
func TestUALStubMatchesObserved(t *testing.T) {
	p := Phone{MAC: testMAC, Model: model(t, "7960"), Protocol: "SIP", Load: "P0S3-8-12-00"}
	got, err := load(t, "").DeviceConfig(testSite(), p)
	if err != nil {
		t.Fatal(err)
	}
	var dev struct {
		XMLName  xml.Name `xml:"device"`
		Protocol string   `xml:"deviceProtocol"`
		Load     struct {
			Model string `xml:"model,attr"`
			ID    string `xml:",chardata"`
		} `xml:"loadInformation"`
		Stamp string `xml:"versionStamp"`
	}
	if err := xml.Unmarshal(got, &dev); err != nil {
		t.Fatal(err)
	}
	if dev.Protocol != "SIP" || dev.Load.Model != "IP Phone 7960" || dev.Load.ID != "P0S3-8-12-00" || dev.Stamp == "" {
		t.Errorf("stub = %+v", dev)
	}
	if bytes.Contains(got, []byte("devicePool")) {
		t.Error("stub has a devicePool; SIP settings belong in the SIP text files")
	}
}

func TestDeviceConfigSecurityAndLoad(t *testing.T) {
	tp := load(t, "")
	for _, p := range []Phone{
		{MAC: testMAC, Model: model(t, "7940"), Protocol: "SCCP"},
		{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP"},
		{MAC: testMAC, Model: model(t, "7961"), Protocol: "SCCP"},
		{MAC: testMAC, Protocol: "SCCP"},
	} {
		got, err := tp.DeviceConfig(testSite(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<deviceSecurityMode>1</deviceSecurityMode>", "<loadInformation></loadInformation>", "<fullConfig>true</fullConfig>"} {
			if !bytes.Contains(got, []byte(want)) {
				t.Errorf("%s %s: no %s in\n%s", p.Model.Name, p.Protocol, want, got)
			}
		}
	}
}

func TestDeviceConfigMembers(t *testing.T) {
	tp := load(t, "")
	s := testSite()
	for i := range 7 {
		s.CallManagers = append(s.CallManagers, Host{Host: fmt.Sprintf("cm%d", i)})
	}
	got, err := tp.DeviceConfig(s, Phone{MAC: testMAC, Model: model(t, "7940"), Protocol: "SCCP"})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(got, []byte("<member ")); n != 5 {
		t.Errorf("%d members, want 5", n)
	}
	if !bytes.Contains(got, []byte(`priority="4"`)) || bytes.Contains(got, []byte(`priority="5"`)) {
		t.Errorf("priorities not 0..4:\n%s", got)
	}

	// No call managers: the SIP proxy is the member.
	s = testSite()
	s.CallManagers = nil
	got, err = tp.DefaultConfig(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("<processNodeName>192.0.2.20</processNodeName>")) {
		t.Errorf("proxy not used as member:\n%s", got)
	}
}

func TestDeviceConfigErrors(t *testing.T) {
	tp := load(t, "")
	long := strings.Repeat("h", 51)
	cases := []struct {
		name string
		site func(*Site)
		p    Phone
		want string
	}{
		{"kem", nil, Phone{MAC: testMAC, Model: model(t, "7914"), Protocol: "SCCP"}, "key expansion module"},
		{"protocol", nil, Phone{MAC: testMAC, Protocol: "MGCP"}, "want SCCP or SIP"},
		{"no sip", nil, Phone{MAC: testMAC, Model: model(t, "7937"), Protocol: "SIP"}, "does not run SIP"},
		{"lines", nil, Phone{MAC: testMAC, Model: model(t, "7940"), Protocol: "SCCP", Lines: make([]Line, 3)}, "2 line buttons"},
		{"empty ext", nil, Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP", Lines: []Line{{Name: "x"}}}, "line 1: empty extension"},
		{"no proxy", func(s *Site) { s.SIPProxy = Host{} }, Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP"}, "needs a SIP proxy"},
		{"node name", func(s *Site) { s.CallManagers = []Host{{Host: long}} }, Phone{MAC: testMAC, Protocol: "SCCP"}, "50 characters"},
		{"dial rule", func(s *Site) { s.DialPlan = []DialRule{{Timeout: 1}} }, Phone{MAC: testMAC, Protocol: "SCCP"}, "empty MATCH"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testSite()
			if c.site != nil {
				c.site(&s)
			}
			_, err := tp.DeviceConfig(s, c.p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "SEP"+testMAC.Hex()+".cnf.xml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestVersionStamp(t *testing.T) {
	tp := load(t, "")
	p := Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP", Load: "SIP41.9-4-2SR3-1S", Lines: testLines()}
	stamp := func(s Site, p Phone) string {
		b, err := tp.DeviceConfig(s, p)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := bytes.Cut(b, []byte("<versionStamp>"))
		v, _, _ := bytes.Cut(rest, []byte("<"))
		return string(v)
	}
	a, b := stamp(testSite(), p), stamp(testSite(), p)
	if a == "" || a != b {
		t.Fatalf("stamps %q, %q: want equal and not empty", a, b)
	}
	p2 := p
	p2.Lines = []Line{{Extension: "100", Password: "changed"}}
	if stamp(testSite(), p2) == a {
		t.Error("stamp did not change with the lines")
	}
	s2 := testSite()
	s2.NTPServers = []string{"192.0.2.99"}
	if stamp(s2, p) == a {
		t.Error("stamp did not change with the site")
	}
}

func TestDefaultConfig(t *testing.T) {
	tp := load(t, "")
	got, err := tp.DefaultConfig(testSite(), map[string]string{"7961": "SIP41.9-4-2SR3-1S", "CP-7960G": "P0S3-8-12-00", "7915": "B015-1-0-4-2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(got); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, line := range strings.Split(string(got), "\n") {
		if _, rest, ok := strings.Cut(line, "<loadInformation"); ok {
			code, _, _ := strings.Cut(rest, " ")
			order = append(order, code)
		}
	}
	if want := []string{"7", "227", "228", "30018"}; !slices.Equal(order, want) {
		t.Errorf("codes %v, want %v", order, want)
	}
	if !bytes.Contains(got, []byte(`<loadInformation7 model="Cisco 7960">P0S3-8-12-00</loadInformation7>`)) {
		t.Errorf("no 7960 line:\n%s", got)
	}
	// §2.2.1: the two known-wrong lines of chan-sccp's sample.
	if bytes.Contains(got, []byte("<loadInformation5 ")) {
		t.Error("loadInformation5 (30 VIP) rendered")
	}
	if _, err := tp.DefaultConfig(testSite(), map[string]string{"7910": "SCCP11.9-4-2SR3-1S"}); err == nil {
		t.Error("7910 with an SCCP11 load accepted")
	}
	if _, err := tp.DefaultConfig(testSite(), map[string]string{"7999": "X"}); err == nil || !strings.Contains(err.Error(), `unknown model "7999"`) {
		t.Errorf("unknown model: err = %v", err)
	}
	if _, err := tp.DefaultConfig(testSite(), map[string]string{"7960": "A", "CP-7960G": "B"}); err == nil {
		t.Error("one model given two loads accepted")
	}
	// Never empty, even with nothing to say.
	got, err = tp.DefaultConfig(Site{}, nil)
	if err != nil || len(bytes.TrimSpace(got)) == 0 || wellFormed(got) != nil {
		t.Errorf("empty site: %q, %v", got, err)
	}
}

// hostile holds values that break naive XML or SIP text.
var hostile = []string{
	`<b>&amp;"quoted"'single'</b>`,
	"]]><!--",
	"Ümlaut Ωμέγα 电话",
	"tab\there",
	"nul\x00ctl\x01\x1f",
	"bad utf8 \xff\xfe",
	"new\nline\r",
}

func TestXMLEscaping(t *testing.T) {
	tp := load(t, "")
	for _, h := range hostile {
		s := testSite()
		s.CallManagers = []Host{{Host: h}}
		s.SIPProxy = Host{Host: h}
		s.SIPTimeZone = h
		s.NTPServers = []string{h}
		s.Locale = h + "_" + h
		s.DialPlan = []DialRule{{Match: h, Rewrite: "%0"}}
		s.Sync = h
		lines := []Line{{Extension: h, Name: h, AuthUser: h, Password: h}}
		var outs [][]byte
		for _, p := range []Phone{
			{MAC: testMAC, Model: model(t, "7960"), Protocol: "SIP", Label: h, Load: h, Lines: lines},
			{MAC: testMAC, Model: model(t, "7940"), Protocol: "SCCP", Label: h, Load: h, Lines: lines},
			{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP", Label: h, Load: h, Lines: lines},
			{MAC: testMAC, Model: model(t, "7961"), Protocol: "SCCP", Label: h, Load: h, Lines: lines},
			{MAC: testMAC, Protocol: "SIP", Label: h, Load: h, Lines: lines},
		} {
			b, err := tp.DeviceConfig(s, p)
			if err != nil {
				t.Fatalf("%q: %v", h, err)
			}
			outs = append(outs, b)
		}
		for _, f := range []func() ([]byte, error){
			func() ([]byte, error) { return tp.DefaultConfig(s, map[string]string{"7960": h}) },
			func() ([]byte, error) { return tp.DialPlan(s) },
			func() ([]byte, error) { return tp.SyncInfo(s, h) },
		} {
			b, err := f()
			if err != nil {
				t.Fatalf("%q: %v", h, err)
			}
			outs = append(outs, b)
		}
		for _, b := range outs {
			if err := wellFormed(b); err != nil {
				t.Errorf("%q: %v\n%s", h, err, b)
			}
		}
	}
}

// Escaping must not change what the phone reads back.
func TestXMLRoundTrip(t *testing.T) {
	label := `R&D <"Lab"> 'Ü'`
	p := Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP", Label: label, Lines: []Line{{Extension: "100", Name: label}}}
	b, err := load(t, "").DeviceConfig(testSite(), p)
	if err != nil {
		t.Fatal(err)
	}
	var dev struct {
		Label string `xml:"sipProfile>phoneLabel"`
		Line  struct {
			Button string `xml:"button,attr"`
			Name   string `xml:"displayName"`
		} `xml:"sipProfile>sipLines>line"`
	}
	if err := xml.Unmarshal(b, &dev); err != nil {
		t.Fatal(err)
	}
	if dev.Label != label || dev.Line.Name != label || dev.Line.Button != "1" {
		t.Errorf("read back %+v, want label %q", dev, label)
	}
}

func TestSIPInjection(t *testing.T) {
	tp := load(t, "")
	p := Phone{MAC: testMAC, Model: model(t, "7960"), Protocol: "SIP", Label: "ok", Lines: testLines()}
	cases := []struct {
		name  string
		edit  func(*Phone)
		field string
	}{
		{"label quote", func(p *Phone) { p.Label = `a"b` }, "phone_label"},
		{"password newline", func(p *Phone) { p.Lines[1].Password = "pw\nproxy1_address: \"evil\"" }, "line2_password"},
		{"name cr", func(p *Phone) { p.Lines[0].Name = "x\ry" }, "line1_shortname"},
		{"ext nul", func(p *Phone) { p.Lines[0].Extension = "1\x000" }, "line1_name"},
		{"auth quote", func(p *Phone) { p.Lines[0].AuthUser = `u"` }, "line1_authname"},
		{"load", func(p *Phone) { p.Load = "P0S3\n" }, "image_version"},
		{"label length", func(p *Phone) { p.Label = "twelve chars" }, "at most 11"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := p
			q.Lines = slices.Clone(p.Lines)
			c.edit(&q)
			_, err := tp.SIPConfig(testSite(), q)
			if err == nil || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("err = %v, want one naming %s", err, c.field)
			}
			if strings.Contains(err.Error(), "proxy1_address") {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
	// Eleven characters are fine, counted as characters, not bytes.
	q := p
	q.Label = "Empfang Ü11"
	if _, err := tp.SIPConfig(testSite(), q); err != nil {
		t.Error(err)
	}

	s := testSite()
	s.SIPProxy.Host = "pbx\n"
	if _, err := tp.SIPDefault(s, ""); err == nil || !strings.Contains(err.Error(), "proxy1_address") {
		t.Errorf("SIPDefault proxy: err = %v", err)
	}
	s = testSite()
	s.NTPServers = []string{`ntp"`}
	if _, err := tp.SIPDefault(s, ""); err == nil || !strings.Contains(err.Error(), "sntp_server") {
		t.Errorf("SIPDefault ntp: err = %v", err)
	}
	if _, err := tp.SIPDefault(testSite(), "P0S3\r"); err == nil || !strings.Contains(err.Error(), "image_version") {
		t.Errorf("SIPDefault image: err = %v", err)
	}
}

func TestSIPConfigWrongPhone(t *testing.T) {
	tp := load(t, "")
	for _, p := range []Phone{
		{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP"},
		{MAC: testMAC, Model: model(t, "7960"), Protocol: "SCCP"},
	} {
		if _, err := tp.SIPConfig(testSite(), p); err == nil {
			t.Errorf("SIPConfig accepted %s %s", p.Model.Name, p.Protocol)
		}
	}
}

func TestSIPDefaultMinimal(t *testing.T) {
	got, err := load(t, "").SIPDefault(Site{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"image_version", "proxy1_address", "sntp_server", "time_zone", "dst_"} {
		if bytes.Contains(got, []byte(absent)) {
			t.Errorf("%s in minimal SIPDefault.cnf:\n%s", absent, got)
		}
	}
	for _, want := range []string{`tftp_cfg_dir: "./"`, `dial_template: "dialplan"`, `sync: "1"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("no %s in:\n%s", want, got)
		}
	}
}

func TestRewriteTokens(t *testing.T) {
	for _, ok := range []string{"", "%0", "9%0", "0043%1%2", "..%%%.", "*67#", "+43%0"} {
		if err := CheckRewrite(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"0%s":   `"%s" is not a dial-template token; use %0 for the whole number dialled`,
		"%6":    `"%6" is not a dial-template token`,
		"9%":    `"%" is not a dial-template token`,
		"sip:1": `"s" is neither a digit`,
	} {
		if err := CheckRewrite(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", bad, err, want)
		}
	}
	_, err := load(t, "").DialPlan(Site{DialPlan: []DialRule{{Match: "0.", Rewrite: "0%s"}}})
	if err == nil || !strings.Contains(err.Error(), "dialplan.xml: dial rule 1: rewrite") {
		t.Errorf("DialPlan with %%s: %v", err)
	}
}

func TestTimeZones(t *testing.T) {
	cases := []struct{ in, cisco, sip, date string }{
		{"Europe/Vienna", "W. Europe Standard/Daylight Time", "CET", "D/M/Y"},
		{"europe/vienna", "W. Europe Standard/Daylight Time", "CET", "D/M/Y"},
		{"W. Europe Standard/Daylight Time", "W. Europe Standard/Daylight Time", "CET", "D/M/Y"},
		{"America/New_York", "Eastern Standard/Daylight Time", "EST", "M/D/YA"},
		{"Asia/Tokyo", "Tokyo Standard Time", "JST", "D/M/Y"},
		{"Europe/Athens", "E. Europe Standard/Daylight Time", "EET", "D/M/Y"},
		{"Australia/Sydney", "AUS Eastern Standard/Daylight Time", "", "D/M/Y"},
		{"", "", "", "M/D/YA"},
	}
	for _, c := range cases {
		tz, err := LookupTimeZone(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if tz.Cisco != c.cisco || tz.SIP != c.sip || tz.DateTemplate != c.date {
			t.Errorf("%s: got %q %q %q, want %q %q %q", c.in, tz.Cisco, tz.SIP, tz.DateTemplate, c.cisco, c.sip, c.date)
		}
	}
	tokyo, _ := LookupTimeZone("Asia/Tokyo")
	vienna, _ := LookupTimeZone("Europe/Vienna")
	if tokyo.DST.Offset != "" || tokyo.HasDST || vienna.DST.Offset == "" || !vienna.HasDST {
		t.Error("DST rules wrong way round")
	}
	// A zone with daylight saving phoneboot does not model gets no rule.
	if il, _ := LookupTimeZone("Jerusalem Standard/Daylight Time"); il.DST.Offset != "" || !il.HasDST {
		t.Errorf("Jerusalem: %+v", il)
	}

	// Unknown names are errors that suggest what the table has.
	for in, want := range map[string][]string{
		"Europe/Vienn":                     {`unknown time zone "Europe/Vienn"`, `did you mean "Europe/Vienna"`},
		"W. Europe Standard Time":          {`"W. Europe Standard/Daylight Time"`},
		"Mars/Olympus_Mons":                {`unknown time zone "Mars/Olympus_Mons"`, "docs/config.md"},
		"Asia/Kathmandu":                   {"UTC+05:45 with no daylight saving", "does not translate it"},
		"Europe/Chisinau":                  {"UTC+02:00 with daylight saving", `"E. Europe Standard/Daylight Time"`},
		"Central European Standard/Daylig": {`"Central Europe Standard/Daylight Time"`},
	} {
		_, err := LookupTimeZone(in)
		if err == nil {
			t.Errorf("%s accepted", in)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", in, err, w)
			}
		}
	}
	// Rendering refuses an unknown zone rather than pass it through.
	if _, err := load(t, "").SIPDefault(Site{TimeZone: "Mars/Olympus"}, ""); err == nil || !strings.Contains(err.Error(), "unknown time zone") {
		t.Errorf("SIPDefault with an unknown zone: %v", err)
	}
	// site.sip_time_zone overrides the SIP value, not the XML name.
	b, err := load(t, "").SIPDefault(Site{TimeZone: "Australia/Sydney", SIPTimeZone: "EAST"}, "")
	if err != nil || !bytes.Contains(b, []byte(`time_zone: "EAST"`)) || !bytes.Contains(b, []byte(`dst_start_month: "Oct"`)) {
		t.Errorf("sip_time_zone: %v\n%s", err, b)
	}
}

func TestRingList(t *testing.T) {
	tp := load(t, "")
	got, err := tp.RingList(testSite())
	if err != nil {
		t.Fatal(err)
	}
	if want := "Piano 1\tPiano1.raw\nChirp\tChirp1.raw\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err = tp.RingList(Site{})
	if err != nil || len(got) != 0 {
		t.Errorf("no rings: %q, %v", got, err)
	}
	for _, r := range []Ring{
		{"a\nb", "x.raw"}, {"a", "x y.raw"}, {"", "x.raw"}, {"a\tb", "x.raw"},
		{strings.Repeat("n", 26), "x.raw"}, {"a", strings.Repeat("f", 22) + ".raw"}, {"a", "x.wav"}, {"a", "sub/x.raw"},
	} {
		if _, err := tp.RingList(Site{Rings: []Ring{r}}); err == nil {
			t.Errorf("ring %q accepted", r)
		}
		if _, err := tp.RingListXML(Site{Rings: []Ring{r}}); err == nil {
			t.Errorf("Ringlist.xml: ring %q accepted", r)
		}
	}
	// 25 characters each are fine, counted as characters.
	if _, err := tp.RingListXML(Site{Rings: []Ring{{strings.Repeat("ü", 25), strings.Repeat("f", 21) + ".raw"}}}); err != nil {
		t.Error(err)
	}
	many := make([]Ring, 51)
	for i := range many {
		many[i] = Ring{fmt.Sprint("R", i), fmt.Sprint("r", i, ".raw")}
	}
	if _, err := tp.RingListXML(Site{Rings: many}); err == nil || !strings.Contains(err.Error(), "at most 50") {
		t.Errorf("51 rings: %v", err)
	}
}

func TestSyncInfo(t *testing.T) {
	tp := load(t, "")
	got, err := tp.SyncInfo(Site{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte(`<IMAGE VERSION="*" SYNC="1"/>`)) {
		t.Errorf("wildcard/default sync missing:\n%s", got)
	}
	if _, err := tp.SyncInfo(Site{Sync: strings.Repeat("9", 33)}, ""); err == nil {
		t.Error("33-character sync accepted")
	}
}

func TestOS79XX(t *testing.T) {
	for in, want := range map[string]string{
		"P003-8-12-00":          "P003-8-12-00",
		"P003-8-12-00 ":         "P003-8-12-00",
		"P00308010200\r\n":      "P00308010200",
		" P00308010200\t \n":    "P00308010200",
		"P00308010200 \r\njunk": "P00308010200",
		"":                      "",
	} {
		got := OS79XX(in)
		if string(got) != want {
			t.Errorf("OS79XX(%q) = %q, want %q", in, got, want)
		}
		if len(got) > 0 && strings.ContainsAny(string(got[len(got)-1:]), " \t\r\n") {
			t.Errorf("OS79XX(%q) ends in white space", in)
		}
	}
}

func TestNames(t *testing.T) {
	n := Names()
	if !slices.IsSorted(n) || len(n) != 8 {
		t.Fatalf("Names() = %v", n)
	}
	for _, name := range n {
		if _, err := embedded.ReadFile("templates/" + name); err != nil {
			t.Error(err)
		}
	}
	n[0] = "changed"
	if Names()[0] == "changed" {
		t.Error("Names returns the package's own slice")
	}
}

func TestOverride(t *testing.T) {
	dir := t.TempDir()
	custom := `<DIALTEMPLATE>{{range .DialRules}}<TEMPLATE MATCH="{{xml .Match}}" Timeout="{{.Timeout}}" User="Phone"/>{{end}}</DIALTEMPLATE>` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "dialplan.xml.tmpl"), []byte(custom), 0o644); err != nil {
		t.Fatal(err)
	}
	tp := load(t, dir)
	if got := tp.Overridden(); !slices.Equal(got, []string{"dialplan.xml.tmpl"}) {
		t.Errorf("Overridden() = %v", got)
	}
	got, err := tp.DialPlan(Site{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<DIALTEMPLATE><TEMPLATE MATCH="*" Timeout="5" User="Phone"/></DIALTEMPLATE>` + "\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// The others are still the defaults.
	if b, err := tp.SyncInfo(Site{}, ""); err != nil || !bytes.Contains(b, []byte("<SYNCINFO>")) {
		t.Errorf("syncinfo: %q, %v", b, err)
	}
	if got := load(t, "").Overridden(); len(got) != 0 {
		t.Errorf("no dir: Overridden() = %v", got)
	}
}

func TestLoadMissingDir(t *testing.T) {
	tp := load(t, filepath.Join(t.TempDir(), "absent"))
	if len(tp.Overridden()) != 0 {
		t.Error("missing dir overrode something")
	}
}

func TestLoadUnknownTemplate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dialplan.tmpl"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "unknown template dialplan.tmpl; known: ") || !strings.Contains(err.Error(), "dialplan.xml.tmpl") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadBrokenTemplate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.xml.tmpl")
	if err := os.WriteFile(path, []byte("<device>\n\n{{if .Load}\n</device>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.HasPrefix(err.Error(), path+":3:") {
		t.Fatalf("err = %v, want it to start with %s:3:", err, path)
	}
}

// A field that does not exist is found at Load, not when a phone asks.
func TestLoadBadField(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sip.cnf.tmpl")
	if err := os.WriteFile(path, []byte("# x\nphone_label: {{sip .Lable}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), path+":2:") || !strings.Contains(err.Error(), "Lable") {
		t.Fatalf("err = %v", err)
	}
}

// A custom SIP template that adds an unchecked value is still protected.
func TestSIPFuncRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sip.cnf.tmpl"), []byte("x: {{sip .Site.Locale}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tp := load(t, dir)
	s := testSite()
	s.Locale = "a\"b"
	_, err := tp.SIPConfig(s, Phone{MAC: testMAC, Model: model(t, "7960"), Protocol: "SIP"})
	if err == nil || !strings.Contains(err.Error(), "double quote") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDeviceConfig(f *testing.F) {
	f.Add("Reception", "Anna", "100", 0)
	f.Add(`<&">`, "]]>", "1\x00", 1)
	f.Add("\xff", "\r\n", "", 2)
	f.Add("Ünïcødé", "電話", "+43 1 234", 3)
	tp, err := Load("")
	if err != nil {
		f.Fatal(err)
	}
	phones := []Phone{
		{MAC: testMAC, Model: model(f, "7960"), Protocol: "SIP", Load: "P0S3-8-12-00"},
		{MAC: testMAC, Model: model(f, "7940"), Protocol: "SCCP"},
		{MAC: testMAC, Model: model(f, "7961"), Protocol: "SIP"},
		{MAC: testMAC, Model: model(f, "7961"), Protocol: "SCCP"},
		{MAC: testMAC, Protocol: "SCCP"},
	}
	f.Fuzz(func(t *testing.T, label, name, ext string, which int) {
		p := phones[(which%len(phones)+len(phones))%len(phones)]
		p.Label = label
		p.Lines = []Line{{Extension: ext, Name: name, AuthUser: name, Password: label}}
		s := testSite()
		s.Locale = name
		b, err := tp.DeviceConfig(s, p)
		if err != nil {
			if b != nil {
				t.Fatalf("error %v with output", err)
			}
			return
		}
		if err := wellFormed(b); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, b)
		}
		if p.Model.Family == phone.FamilyClassic && p.Protocol == "SIP" {
			// The text file is refused, or every line is a comment or
			// one name: "value" pair.
			c, err := tp.SIPConfig(s, p)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(c), "\n") {
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				_, v, ok := strings.Cut(l, ": ")
				if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || strings.Contains(v[1:len(v)-1], `"`) {
					t.Fatalf("line %q is not name: \"value\"\n%s", l, c)
				}
			}
		}
	})
}

func TestEmptyDeviceTemplateRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.xml.tmpl")
	if err := os.WriteFile(path, []byte("{{/* nothing */}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), path+" produced an empty file") {
		t.Fatalf("err = %v", err)
	}
}
