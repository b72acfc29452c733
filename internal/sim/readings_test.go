package sim

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
)

func TestReadLoad(t *testing.T) {
	for _, c := range []struct {
		name        string
		kind        kind
		proto, pfx  string
		v           string
		ual, signed bool
		first       string
	}{
		// §4.1 examples.
		{"P0S3-8-12-00", classicApp, "SIP", "", "8.12(0)", true, true, "OS79XX.TXT"},
		{"P0S3-08-11-00", classicApp, "SIP", "", "8.11(0)", true, true, "OS79XX.TXT"},
		{"P0S3-07-4-00", classicApp, "SIP", "", "7.4(0)", true, true, "OS79XX.TXT"},
		{"P0S3-06-3-00", classicApp, "SIP", "", "6.3(0)", false, true, "OS79XX.TXT"},
		{"P0S3-05-2-00", classicApp, "SIP", "", "5.2(0)", false, true, "OS79XX.TXT"},
		{"P0S3-04-4-00", classicApp, "SIP", "", "4.4(0)", false, false, "OS79XX.TXT"},
		{"P0S3-03-1-00", classicApp, "SIP", "", "3.1(0)", false, false, "79XX.TXT"},
		{"P0S30203", classicApp, "SIP", "", "2.3(0)", false, false, "79XX.TXT"},
		{"P003-8-12-00", ualLoader, "", "", "8.12(0)", true, true, "OS79XX.TXT"},
		{"P003-08-11-00", ualLoader, "", "", "8.11(0)", true, true, "OS79XX.TXT"},
		{"P00308010200", classicApp, "SCCP", "", "8.1(2)", true, false, "OS79XX.TXT"},
		{"P0030801SR02", classicApp, "SCCP", "", "8.1(2)SR2", true, false, "OS79XX.TXT"},
		{"P00306000100", classicApp, "SCCP", "", "6.0(1)", true, false, "OS79XX.TXT"},
		{"P00305000200", classicApp, "SCCP", "", "5.0(2)", false, false, "OS79XX.TXT"},
		{"P00303030300", classicApp, "SCCP", "", "3.3(3)", false, false, "OS79XX.TXT"},
		{"P0M3-07-4-00", classicApp, "MGCP", "", "7.4(0)", false, false, "OS79XX.TXT"},
		{"SIP41.9-4-2SR3-1S", javaLoad, "SIP", "41", "9.4(2)SR3", false, false, "OS79XX.TXT"},
		{"SCCP41.8-0-4ES4-0-1S", javaLoad, "SCCP", "41", "8.0(4)ES4", false, false, "OS79XX.TXT"},
		{"SCCP70.8-3-3SR2S", javaLoad, "SCCP", "70", "8.3(3)SR2", false, false, "OS79XX.TXT"},
		{"SIP70.8-0-3S", javaLoad, "SIP", "70", "8.0(3)", false, false, "OS79XX.TXT"},
		{"TERM41.7-0-3-0S", javaLoad, "", "41", "7.0(3)", false, false, "OS79XX.TXT"},
		{"sip41.8-5-2s", javaLoad, "SIP", "41", "8.5(2)", false, false, "OS79XX.TXT"},
	} {
		l, ok := readLoad(c.name)
		if !ok || l.kind != c.kind || l.proto != c.proto || l.prefix != c.pfx || l.v.String() != c.v ||
			l.ual() != c.ual || l.signed() != c.signed || l.oldRequest() != c.first || l.name != c.name {
			t.Errorf("%s: %+v %v, ual %v, signed %v, first %s", c.name, l, ok, l.ual(), l.signed(), l.oldRequest())
		}
	}
	for _, s := range []string{"", "P0S3-8-12", "P0X3-08-1-00", "P003-8-12-00-1", "P0S3-8-123-00", "SIP41", "SIP41.9-4",
		"SIPxx.9-4-2S", "FOO41.9-4-2S", "term61.default", "CP7912080000SIP060111A", "cmterm_7936.3-3-21-0", "SIP41.9-4-2SRS",
		strings.Repeat("P", 70)} {
		if l, ok := readLoad(s); ok {
			t.Errorf("%q read as %+v", s, l)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	// Ascending, as the rules of §4.4 need them.
	order := []string{"SIP41.8-3-2S", "SIP41.8-3-3S", "SCCP41.8-3-3SR2S", "SIP41.8-5-1S", "SIP41.8-5-2S", "SIP41.8-5-2-1S",
		"SIP41.8-5-2SR1S", "SIP41.8-5-3S", "SIP41.9-0-1S", "SIP41.9-4-2SR3-1S", "SIP41.9-4-2SR4-3S"}
	for i := 1; i < len(order); i++ {
		a, _ := readLoad(order[i-1])
		b, _ := readLoad(order[i])
		if b.v.less(a.v) {
			t.Errorf("%s before %s", order[i], order[i-1])
		}
	}
	a, _ := readLoad("SIP41.8-5-2S")
	b, _ := readLoad("SIP41.8-5-2-1S")
	if a.v.compare(b.v) != 0 {
		t.Errorf("build numbers count: %v %v", a.v, b.v)
	}
	c, _ := readLoad("P0S3-8-12-00")
	d, _ := readLoad("P0S3-08-11-00")
	if !d.v.less(c.v) {
		t.Errorf("SIP 8.11 is not before 8.12")
	}
}

func TestReadLoads(t *testing.T) {
	classic := fwtest.Classic("P0S3-8-12-00")
	java := fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")
	for _, c := range []struct {
		name       string
		data       []byte
		components []string
		release    string
	}{
		{"fwtest classic", fwtest.LoadsFile("P0S3-8-12-00", classic...), classic, ""},
		{"fwtest java", fwtest.LoadsFile("SIP41.9-4-2SR3-1S", java...), java, "SIP41.9-4-2SR3-1S"},
		{"fwtest term", fwtest.TermFile("61", "SIP41.9-4-2SR3-1S", java...), java, "SIP41.9-4-2SR3-1S"},
		{"sim_test header", loadsFile("P0030801SR02.loads", 2, sccpSR2Text), []string{"P0030801SR02.sbn", "P0030801SR02.sb2"}, ""},
		{"§4.3 comment", loadsFile("SIP41.9-4-2SR3-1S.loads", 3, sip942Text), java942, "SIP41.9-4-2SR3-1S"},
		{"glued to the header, CRLF, upper case, twice", []byte("\x01\x9cB016-1-0-4-2.SBN\r\nP0030801SR02.sb2\r\nB016-1-0-4-2.SBN\r\nLA_VERSION=X\r\n"),
			[]string{"B016-1-0-4-2.SBN", "P0030801SR02.sb2"}, ""},
	} {
		b, err := readLoads(c.data)
		if err != nil || !slices.Equal(b.components, c.components) || b.release != c.release {
			t.Errorf("%s: %+v, %v", c.name, b, err)
		}
	}
	for _, data := range []string{"", "\x00\x01P0S3-8-12-00.loads\x00\nLA_VERSION=PAS3ARM1\n", "hello world\n# comment\n"} {
		if b, err := readLoads([]byte(data)); err == nil {
			t.Errorf("%q read as %+v", data, b)
		}
	}
}

func TestRules(t *testing.T) {
	m7960, _ := modelOf(phone.Model{Name: "7960"})
	m7961, _ := modelOf(phone.Model{Name: "7961"})
	for _, c := range []struct {
		m        simModel
		from, to string
		refused  string // part of the refusal, "" for none
		bricked  string // part of the brick, "" for none
	}{
		{m7960, "P0S3-05-3-00", "P0S3-04-4-00", "unsigned", ""},
		{m7960, "P0S3-8-12-00", "P0S3-04-4-00", "unsigned", ""},
		{m7960, "P003-07-2-00", "P0S30301", "unsigned", ""},
		{m7960, "P0S3-04-4-00", "P0S3-03-1-00", "", ""},
		{m7960, "P0S3-02-3-00", "P0S3-04-4-00", "", ""},
		{m7960, "P0S3-03-1-00", "P0S3-05-0-00", "", "skips SIP 4.4"},
		{m7960, "P0S3-04-2-00", "P0S3-05-3-00", "", "skips SIP 4.4"},
		{m7960, "P0S3-04-4-00", "P0S3-05-3-00", "", ""},
		{m7960, "P0S3-04-4-00", "P0S3-06-3-00", "", "skips SIP 5.3"},
		{m7960, "P0S3-05-3-00", "P0S3-06-3-00", "", ""},
		{m7960, "P0S3-05-3-00", "P003-07-2-00", "", "skips SIP 6.x"},
		{m7960, "P0S3-06-3-00", "P003-07-2-00", "", ""},
		{m7960, "P003-07-2-00", "P0S3-07-2-00", "", ""},
		{m7960, "P0S3-06-3-00", "P0S3-8-12-00", "", "skips SIP 7.x"},
		{m7960, "P0S3-07-2-00", "P0S3-8-12-00", "", ""},
		{m7960, "P0S3-8-12-00", "P0S3-07-2-00", "", ""},
		{m7960, "P0S3-07-2-00", "P0S3-06-3-00", "", ""},
		{m7960, "P0S3-8-12-00", "P0S3-06-3-00", "", "does not stop at SIP 7.x"},
		{m7960, "P00305000200", "P0030801SR02", "", ""},
		{m7960, "P0S3-8-12-00", "P0030801SR02", "", ""},
		{m7960, "P0S3-8-12-00", "SIP41.9-4-2SR3-1S", "not a load for a 7960", ""},
		{m7961, "SIP41.8-3-2S", "SIP41.9-4-2SR3-1S", "", "skips 8.5(2)"},
		{m7961, "SCCP41.8-3-2S", "SIP41.8-5-2SR1S", "", "skips 8.5(2)"},
		{m7961, "SIP41.8-3-2S", "SIP41.8-5-2S", "", ""},
		{m7961, "SIP41.8-3-3S", "SIP41.9-4-2SR3-1S", "", ""},
		{m7961, "SIP41.8-5-2S", "SIP41.9-4-2SR3-1S", "", ""},
		{m7961, "SIP41.8-3-2S", "TERM61.9-4-2-1S", "", "skips 8.5(2)"},
		{m7961, "SIP41.8-3-2S", "SIP70.8-5-2S", "not a load for a 7961", ""},
		{m7961, "SIP41.8-3-2S", "P0S3-8-12-00", "not a load for a 7961", ""},
	} {
		from, ok1 := readLoad(c.from)
		to, ok2 := readLoad(c.to)
		r, b := refusal(c.m, from, ok1, to), brick(c.m.family, from, to)
		if r != "" {
			b = "" // a refused load is never flashed
		}
		if !ok1 || !ok2 || (c.refused == "") != (r == "") || !strings.Contains(r, c.refused) ||
			(c.bricked == "") != (b == "") || !strings.Contains(b, c.bricked) {
			t.Errorf("%s %s → %s: refused %q, bricked %q; want %q, %q", c.m.name, c.from, c.to, r, b, c.refused, c.bricked)
		}
	}
}

func TestParseXML(t *testing.T) {
	for _, c := range []struct {
		doc         string
		code        int
		ok          bool
		proto, load string
	}{
		{string(sipStub("P0S3-8-12-00")), 7, true, "SIP", "P0S3-8-12-00"},
		{string(javaSIP("SIP41.9-4-2SR3-1S")), 30018, true, "SIP", "SIP41.9-4-2SR3-1S"},
		{string(xmlDefault()), 7, true, "", "P0S3-8-12-00"},
		{string(xmlDefault()), 8, true, "", "P0030801SR02"},
		{string(xmlDefault()), 30018, true, "", "SIP41.9-4-2SR3-1S"},
		{string(xmlDefault()), 115, true, "", ""},
		{string(seedDefault("P0S3-07-2-00", "")), 7, true, "", "P0S3-07-2-00"},
		{string(seedDefault("P0S3-07-2-00", "")), 8, true, "", ""},
		{"<device><loadInformation7>P0S3-8-12-00</loadInformation7></device>", 7, true, "", ""},
		{"<Default><loadInformation>P0S3-8-12-00</loadInformation></Default>", 7, true, "", ""},
		{"<device><loadInformation>A</loadInformation><loadInformation>B</loadInformation></device>", 7, true, "", "B"},
		{"", 7, false, "", ""},
		{"   \n", 7, false, "", ""},
		{"<device><loadInformation>P0S3-8-12-00</loadInformation>", 7, false, "", ""},
		{"<config><loadInformation>P0S3-8-12-00</loadInformation></config>", 7, false, "", ""},
	} {
		cfg, ok := parseXML([]byte(c.doc), c.code)
		if ok != c.ok || (ok && (cfg.protocol != c.proto || cfg.load != c.load)) {
			t.Errorf("%.60q code %d: %+v %v", c.doc, c.code, cfg, ok)
		}
	}
}

func TestModelTable(t *testing.T) {
	// The simulator's table is its own reading of cisco-79xx.md; here it
	// is held against the server's catalog (internal/phone), so that a
	// disagreement is seen: one of the two is wrong, and the test says
	// which facts differ. The simulator never reads the catalog.
	for _, sm := range models {
		m, ok := phone.ModelByName(sm.name)
		if !ok {
			t.Errorf("%s: not in the catalog", sm.name)
			continue
		}
		if m.Name != sm.name || !slices.Contains(m.TypeCodes, sm.typeCode) || m.LoadPrefix != sm.prefix || m.TermFile != sm.term ||
			(m.Family == phone.FamilyJava) != (sm.family == java) || (m.Family == phone.FamilyClassic) != (sm.family == classic) {
			t.Errorf("%s: sim %+v, catalog %s codes %v prefix %q term %q", sm.name, sm, m.Family, m.TypeCodes, m.LoadPrefix, m.TermFile)
		}
	}
	if _, ok := modelOf(phone.Model{Name: "7912"}); ok {
		t.Errorf("7912 is simulated")
	}
	m, _ := phone.ModelByName("7961G-GE")
	if TypicalLoad(m) != "SCCP41.8-3-2S" || TypicalLoad(phone.Model{Name: "7960"}) != "P0S3-8-12-00" {
		t.Errorf("TypicalLoad %s", TypicalLoad(m))
	}
}

// TestIndependence keeps internal/sim off the server's code for the facts
// it tests: no internal/firmware, and of internal/phone only phone.MAC
// (an identity) and phone.Model (the input naming the model, of which
// only Name is read).
func TestIndependence(t *testing.T) {
	allowed := map[string]bool{
		"phoneboot/internal/phone": true, "phoneboot/internal/tftp": true, "phoneboot/internal/tftp/tftptest": true,
	}
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "phoneboot/") && !allowed[path] {
				t.Errorf("%s imports %s", p, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "phone" && sel.Sel.Name != "MAC" && sel.Sel.Name != "Model" {
				t.Errorf("%s: uses phone.%s", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	// Of a phone.Model, only Name.
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, _ := parser.ParseFile(fset, p, nil, 0)
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "Model" && sel.Sel.Name != "Name" {
				t.Errorf("%s: reads Model.%s", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}
