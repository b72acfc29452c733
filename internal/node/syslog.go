package node

import (
	"net"

	"phoneboot/internal/event"
	"phoneboot/internal/syslog"
	"phoneboot/internal/udpnet"
)

// syslog makes the syslog receiver: each line goes in the timeline of the
// phone last seen at its source address. Syslog is an extra: when its
// port cannot be opened (another syslog daemon, no privileges) phoneboot
// says so and goes on without it (nil server).
func (n *node) syslog() (*syslog.Server, []*net.UDPConn) {
	if n.opts.SyslogAddr == "" {
		return nil, nil
	}
	conns, err := syslog.Listen(n.opts.SyslogAddr)
	if err != nil {
		err = udpnet.Explain(n.opts.SyslogAddr, "syslog daemon", "--syslog-addr", ":5514", "rsyslogd, syslog-ng", err)
		n.log.Warn("syslog not received (serving goes on; --syslog-addr \"\" turns it off): " + err.Error())
		return nil, nil
	}
	srv := &syslog.Server{Logger: n.log, RatePerSource: 50, RateBurst: 200, Handler: func(m syslog.Message) {
		mac, ok := n.book.At(m.From.Addr())
		if !ok {
			return // not from a phone phoneboot knows
		}
		n.record(event.Event{Time: m.Time, MAC: mac, IP: m.From.Addr(), Source: event.Syslog, Kind: event.SyslogLine, Detail: m.Raw})
	}}
	n.running.syslog.Store(srv)
	return srv, conns
}
