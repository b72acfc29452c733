package analyze

import (
	"strings"

	"phoneboot/internal/event"
)

// maxSyslogLine bounds a line kept from a syslog datagram.
const maxSyslogLine = 1024

// syslogPacket is a line a phone logged: the event of the phone at its
// address, Detail the line as the live server keeps it (made inert
// where it is printed).
func (a *analyzer) syslogPacket(d datagram) {
	line := string(d.payload[:min(len(d.payload), maxSyslogLine)])
	line = strings.TrimRight(line, "\x00\r\n")
	if line == "" {
		a.skipped++
		return
	}
	a.emit(event.Event{Time: d.t, IP: d.src.Addr(), Source: event.Syslog, Kind: event.SyslogLine, Detail: line})
}
