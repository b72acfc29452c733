package sim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"phoneboot/internal/phone"
)

// xmlConfig is what a boot takes from SEP<MAC>.cnf.xml or
// XMLDefault.cnf.xml (§2).
type xmlConfig struct {
	protocol string // <deviceProtocol>
	load     string // <loadInformation>, or <loadInformationNNN> for the model's type code
}

// parseXML reads the children of the root element only: a
// <loadInformation> inside <addOnModules> is the KEM's load, not the
// phone's (§1.4). The seed page's fix was a <Default> document served as
// SEP<MAC>.cnf.xml, so loadInformationNNN counts in either file. ok is
// false for an empty or malformed file.
func parseXML(data []byte, m phone.Model) (cfg xmlConfig, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth := 0
	var field *string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return cfg, ok && depth == 0
		}
		if err != nil {
			return cfg, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			ok = true
			field = nil
			if depth == 2 {
				field = cfg.field(t.Name.Local, m)
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

func (c *xmlConfig) field(name string, m phone.Model) *string {
	switch name {
	case "deviceProtocol":
		return &c.protocol
	case "loadInformation":
		return &c.load
	}
	if code, ok := strings.CutPrefix(name, "loadInformation"); ok {
		n, err := strconv.Atoi(code)
		for _, tc := range m.TypeCodes {
			if err == nil && n == tc {
				return &c.load
			}
		}
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
