package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"phoneboot/internal/phone"
)

func TestLoadExample(t *testing.T) {
	c, err := Read("testdata/phoneboot.toml", true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Site.Protocol != "SIP" || c.Site.Loads["7960"].ID != "P0S3-8-12-00" || len(c.Phones) != 2 {
		t.Fatalf("config = %+v", c)
	}
	p := c.Phones[0]
	if p.MAC.DeviceName() != "SEP00137F38B3DE" || p.Model.Name != "7960" || len(p.Lines) != 1 || p.Lines[0].Extension != "201" {
		t.Fatalf("phone 0 = %+v", p)
	}
	if c.Phones[1].Protocol != "SCCP" {
		t.Fatalf("protocol not normalised: %q", c.Phones[1].Protocol)
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"syntax", "[site]\nprotocol = \"SIP\nx", "phoneboot.toml:2:"},
		{"unknown key with suggestion", "[site]\nprotocol = \"SIP\"\n\n[[phone]]\nmac = \"00137F38B3DE\"\nlable = \"x\"\n", `phoneboot.toml:6: unknown key "phone.lable" (did you mean "label"?)`},
		{"unknown table", "[sites]\nprotocol = \"SIP\"\n", `phoneboot.toml:1: unknown key "sites" (did you mean "site"?)`},
		{"bad MAC", "[[phone]]\nmac = \"00:13:7F:38:B3\"\n", `phoneboot.toml:2: MAC address "00:13:7F:38:B3"`},
		{"duplicate phone", "[[phone]]\nmac = \"00137F38B3DE\"\n[[phone]]\nmac = \"00:13:7f:38:b3:de\"\n", "phoneboot.toml:4: phone 00:13:7f:38:b3:de is listed twice (first at line 2)"},
		{"unknown model", "[[phone]]\nmac = \"00137F38B3DE\"\nmodel = \"7999\"\n", `phoneboot.toml:3: phone 00:13:7f:38:b3:de: unknown model "7999"`},
		{"unknown model in loads", "[site.loads]\n7940 = \"P0S3-8-12-00\"\n7999 = \"x\"\n", `phoneboot.toml:3: site.loads: unknown model "7999"`},
		{"bad protocol", "[site]\nprotocol = \"H.323\"\n", `phoneboot.toml:2: site.protocol: protocol "H.323": use SCCP or SIP`},
		{"protocol the model cannot run", "[[phone]]\nmac = \"00137F38B3DE\"\nmodel = \"7902\"\nprotocol = \"SIP\"\n", "phoneboot.toml:4: phone 00:13:7f:38:b3:de: a 7902 cannot run SIP (it runs SCCP)"},
		{"too many lines", "[[phone]]\nmac = \"00137F38B3DE\"\nmodel = \"7940\"\n[[phone.line]]\nextension = \"1\"\n[[phone.line]]\nextension = \"2\"\n[[phone.line]]\nextension = \"3\"\n", "phoneboot.toml:1: phone 00:13:7f:38:b3:de: a 7940 has 2 line buttons, 3 lines are configured"},
		{"phone without mac", "[[phone]]\nmodel = \"7940\"\n", "phoneboot.toml:1: phone entry without mac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("phoneboot.toml", []byte(tt.text))
			var ce *Error
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

// FuzzParse: any text gives a config or an *Error, never a panic.
func FuzzParse(f *testing.F) {
	f.Add("[[phone]]\nmac = \"00137F38B3DE\"\nmodel = \"7960\"\n")
	f.Add("[site.loads]\n7960 = \"x\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("f.toml", []byte(s))
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v is not a *config.Error", err)
		}
		if err == nil {
			for _, p := range c.Phones {
				if p.MAC == (phone.MAC{}) {
					t.Fatal("phone without MAC accepted")
				}
			}
		}
	})
}

// TestEveryProblemReported: one run of check names every problem, each
// with its line, in line order (the broken inventory).
func TestEveryProblemReported(t *testing.T) {
	text := `[site]
protocol = "SIP"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7999"

[[phone]]
mac = "00:13:7F:38:B3"

[[phone]]
mac = "0013.7f38.b3e0"
model = "7960"
label = "Front desk reception"

  [[phone.line]]
  extension = "201"

[[phone]]
mac = "00137F38B3E0"
`
	_, err := Parse("bad.toml", []byte(text))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not Errors", err)
	}
	want := []string{
		`bad.toml:6: phone 00:13:7f:38:b3:de: unknown model "7999"`,
		`bad.toml:9: MAC address "00:13:7F:38:B3"`,
		`bad.toml:14: phone 00:13:7f:38:b3:e0: label "Front desk reception" is 20 characters; a 7960 on SIP shows at most 11`,
		`bad.toml:16: phone 00:13:7f:38:b3:e0: SIP line 1 (201) has no password`,
		`bad.toml:20: phone 00:13:7f:38:b3:e0 is listed twice (first at line 12)`,
	}
	if len(es) != len(want) {
		t.Fatalf("got %d problems:\n%v", len(es), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(es[i].Error(), w) {
			t.Errorf("problem %d = %q, want prefix %q", i, es[i], w)
		}
	}
}

func TestProvisionDefaultsAndDialPlan(t *testing.T) {
	c, err := Parse("p.toml", []byte("[[site.dial_plan]]\nmatch = \"9.T\"\ntimeout = 3\n[provision]\nloop_window = \"30s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Provision.CTLLoopRequests != DefaultCTLLoopRequests || c.Provision.LoopWindow.Seconds() != 30 || c.Site.DialPlan[0].Match != "9.T" {
		t.Fatalf("config = %+v", c)
	}
	_, err = Parse("p.toml", []byte("[provision]\nloop_window = \"soon\"\n"))
	if err == nil || !strings.Contains(err.Error(), "p.toml:2:") {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestDHCPSection(t *testing.T) {
	c, err := Parse("d.toml", []byte("[dhcp]\ninterface = \"eth1\"\nrange = \"10.0.0.100-10.0.0.199\"\ntftp = [\"10.0.0.5\"]\nlease_time = \"1h\"\n[[phone]]\nmac = \"00137F38B3DE\"\nip = \"10.0.0.20\"\n"))
	if err != nil || c.DHCP.Interface != "eth1" || c.Phones[0].IP.String() != "10.0.0.20" {
		t.Fatalf("%v %+v", err, c)
	}
	_, err = Parse("d.toml", []byte("[dhcp]\nrange = \"10.0.0.199-10.0.0.100\"\nrouter = \"gw\"\n[[phone]]\nmac = \"00137F38B3DE\"\nip = \"10.0.0.20\"\n[[phone]]\nmac = \"00137F38B3DF\"\nip = \"10.0.0.20\"\n"))
	for _, w := range []string{"d.toml:2: dhcp.range: range \"10.0.0.199-10.0.0.100\" ends before it starts", `d.toml:3: dhcp.router: "gw" is not an IPv4 address`, "d.toml:9: phone 00:13:7f:38:b3:df: ip 10.0.0.20 is reserved for another phone too (line 6)"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

func TestDHCPClasses(t *testing.T) {
	c, err := Parse("d.toml", []byte("[dhcp]\ninterface = \"eth1\"\nrange = \"10.0.0.100-10.0.0.199\"\n[[dhcp.class]]\nmodel = \"7961\"\ntftp = [\"10.0.0.6\"]\n"))
	if err != nil || c.DHCP.Classes[0].Model.Name != "7961" {
		t.Fatalf("%v %+v", err, c)
	}
	_, err = Parse("d.toml", []byte("[[dhcp.class]]\nmodel = \"7999\"\n"))
	if err == nil || !strings.Contains(err.Error(), `d.toml:1: dhcp.class: unknown model "7999"`) {
		t.Fatalf("error %v", err)
	}
}

// Time zones: a name of render's table, in any case; anything else is an
// error with its line and the names it may have meant.
func TestTimeZoneChecked(t *testing.T) {
	for _, tz := range []string{"Europe/Vienna", "W. Europe Standard/Daylight Time", "america/new_york", ""} {
		if _, err := Parse("t.toml", []byte("[site]\ntime_zone = \""+tz+"\"\n")); err != nil {
			t.Errorf("%q: %v", tz, err)
		}
	}
	for tz, want := range map[string]string{
		"Europe/Vienn":    `t.toml:3: site.time_zone: unknown time zone "Europe/Vienn" (did you mean "Europe/Vienna"`,
		"CET":             `t.toml:3: site.time_zone: unknown time zone "CET"`,
		"Asia/Kathmandu":  `t.toml:3: site.time_zone: unknown time zone "Asia/Kathmandu"`,
		"Europe/Chisinau": `"E. Europe Standard/Daylight Time"`,
	} {
		_, err := Parse("t.toml", []byte("[site]\nprotocol = \"SIP\"\ntime_zone = \""+tz+"\"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", tz, err, want)
		}
	}
	c, err := Parse("t.toml", []byte("[site]\ntime_zone = \"Australia/Sydney\"\nsip_time_zone = \"EAST\"\n"))
	if err != nil || c.Site.SIPTimeZone != "EAST" {
		t.Fatalf("sip_time_zone: %v", err)
	}
	if _, err := Parse("t.toml", []byte("[site]\nsip_time_zone = \"CE\\\"T\"\n")); err == nil || !strings.Contains(err.Error(), "t.toml:2: site.sip_time_zone contains a double quote") {
		t.Errorf("quote in sip_time_zone: %v", err)
	}
}

// A dial rule's rewrite is in the dial template's syntax: %0 for the
// whole number, never %s.
func TestDialRewriteChecked(t *testing.T) {
	ok := "[[site.dial_plan]]\nmatch = \"0.\"\nrewrite = \"9%0\"\n"
	if _, err := Parse("d.toml", []byte(ok)); err != nil {
		t.Fatal(err)
	}
	bad := "[[site.dial_plan]]\nmatch = \"1..\"\n\n[[site.dial_plan]]\nmatch = \"0.\"\ntimeout = 5\nrewrite = \"0%s\"\n"
	_, err := Parse("d.toml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), `d.toml:7: site.dial_plan: rewrite "0%s": "%s" is not a dial-template token; use %0 for the whole number dialled`) {
		t.Fatalf("error %v", err)
	}
}

// Rings: what Ringlist.xml takes (at most 50, names and files of at most
// 25 characters, .raw files), each problem at its line.
func TestRingsChecked(t *testing.T) {
	text := "[[site.ring]]\nname = \"Piano 1\"\nfile = \"Piano1.raw\"\n" +
		"[[site.ring]]\nname = \"A very long ring tone name\"\nfile = \"Long.raw\"\n" +
		"[[site.ring]]\nname = \"Wave\"\nfile = \"wave.wav\"\n"
	_, err := Parse("r.toml", []byte(text))
	for _, w := range []string{
		`r.toml:5: site.ring "A very long ring tone name": name "A very long ring tone name" is 26 characters; phones show at most 25`,
		`r.toml:9: site.ring "Wave": file "wave.wav" is not a .raw file`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	var b strings.Builder
	for i := range 51 {
		fmt.Fprintf(&b, "[[site.ring]]\nname = \"R%d\"\nfile = \"r%d.raw\"\n", i, i)
	}
	_, err = Parse("r.toml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "r.toml:151: site.ring: 51 rings; phones list at most 50") {
		t.Errorf("51 rings: %v", err)
	}
}

// 79x1 and later on SIP: a password over the firmware's limit (8, cisco-
// 79xx.md §1.6) is an error at its line that says why; transport and
// media ports are checked; the limit is a setting.
func TestJavaSIPChecks(t *testing.T) {
	text := `[site]
protocol = "SIP"
sip_transport = "udp"
media_ports = "10000-20000"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7961"
sip_transport = "tcp"

  [[phone.line]]
  extension = "201"
  password = "12345678"

  [[phone.line]]
  extension = "202"
  password = "123456789"

[[phone]]
mac = "00:13:7F:38:B3:DF"
model = "7960"
  [[phone.line]]
  extension = "203"
  password = "a-long-password-is-fine-on-a-7960"
`
	_, err := Parse("j.toml", []byte(text))
	want := `j.toml:17: phone 00:13:7f:38:b3:de: line 2 (202): password is 9 characters; the SIP firmware of a 7961 takes at most 8, so with a longer one the line never registers (cisco-79xx.md §1.6)`
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.HasPrefix(es[0].Error(), want) {
		t.Fatalf("error %v, want only %q", err, want)
	}
	c, err := Parse("j.toml", []byte(strings.Replace(text, `password = "123456789"`, `password = "12345678"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Site.SIPTransport != "UDP" || c.Phones[0].SIPTransport != "TCP" || c.Site.MediaPorts != (PortRange{10000, 20000}) {
		t.Errorf("site %+v, phone %+v", c.Site, c.Phones[0])
	}
	if c, err := Parse("j.toml", []byte("[site]\njava_sip_password_max = 0\n"+text[len("[site]\n"):])); err != nil || c.Site.JavaSIPPasswordMax != 0 {
		t.Errorf("no limit: %v", err)
	}
	d := Default("x.toml")
	if d.Site.SIPTransport != "TCP" || d.Site.MediaPorts.String() != "16384-32766" || d.Site.JavaSIPPasswordMax != 8 {
		t.Errorf("defaults %+v", d.Site)
	}
	for in, w := range map[string]string{
		"[site]\nsip_transport = \"sctp\"\n":                                             `b.toml:2: site.sip_transport: "sctp": use TCP or UDP`,
		"[site]\nsip_transport = \"tls\"\n":                                              "b.toml:2: site.sip_transport: \"tls\": phoneboot serves no trust list",
		"[site]\nmedia_ports = \"20000\"\n":                                              `b.toml:2: site.media_ports: "20000": write it like "16384-32766"`,
		"[site]\nmedia_ports = \"2-1\"\n":                                                `b.toml:2: site.media_ports: "2-1": the first port must be below the second`,
		"[[phone]]\nmac = \"00137F38B3DE\"\nmodel = \"7960\"\nsip_transport = \"udp\"\n": "b.toml:4: phone 00:13:7f:38:b3:de: sip_transport is for 79x1 and later phones on SIP; a 7960 on SCCP",
	} {
		if _, err := Parse("b.toml", []byte(in)); err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%q: error %v, want %q", in, err, w)
		}
	}
}

// The locale blocks' details: settings with their checks.
func TestLocaleInfo(t *testing.T) {
	c, err := Parse("l.toml", []byte("[site]\nlocale = \"English_United_Kingdom\"\nnetwork_locale = \"United_Kingdom\"\nlocale_lang_code = \"en_GB\"\nlocale_version = \"9.3.1.1(1)\"\nlocale_charset = \"UTF-8\"\nlocale_uid = 2\nnetwork_locale_uid = 65\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Site
	if s.NetworkLocale != "United_Kingdom" || s.LocaleLangCode != "en_GB" || s.LocaleVersion != "9.3.1.1(1)" || s.LocaleCharset != "utf-8" || s.LocaleUID != 2 || s.NetworkLocaleUID != 65 {
		t.Errorf("site %+v", s)
	}
	for in, w := range map[string]string{
		"[site]\nlocale = \"x_y\"\nlocale_charset = \"latin1\"\n": `l.toml:3: site.locale_charset "latin1": phones take iso-8859-1 or utf-8`,
		"[site]\nlocale = \"x_y\"\nlocale_uid = 0\n":              "l.toml:3: site.locale_uid: 0: a uid is 1 or more",
		"[site]\nlocale_version = \"1\"\n":                        "l.toml:2: site.locale_version without site.locale",
	} {
		if _, err := Parse("l.toml", []byte(in)); err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%q: error %v, want %q", in, err, w)
		}
	}
}

// Key expansion modules: known modules on phones that take them, at most
// two of one type; lines beyond the phone's buttons go to them, as many
// as they have.
func TestKEMs(t *testing.T) {
	phone := func(model, proto, kem string, lines int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "[[phone]]\nmac = \"00137F38B3DE\"\nmodel = %q\nprotocol = %q\nkem = %s\n", model, proto, kem)
		for i := range lines {
			fmt.Fprintf(&b, "  [[phone.line]]\n  extension = \"%d\"\n  password = \"pw\"\n", 200+i)
		}
		return b.String()
	}
	c, err := Parse("k.toml", []byte(phone("7961", "SCCP", `["7914", "7914"]`, 34)))
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Phones[0].KEMs; len(k) != 2 || k[0].Name != "7914" {
		t.Errorf("kems %+v", k)
	}
	if _, err := Parse("k.toml", []byte(phone("7965", "SIP", `["7916"]`, 30))); err != nil {
		t.Error(err)
	}
	for _, c := range []struct{ text, want string }{
		{phone("7961", "SCCP", `["7914", "7914"]`, 35), "k.toml:1: phone 00:13:7f:38:b3:de: a 7961 with 7914 and 7914 has 34 line buttons, 35 lines are configured"},
		{phone("7961", "SCCP", `["7914"]`, 21), "a 7961 with 7914 has 20 line buttons, 21 lines are configured"},
		{phone("7961", "SCCP", `["7961"]`, 1), `k.toml:5: phone 00:13:7f:38:b3:de: kem "7961" is not a key expansion module (7914, 7915 or 7916)`},
		{phone("7941", "SCCP", `["7914"]`, 1), "k.toml:5: phone 00:13:7f:38:b3:de: a 7941 takes no key expansion module"},
		{phone("7961", "SCCP", `["7915"]`, 1), "k.toml:5: phone 00:13:7f:38:b3:de: a 7961 takes the 7914, not the 7915"},
		{phone("7965", "SCCP", `["7915", "7916"]`, 1), "k.toml:5: phone 00:13:7f:38:b3:de: a phone's modules are all of one type; here 7915 and 7916"},
		{phone("7975", "SCCP", `["7914", "7914", "7914"]`, 1), "k.toml:5: phone 00:13:7f:38:b3:de: 3 modules; a 7975 takes at most 2"},
		{phone("7960", "SIP", `["7914"]`, 1), "k.toml:5: phone 00:13:7f:38:b3:de: a 7960 on SIP cannot use expansion modules"},
		{"[[phone]]\nmac = \"00137F38B3DE\"\nkem = [\"7914\"]\n", "k.toml:3: phone 00:13:7f:38:b3:de: kem needs the phone's model"},
	} {
		_, err := Parse("k.toml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v\nwant %q", err, c.want)
		}
	}
}

// Every TOML example of docs/config.md is a config phoneboot takes, so a
// newcomer can paste any of them.
func TestDocExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```toml\n")[1:]
	if len(blocks) < 5 {
		t.Fatalf("%d TOML examples in docs/config.md", len(blocks))
	}
	for i, b := range blocks {
		text, _, _ := strings.Cut(b, "```")
		if _, err := Parse(fmt.Sprintf("docs/config.md example %d", i+1), []byte(text)); err != nil {
			t.Errorf("%v\n%s", err, text)
		}
	}
}

func TestStoreSection(t *testing.T) {
	c, err := Parse("s.toml", []byte("[store]\nurl = \"postgres://phoneboot@127.0.0.1/phoneboot\"\n"))
	if err != nil || c.Store.URL != "postgres://phoneboot@127.0.0.1/phoneboot" {
		t.Fatalf("%v %+v", err, c.Store)
	}
	_, err = Parse("s.toml", []byte("\n[store]\nurl = \"phoneboot.db\"\n"))
	if err == nil || !strings.Contains(err.Error(), "s.toml:3: store.url: want a postgres:// URL") {
		t.Fatalf("error %v", err)
	}
}
