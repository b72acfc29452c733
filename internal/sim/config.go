package sim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// xmlConfig is what a boot takes from SEP<MAC>.cnf.xml or
// XMLDefault.cnf.xml (§2).
type xmlConfig struct {
	protocol string // <deviceProtocol>
	load     string // <loadInformation>, or <loadInformationNNN> for the model's type code
}

// parseXML reads a config by its root element (§2):
//
//   - <device> (§2.1): <deviceProtocol> and <loadInformation>.
//   - <Default>, as XMLDefault.cnf.xml (§2.2) or the seed page's "XML
//     magic" served as SEP<MAC>.cnf.xml: one load per device type in
//     loadInformationNNN, of which the phone takes the one of its own
//     type code (code, §2.2.1: 7 on a 7960, 8 on a 7940). The model
//     attribute is not read (§2.2 inference: the phone keys on the number;
//     sources spell the attribute three ways).
//
// Harsh reading: each form counts only under its own root, a
// loadInformationNNN in a <device> or a plain <loadInformation> in a
// <Default> is not read, and a document of any other root is no config.
// Only the root's children count: a <loadInformation> inside
// <addOnModules> is the KEM's load, not the phone's (§1.4). ok is false
// for an empty, malformed or unknown document.
func parseXML(data []byte, code int) (cfg xmlConfig, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth := 0
	root := ""
	var field *string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return cfg, root != "" && depth == 0
		}
		if err != nil {
			return cfg, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			field = nil
			switch {
			case depth == 1:
				root = t.Name.Local
				if root != "device" && root != "Default" {
					return cfg, false
				}
			case depth == 2:
				field = cfg.field(root, t.Name.Local, code)
			}
			if field != nil {
				*field = "" // the last element of a name wins
			}
		case xml.EndElement:
			depth--
			field = nil
		case xml.CharData:
			if field != nil {
				*field += strings.TrimSpace(string(t))
			}
		}
	}
}

func (c *xmlConfig) field(root, name string, code int) *string {
	if root == "device" {
		switch name {
		case "deviceProtocol":
			return &c.protocol
		case "loadInformation":
			return &c.load
		}
		return nil
	}
	if n, ok := strings.CutPrefix(name, "loadInformation"); ok && allDigits(n) && num(n) == code {
		return &c.load
	}
	return nil
}

// parseSIP adds the "name: value ; comment" lines of a 7940/7960 SIP text
// config (§3.1) to into, so that a later file overrides an earlier one:
// SIP<MAC>.cnf over SIPDefault.cnf.
func parseSIP(data []byte, into map[string]string) {
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if rest, quoted := strings.CutPrefix(value, `"`); quoted {
			value, _, _ = strings.Cut(rest, `"`)
		} else if i := strings.IndexByte(value, ';'); i >= 0 {
			value = strings.TrimSpace(value[:i])
		}
		into[strings.TrimSpace(name)] = value
	}
}

// osImage is the image OS79XX.TXT names: its first line. A trailing space
// is kept, as the phone keeps it and asks for a file that does not exist
// (CSCdv19260, §3.3); only the line end is dropped.
func osImage(data []byte) string {
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimRight(line, "\r")
}
