package config

import (
	"errors"
	"strings"
	"testing"

	"phoneboot/internal/phone"
)

func TestLoadExample(t *testing.T) {
	c, err := Load("testdata/phoneboot.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Site.Protocol != "SIP" || c.Site.Loads["7960"] != "P0S3-8-12-00" || len(c.Phones) != 2 {
		t.Fatalf("config = %+v", c)
	}
	p := c.Phones[0]
	if p.MAC.DeviceName() != "SEP00137F38B3DE" || p.Model != "7960" || len(p.Lines) != 1 || p.Lines[0].Extension != "201" {
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
