package firmware

import (
	"reflect"
	"strings"
	"testing"
)

// header imitates the signed binary header: TLVs with NULs, newlines and
// high bytes, ending right before the first component name.
var header = "\x01\x00\x12\n\xff\xfeCN=someSigner;OU=someOrgUnit\x00\x0aP0030801SR02.loads\x00\x9c\n\x07"

func TestParseLoads(t *testing.T) {
	tests := []struct {
		name, text string
		want       Loads
	}{
		{"classic SCCP (§4.2)", header + "P0030801SR02.sbn\nP0030801SR02.sb2\nLA_VERSION=PAS30831\n",
			Loads{Components: []string{"P0030801SR02.sbn", "P0030801SR02.sb2"}, LAVersion: "PAS30831", HardwareComp: -1}},
		{"classic SIP, CRLF", header + "P003-8-12-00.sbn\r\nP0S3-8-12-00.sb2\r\n",
			Loads{Components: []string{"P003-8-12-00.sbn", "P0S3-8-12-00.sb2"}, HardwareComp: -1}},
		{"Java (§4.3)", header + "# SCCP42 RELEASE load version 9-4-2ES26\n#HARDWARE_COMP_1 5\njar42sccp.9-4-2ES26.sbn\ncnu42.9-4-2ES26.sbn\napps42.9-4-2ES26.sbn\ndsp42.9-4-2ES26.sbn\ncvm42sccp.9-4-2ES26.sbn\n",
			Loads{Components: []string{"jar42sccp.9-4-2ES26.sbn", "cnu42.9-4-2ES26.sbn", "apps42.9-4-2ES26.sbn", "dsp42.9-4-2ES26.sbn", "cvm42sccp.9-4-2ES26.sbn"}, HardwareComp: 5}},
		{"KEM upper-case extension", header + "B015-1-0-4-2.SBN\n", Loads{Components: []string{"B015-1-0-4-2.SBN"}, HardwareComp: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLoads([]byte(tt.text))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseLoads = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", header, "hello world\n", strings.Repeat("x", 200) + ".sbn\n", "../etc/passwd.sbn\n"} {
		if l, err := ParseLoads([]byte(bad)); err == nil {
			t.Errorf("ParseLoads(%q) = %+v, want an error", bad, l)
		}
	}
}

func FuzzParseLoads(f *testing.F) {
	f.Add([]byte(header + "P0030801SR02.sbn\nLA_VERSION=x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLoads(b)
		if err == nil && len(l.Components) == 0 {
			t.Fatal("no components and no error")
		}
		for _, c := range l.Components {
			if strings.ContainsAny(c, "/\\ ") {
				t.Fatalf("component %q is not a plain name", c)
			}
		}
	})
}
