package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/store"
	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp/tftptest"
)

// docsBase is the address docs/api.md's examples use.
const docsBase = "http://127.0.0.1:8069"

// readmeInventory is the first inventory of README.md, which the
// examples of docs/api.md run against.
func readmeInventory(t *testing.T) string {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "cat > phoneboot-data/phoneboot.toml <<'TOML'\n")
	text, _, ok2 := strings.Cut(rest, "    TOML\n")
	if !ok || !ok2 {
		t.Fatal("README.md has no inventory example")
	}
	var out strings.Builder
	for l := range strings.SplitSeq(text, "\n") {
		out.WriteString(strings.TrimPrefix(l, "    ") + "\n")
	}
	return out.String()
}

// statusComment is the "# 422" at the end of an example: the status it
// answers.
var statusComment = regexp.MustCompile(`\s+#\s*(\d{3})\s*$`)

// TestDocsExamplesRunWithCurl runs every command of docs/api.md with
// real curl against a real phoneboot, in order, and checks each answers
// JSON with the status the docs say (2xx unless a "# NNN" says other).
func TestDocsExamplesRunWithCurl(t *testing.T) {
	testutil.Tool(t, "curl")
	testutil.Tool(t, "sh")
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, readmeInventory(t))
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "cmterm-7960-sip.8-12-00.zip"), sip812Zip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	// The phone boots once (simulated, from its own address): the
	// events examples have events to show.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := tftptest.Client{Server: s.tftp, Local: netip.MustParseAddr("127.0.0.2"), Timeout: time.Second, Retries: 3}
	for _, name := range []string{"CTLSEP00137F38B3DE.tlv", "SEP00137F38B3DE.cnf.xml", "SIP00137F38B3DE.cnf"} {
		c.Get(ctx, name, io.Discard) // the CTL file is not found, as on a real boot
	}
	waitFor(t, "the boot's events", func() bool {
		evs, err := s.live.Store.EventsPage(ctx, store.EventPage{Limit: 3})
		return err == nil && len(evs) == 3
	})
	host := strings.TrimSuffix(s.base, "/api/v1")
	ran := 0
	for line := range strings.SplitSeq(string(doc), "\n") {
		cmd := strings.TrimSpace(line)
		if !strings.Contains(cmd, docsBase) || !(strings.HasPrefix(cmd, "curl ") || strings.HasPrefix(cmd, "printf ") || strings.HasPrefix(cmd, "before=")) {
			continue
		}
		ran++
		cmd = strings.ReplaceAll(cmd, docsBase, host)
		want := 0
		if m := statusComment.FindStringSubmatch(cmd); m != nil {
			want, _ = strconv.Atoi(m[1])
			cmd = cmd[:len(cmd)-len(m[0])]
		}
		loop := strings.HasPrefix(cmd, "before=")
		if !loop {
			cmd += ` -w '\n%{http_code}'`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Dir = work
		c.Env = append(os.Environ(), "PHONEBOOT_ADMIN_TOKEN=")
		out, err := c.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
			continue
		}
		if loop {
			if !strings.Contains(string(out), `"events"`) {
				t.Errorf("%s:\n%s", line, out)
			}
			continue
		}
		i := strings.LastIndexByte(string(out), '\n')
		body, code := out[:max(i, 0)], string(out[i+1:])
		status, _ := strconv.Atoi(code)
		if want == 0 && (status < 200 || status > 299) || want != 0 && status != want {
			t.Errorf("%s: status %s, want %v:\n%s", line, code, map[bool]any{true: "2xx", false: want}[want == 0], body)
		}
		t.Logf("%s\n%s", cmd, body)
		if !json.Valid(body) {
			t.Errorf("%s: not JSON:\n%s", line, body)
		}
	}
	if ran < 20 {
		t.Errorf("ran %d examples of docs/api.md; the test no longer finds them", ran)
	}
}
