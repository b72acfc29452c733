// Package phone is what phoneboot knows about Cisco IP phones as such: MAC
// addresses and device names, and the grammar of the file names phones ask
// for. It does no I/O.
package phone

import (
	"errors"
	"fmt"
	"strings"
)

// MAC is a phone's Ethernet address.
type MAC [6]byte

// ParseMAC reads a MAC address in every spelling people paste:
// 00:13:7F:38:B3:DE, 00-13-7f-38-b3-de, 0013.7f38.b3de, 00137F38B3DE, in
// either case, with surrounding spaces ignored.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	t := strings.TrimSpace(s)
	var hex strings.Builder
	switch {
	case len(t) == 12:
		hex.WriteString(t)
	case len(t) == 17 && (t[2] == ':' || t[2] == '-'):
		sep := t[2]
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if t[i] != sep {
					return m, fmt.Errorf("MAC address %q: mixed separators at position %d", s, i+1)
				}
				continue
			}
			hex.WriteByte(t[i])
		}
	case len(t) == 14 && t[4] == '.' && t[9] == '.':
		hex.WriteString(t[0:4] + t[5:9] + t[10:14])
	default:
		return m, fmt.Errorf("MAC address %q: want 12 hex digits, as 00:13:7F:38:B3:DE, 0013.7f38.b3de or 00137F38B3DE", s)
	}
	h := hex.String()
	for i := range m {
		hi, ok1 := unhex(h[2*i])
		lo, ok2 := unhex(h[2*i+1])
		if !ok1 || !ok2 {
			return m, fmt.Errorf("MAC address %q: %q is not a hex digit", s, h[2*i:2*i+2])
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String is the colon form in lower case: 00:13:7f:38:b3:de.
func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// Next is the MAC after m (wrapping after ff:ff:ff:ff:ff:ff): a row of
// simulated phones.
func (m MAC) Next() MAC {
	for i := len(m) - 1; i >= 0; i-- {
		m[i]++
		if m[i] != 0 {
			break
		}
	}
	return m
}

// Hex is the 12 upper-case hex digits phones put in file names.
func (m MAC) Hex() string {
	return fmt.Sprintf("%02X%02X%02X%02X%02X%02X", m[0], m[1], m[2], m[3], m[4], m[5])
}

// DeviceName is the name CallManager and the phone itself use: SEP + Hex.
func (m MAC) DeviceName() string { return "SEP" + m.Hex() }

// errNoMAC is returned by macFrom for text that is not 12 hex digits.
var errNoMAC = errors.New("not a MAC")

// macFrom parses exactly 12 hex digits, in either case.
func macFrom(s string) (MAC, error) {
	if len(s) != 12 {
		return MAC{}, errNoMAC
	}
	m, err := ParseMAC(s)
	if err != nil {
		return MAC{}, errNoMAC
	}
	return m, nil
}

// UnmarshalText lets config files hold MACs in any spelling ParseMAC takes.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalText writes the colon form.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
