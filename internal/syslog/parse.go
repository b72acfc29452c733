// Package syslog receives syslog datagrams from phones (UDP, usually port
// 514) and turns each one into a Message for the timeline.
//
// What Cisco 79xx phones send is not well documented (cisco-79xx.md §3.6):
// maybe RFC 3164, maybe a plain debug line. So every datagram that is text
// is kept: RFC 5424 is tried first, then RFC 3164 (with or without PRI, with
// the Cisco IOS prefixes), and anything else is kept as raw text. Only empty
// datagrams and binary garbage are dropped. Parsed fields are hints: the
// UDP source address is what identifies a phone.
package syslog

import (
	"bytes"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/ciscoios"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// Message is one datagram received.
type Message struct {
	Time time.Time      // when received
	From netip.AddrPort // the sender (IPv4-mapped addresses unmapped)
	// Raw is the datagram as text: invalid UTF-8 replaced by U+FFFD,
	// leading and trailing NUL/CR/LF trimmed, cut to at most MaxRaw bytes
	// (and trimmed again). Never empty.
	Raw string
	// Format is FormatRFC5424, FormatRFC3164 or FormatRaw (neither parser
	// accepted it).
	Format string
	// Priority, Severity and Facility come from the PRI part; -1 when absent.
	Priority, Severity, Facility int
	// Hostname and App are best effort (RFC 3164 often takes a phone's
	// "SEP<MAC>:" for the app). Text is the message part, at most MaxRaw
	// bytes; for FormatRaw it is Raw.
	Hostname, App, Text string
	// Timestamp is the time written in the message, zero if none. RFC 3164
	// stamps have no year and no zone: the year is guessed from the time of
	// receipt, the zone is UTC. Phones with unset clocks send nonsense.
	Timestamp time.Time
}

// Formats of a Message.
const (
	FormatRFC5424 = "rfc5424"
	FormatRFC3164 = "rfc3164"
	FormatRaw     = "raw"
)

// MaxRaw is the most bytes of a datagram kept in Message.Raw and Text.
const MaxRaw = 2048

// trimmed is what is cut from both ends of a datagram: C strings and
// line ends.
const trimmed = "\x00\r\n"

// maxField caps Hostname and App (the parsers already stop at 255).
const maxField = 255

// Parse turns one datagram into a Message (Time is now; From is left for the
// caller). It returns false when there is nothing usable: an empty datagram
// or binary garbage.
func Parse(b []byte, now time.Time) (Message, bool) {
	b = bytes.Trim(b, trimmed)
	if len(bytes.TrimSpace(b)) == 0 || garbage(b) {
		return Message{}, false
	}
	text := strings.ToValidUTF8(string(b), "\uFFFD")
	m := Message{
		Time:     now,
		Raw:      cut(text),
		Format:   FormatRaw,
		Priority: -1, Severity: -1, Facility: -1,
	}
	data := []byte(text)
	if sm, ok := parse5424(data); ok {
		m.Format = FormatRFC5424
		m.fill(&sm.Base)
		return m, true
	}
	if sm, ok := parse3164(data, now); ok {
		m.Format = FormatRFC3164
		m.fill(&sm.Base)
		if !m.Timestamp.IsZero() && m.Timestamp.After(now.AddDate(0, 1, 0)) {
			// "Dec 31" received on January 1st was last year's.
			m.Timestamp = m.Timestamp.AddDate(-1, 0, 0)
		}
		return m, true
	}
	if pri, rest, ok := leadingPRI(text); ok {
		// A PRI followed by something neither parser knows: RFC 3164 best
		// effort keeps the priority and takes the rest as the message.
		m.Format = FormatRFC3164
		m.setPriority(pri)
		m.Text = cut(strings.TrimLeft(rest, " "))
		return m, true
	}
	m.Text = m.Raw
	return m, true
}

func (m *Message) setPriority(p int) {
	m.Priority, m.Facility, m.Severity = p, p/8, p%8
}

func (m *Message) fill(b *gosyslog.Base) {
	if b.Priority != nil {
		m.setPriority(int(*b.Priority))
	}
	if b.Hostname != nil {
		m.Hostname = truncate(*b.Hostname, maxField)
	}
	if b.Appname != nil {
		m.App = truncate(*b.Appname, maxField)
	}
	if b.Message != nil {
		m.Text = cut(*b.Message)
	}
	if b.Timestamp != nil {
		m.Timestamp = *b.Timestamp
	}
}

// parse5424 accepts only complete RFC 5424 messages: its best-effort mode
// returns a bare PRI for anything starting with "<N>1 ", which the
// leadingPRI fallback does better.
func parse5424(data []byte) (*rfc5424.SyslogMessage, bool) {
	if len(data) == 0 || data[0] != '<' {
		return nil, false
	}
	msg, err := rfc5424.NewMachine().Parse(data)
	sm, ok := msg.(*rfc5424.SyslogMessage)
	if err != nil || !ok || sm == nil || !sm.Valid() {
		return nil, false
	}
	return sm, true
}

// cisco3164 are the Cisco IOS prefix combinations tried, in order, after
// plain RFC 3164. The parser cannot tell "counter: sequence:" from
// "counter: hostname:" by itself, so each layout gets its own machine.
var cisco3164 = []ciscoios.Component{
	ciscoios.All,                   // <PRI>counter: sequence: host: *stamp: text
	ciscoios.DisableSequenceNumber, // <PRI>counter: host: *stamp: text
	ciscoios.DisableHostname,       // <PRI>counter: sequence: *stamp: text
	ciscoios.DisableSequenceNumber | ciscoios.DisableHostname, // <PRI>counter: *stamp: text
}

// parse3164 tries RFC 3164 machines, strict each (their best-effort mode
// returns half-parsed messages with wrong fields, e.g. PRI 99 for "<999>"),
// with an optional PRI, RFC 3339 or Stamp timestamps, and Cisco prefixes.
func parse3164(data []byte, now time.Time) (*rfc3164.SyslogMessage, bool) {
	common := []gosyslog.MachineOption{
		rfc3164.WithOptionalPriority(),
		rfc3164.WithRFC3339(),
		rfc3164.WithLenientDay(),
		rfc3164.WithSecondFractions(),
		rfc3164.WithEmbeddedNewlines(), // one datagram is one message
		rfc3164.WithYear(rfc3164.Year{YYYY: now.UTC().Year()}),
		rfc3164.WithTimezone(time.UTC),
	}
	try := func(extra ...gosyslog.MachineOption) (*rfc3164.SyslogMessage, bool) {
		msg, err := rfc3164.NewMachine(append(extra, common...)...).Parse(data)
		sm, ok := msg.(*rfc3164.SyslogMessage)
		if err != nil || !ok || sm == nil || !sm.Valid() {
			return nil, false
		}
		return sm, true
	}
	if sm, ok := try(); ok {
		return sm, true
	}
	if len(data) == 0 || data[0] != '<' {
		return nil, false // the Cisco prefixes are only parsed after a PRI
	}
	for _, c := range cisco3164 {
		if sm, ok := try(rfc3164.WithCiscoIOSComponents(c)); ok {
			return sm, true
		}
	}
	return nil, false
}

// leadingPRI reads "<N>" (N in 0..191, at most 3 digits) at the start of s.
func leadingPRI(s string) (pri int, rest string, ok bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, "", false
	}
	i := 1
	for ; i < len(s) && i <= 4 && s[i] >= '0' && s[i] <= '9'; i++ {
		pri = pri*10 + int(s[i]-'0')
	}
	if i == 1 || i > 4 || i >= len(s) || s[i] != '>' || pri > 191 {
		return 0, "", false
	}
	return pri, s[i+1:], true
}

// garbage reports a datagram that is mostly not text: more than a third of
// its characters are invalid UTF-8 or control characters other than tab,
// CR and LF. Random bytes score about two thirds; text in a legacy 8-bit
// charset with a few accented letters passes.
func garbage(b []byte) bool {
	var n, bad int
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		n++
		switch {
		case r == utf8.RuneError && size == 1:
			bad++
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			bad++
		}
	}
	return bad*3 > n
}

// cut truncates s to MaxRaw and trims the line end the cut may expose.
func cut(s string) string {
	return strings.TrimRight(truncate(s, MaxRaw), trimmed)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
