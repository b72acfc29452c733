// Package perfdhcp reads the report of ISC's perfdhcp (Debian package
// kea-admin), for the benchmarks that run it (bench -cases fleet,
// bench/dhcpbench -storm).
package perfdhcp

import (
	"regexp"
	"strconv"
	"strings"
)

// Counts is what perfdhcp counted in one run.
type Counts struct {
	Discovers, Offers, Requests, Acks int
	OfferDelay, AckDelay              string // average, ms, as perfdhcp prints it
}

var line = regexp.MustCompile(`(?m)^(sent packets|received packets|avg delay): ([0-9.]+)`)

// Read reads perfdhcp's two sections, DISCOVER-OFFER and REQUEST-ACK.
func Read(out string) Counts {
	var c Counts
	_, do, _ := strings.Cut(out, "Statistics for: DISCOVER-OFFER")
	do, ra, _ := strings.Cut(do, "Statistics for: REQUEST-ACK")
	for _, sec := range []struct {
		text       string
		sent, recv *int
		delay      *string
	}{{do, &c.Discovers, &c.Offers, &c.OfferDelay}, {ra, &c.Requests, &c.Acks, &c.AckDelay}} {
		for _, m := range line.FindAllStringSubmatch(sec.text, -1) {
			switch m[1] {
			case "sent packets":
				*sec.sent, _ = strconv.Atoi(m[2])
			case "received packets":
				*sec.recv, _ = strconv.Atoi(m[2])
			case "avg delay":
				*sec.delay = m[2]
			}
		}
	}
	return c
}
