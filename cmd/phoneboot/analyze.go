package main

import (
	"context"
	"fmt"
	"io"

	"phoneboot/internal/analyze"
	"phoneboot/internal/phone"
)

// analyzeCmd is "phoneboot analyze FILE": see internal/analyze.
func analyzeCmd(_ context.Context, args []string, stdout io.Writer) error {
	fs, data, cfgPath := commonFlags("analyze")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	mac := fs.String("phone", "", "show only this phone (`MAC`)")
	tftpPorts := fs.String("tftp-port", "69", "TFTP server `ports`, comma-separated (requests elsewhere are found by their opcode)")
	httpPort := fs.Uint("http-port", 6970, "phones' HTTP `port`")
	syslogPort := fs.Uint("syslog-port", 514, "syslog `port`")
	pos, err := parseFlags(fs, args, stdout, "Rebuilds every phone's timeline and findings from a packet capture\n(pcap, pcapng): phoneboot analyze boot.pcap [flags]. See docs/analyze.md.", 1)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("analyze: which capture? give a pcap or pcapng file (see phoneboot analyze --help)")
	}
	cfg, _, err := loadConfig(*data, *cfgPath)
	if err != nil {
		return err
	}
	ports, err := analyze.ParsePorts(*tftpPorts)
	if err != nil || *httpPort > 65535 || *syslogPort > 65535 {
		return fmt.Errorf("analyze: --tftp-port %s, --http-port %d, --syslog-port %d: ports are 1-65535", *tftpPorts, *httpPort, *syslogPort)
	}
	po := analyze.PrintOptions{JSON: *asJSON, Timelines: 20}
	if *mac != "" {
		if po.Phone, err = phone.ParseMAC(*mac); err != nil {
			return fmt.Errorf("analyze: --phone: %v", err)
		}
	}
	res, err := analyze.File(pos[0], analyze.Options{Config: cfg, TFTPPorts: ports, HTTPPort: uint16(*httpPort), SyslogPort: uint16(*syslogPort)})
	if res != nil {
		if perr := analyze.Print(stdout, res, po); perr != nil {
			return fmt.Errorf("analyze: %w", perr)
		}
	}
	if err != nil {
		return fmt.Errorf("analyze %s: %w", pos[0], err)
	}
	return nil
}
