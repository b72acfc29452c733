package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"phoneboot/internal/tftp/tftptest"
)

// TestNetworkTextPrintsInert (issue 12 finding 6): a phone's syslog line
// carrying ESC[2J, a carriage return, a line feed and a forged second
// timeline line ("… phone upgraded"), and a file name with an OSC title
// sequence and a bidi override, reach the store as sent; phoneboot phones
// and phones show print them escaped, on the line they belong to, with no
// control byte a terminal would act on; the JSON output decodes to what
// was sent.
func TestNetworkTextPrintsInert(t *testing.T) {
	p, port, data := serve(t, "--syslog-addr", "127.0.0.1:0")
	sport := p.listenAddr(t, "syslog listening", 5*time.Second)
	phoneAddr := netip.MustParseAddr("127.0.0.7")
	c := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Local: phoneAddr,
		Timeout: 500 * time.Millisecond, Retries: 4}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The phone's own config: phoneboot now knows it at 127.0.0.7. Then a
	// name with escapes, answered "not found" and kept in its timeline.
	if _, err := c.Get(ctx, "SEP00137F0000DD.cnf.xml", &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	const badName = "x\x1b]0;owned\x07\u202egnp.cnf"
	c.Get(ctx, badName, &bytes.Buffer{})

	const forged = "2026-12-03 15:00:00.000  provision  upgrade  SEP00137F0000DD.cnf.xml  phone upgraded to P0S3-8-12-00"
	const line = "Registration failed: 401\x1b[2J\r\n" + forged + "\u009b31m\x7f"
	conn, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(phoneAddr, 0)), net.UDPAddrFromAddrPort(sport))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Sent raw, so that every byte arrives as written (logger would
	// rewrite some); no PRI: kept as a raw line.
	if _, err := conn.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}

	show := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runQuick(t, append(append([]string{"phones"}, args...), "--data", data)...)
		if code != 0 {
			t.Fatalf("phones %v: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	var out string
	waitFor(t, func() bool { // until the event writer has flushed both
		_, out, _ = runQuick(t, "phones", "show", "00137F0000DD", "--data", data)
		return strings.Contains(out, "Registration failed: 401") && strings.Contains(out, "gnp.cnf")
	})
	inert := func(what, s string) {
		t.Helper()
		for i, r := range s {
			if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r == utf8.RuneError {
				t.Errorf("%s: %U at byte %d:\n%q", what, r, i, s)
				return
			}
		}
	}
	inert("phones show", out)
	want := `Registration failed: 401\x1b[2J\x0d\x0a` + forged + `\u009b31m\x7f`
	var syslogLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Registration failed") {
			syslogLine = l
		}
		if strings.HasPrefix(l, "2026-12-03 15:00:00.000") {
			t.Errorf("the forged line stands on a line of its own:\n%s", out)
		}
	}
	if !strings.HasSuffix(syslogLine, want) {
		t.Errorf("phones show prints the syslog line as\n%s\nwant it to end in\n%s", syslogLine, want)
	}
	if !strings.Contains(out, `x\x1b]0;owned\x07\u202egnp.cnf`) {
		t.Errorf("phones show lacks the escaped file name:\n%s", out)
	}
	inert("phones", show())

	// JSON keeps what was received: a script decodes the very bytes.
	var v struct {
		Events []struct{ File, Detail string } `json:"events"`
	}
	js := show("show", "00137F0000DD", "--json")
	inert("phones show --json", js)
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	var sawLine, sawName bool
	for _, ev := range v.Events {
		sawLine = sawLine || ev.Detail == line
		sawName = sawName || ev.File == badName
	}
	if !sawLine || !sawName {
		t.Errorf("JSON events lack the line as sent (%v) or the name (%v):\n%s", sawLine, sawName, js)
	}
}

// TestJSONLogInert: with --log-json, a requested name with a bidi
// override and a C1 control is logged as \u escapes, and decodes to the
// name as sent.
func TestJSONLogInert(t *testing.T) {
	p, port, _ := serve(t, "--log-json", "--syslog-addr", "")
	c := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Local: netip.MustParseAddr("127.0.0.8"),
		Timeout: 500 * time.Millisecond, Retries: 4}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const name = "x\u202egnp\u0085.cnf"
	c.Get(ctx, name, &bytes.Buffer{})
	p.waitLog(t, `gnp\u0085.cnf`, 5*time.Second)
	logged := false
	for _, l := range nonEmptyLines(p.stderr.String()) {
		if strings.ContainsAny(l, "\u202e\u0085") {
			t.Errorf("raw control in the log: %q", l)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line is not JSON: %v: %q", err, l)
		}
		logged = logged || rec["file"] == name
	}
	if !logged {
		t.Errorf("no log line names the file as sent:\n%s", p.stderr)
	}
}
