// Command phoneboot boots, provisions and watches Cisco IP phones: a TFTP
// server that generates every phone's config from an inventory, a DHCP
// server, a firmware catalog and a view of every phone's boot, in one
// binary. This package is flags, wiring and printing; the work is in
// internal/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `phoneboot boots, provisions and watches Cisco IP phones.

Usage:
  phoneboot serve [flags]     serve phones: TFTP, DHCP, syslog (see: phoneboot serve --help)
  phoneboot check [flags]     check phoneboot.toml, templates and loads; explain every problem
  phoneboot phones [...]      list phones, show one's timeline, add/adopt/remove (phoneboot phones help)
  phoneboot sim [flags]       boot simulated phones against a TFTP server (dry run)
  phoneboot firmware [...]    import, list and remove firmware loads (phoneboot firmware help)
  phoneboot dhcp snippet ...  option 150/66 configuration for your own DHCP server
  phoneboot recover MODEL     factory-reset (de-brick) a phone: keys, checks, --watch
  phoneboot analyze FILE      rebuild phones' timelines and findings from a pcap/pcapng capture
  phoneboot version           print the version

Every subcommand takes --help.
`

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // --help printed the usage: not a failure
		}
		fmt.Fprintln(os.Stderr, "phoneboot:", err)
		os.Exit(2)
	}
}

// parseFlags parses a subcommand's flags, which may come before, between
// or after its arguments; it returns the arguments ("--" ends the flags),
// refusing more than maxArgs (-1: any number). Errors come back as one
// line that points at --help; the flag list is printed, to stdout, only
// when --help asked for it (then flag.ErrHelp is returned: not a failure).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, about string, maxArgs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: phoneboot %s [flags]\n\n%s\n\nFlags:\n", fs.Name(), about)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%v (see phoneboot %s --help)", err, fs.Name())
		}
		rest := fs.Args()
		if used := len(args) - len(rest); len(rest) == 0 || used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if maxArgs >= 0 && len(pos) > maxArgs {
		return nil, fmt.Errorf("%s: unexpected argument %q (flags start with --; see phoneboot %s --help)", fs.Name(), pos[maxArgs], fs.Name())
	}
	return pos, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout)
	case "phones":
		return phones(ctx, args[1:], stdout)
	case "sim":
		return simulate(ctx, args[1:], stdout)
	case "firmware":
		return firmwareCmd(ctx, args[1:], stdout)
	case "dhcp":
		return dhcpCmd(args[1:], stdout)
	case "recover":
		return recoverCmd(ctx, args[1:], stdout)
	case "analyze":
		return analyzeCmd(ctx, args[1:], stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "phoneboot", version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
