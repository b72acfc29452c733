package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"phoneboot/internal/testutil"
)

// TestMetrics: `serve` answers /metrics on its admin address; after a
// phone fetched files over TFTP (with curl), a scrape (with curl) is valid
// exposition format and counts the transfers, their bytes, the phone by
// state and provision's decision; later transfers move the counters.
func TestMetrics(t *testing.T) {
	curlBin := testutil.Tool(t, "curl")
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(data, "tftp"), 0o755); err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("dialplan ", 300) // 2,700 bytes: six blocks
	if err := os.WriteFile(filepath.Join(data, "tftp", "dialplan.xml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	p, port, _ := serveData(t, data, "--admin-addr", "127.0.0.1:0", "--http-addr", "", "--syslog-addr", "")
	admin := p.listenAddr(t, "admin web listening", 10*time.Second)
	phoneAt := netip.MustParseAddr("127.0.0.7")
	get := func(name string) error {
		return curlFrom(t, curlBin, phoneAt, port, name, filepath.Join(t.TempDir(), "out"))
	}

	// An unknown phone: its config (auto-provisioned), a shared file, a
	// file that is not there.
	if err := get("SEP00137F000077.cnf.xml"); err != nil {
		t.Fatal(err)
	}
	if err := get("dialplan.xml"); err != nil {
		t.Fatal(err)
	}
	if err := get("nothere.xml"); err == nil {
		t.Fatal("curl got a file that is not there")
	}
	// The phones are counted once per 30s at most: scrape once the store
	// has the phone.
	waitFor(t, func() bool { return strings.Contains(phonesTable(t, data), "00:13:7f:00:00:77") })

	first := scrapeMetrics(t, curlBin, admin)
	ok := metricValue(t, first, "phoneboot_files_transfers_total", "protocol", "tftp", "outcome", "ok")
	if ok != 2 || metricValue(t, first, "phoneboot_files_transfers_total", "protocol", "tftp", "outcome", "not-found") != 1 {
		t.Errorf("transfers: %v ok, want 2 and 1 not-found", ok)
	}
	if b := metricValue(t, first, "phoneboot_files_sent_bytes_total", "protocol", "tftp"); b < float64(len(content)) {
		t.Errorf("%v bytes sent, want at least %d", b, len(content))
	}
	if n := metricValue(t, first, "phoneboot_provision_decisions_total", "kind", "auto-provisioned"); n != 1 {
		t.Errorf("%v auto-provisioned decisions, want 1", n)
	}
	var phones float64
	for _, s := range first["phoneboot_phones"].GetMetric() {
		phones += s.GetGauge().GetValue()
	}
	if phones != 1 || metricValue(t, first, "phoneboot_phones", "state", "never-seen") != 0 {
		t.Errorf("phones by state: %v phones in all, want the one seen", phones)
	}
	if metricValue(t, first, "phoneboot_tftp_active_transfers") != 0 || metricValue(t, first, "phoneboot_events_written_total") < 1 {
		t.Error("want no transfer running, and the phone's events written")
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if first[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	for name := range first {
		// Services that do not run say nothing (rather than zeros).
		if strings.HasPrefix(name, "phoneboot_dhcp_") || strings.HasPrefix(name, "phoneboot_syslog_") {
			t.Errorf("%s, but DHCP and syslog are off", name)
		}
	}

	if err := get("dialplan.xml"); err != nil {
		t.Fatal(err)
	}
	second := scrapeMetrics(t, curlBin, admin)
	if got := metricValue(t, second, "phoneboot_files_transfers_total", "protocol", "tftp", "outcome", "ok"); got != ok+1 {
		t.Errorf("after one more transfer: %v ok, want %v", got, ok+1)
	}
	if a, b := metricValue(t, first, "phoneboot_phones_counted_timestamp_seconds"), metricValue(t, second, "phoneboot_phones_counted_timestamp_seconds"); a != b {
		t.Errorf("phones counted again %vs later, want the counts kept for 30s", b-a)
	}
}

// scrapeMetrics fetches /metrics with curl and parses the text format.
func scrapeMetrics(t *testing.T, curlBin string, admin netip.AddrPort) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curlBin, "-sS", "--fail", "-D", "-", fmt.Sprintf("http://%s/metrics", admin)).Output()
	if err != nil {
		t.Fatalf("curl /metrics: %v", err)
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	if !strings.Contains(strings.ToLower(head), "content-type: text/plain; version=0.0.4") {
		t.Errorf("not the text format:\n%s", head)
	}
	parser := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not valid exposition format: %v\n%s", err, body)
	}
	return fams
}

// metricValue is the value of the series of family name with the labels given
// (name, value, …); the test fails when there is none.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	for _, s := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range s.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if match {
			return s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func phonesTable(t *testing.T, data string) string {
	t.Helper()
	code, stdout, stderr := runQuick(t, "phones", "--data", data)
	if code != 0 {
		t.Fatalf("phones: %d %s", code, stderr)
	}
	return stdout
}
