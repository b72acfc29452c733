package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/track"
)

func TestMaskEntry(t *testing.T) {
	entry := "[[phone]]\nmac = \"00:13:7F:38:B3:DE\"\n  [[phone.line]]\n  password = \"a\\\"b\" # quoted\n  [[phone.line]]\n  password='lit'\n"
	m := maskEntry(entry)
	if strings.Contains(m, `a\"b`) || strings.Contains(m, "lit") || strings.Count(m, `"********"`) != 2 || !strings.Contains(m, "# quoted") {
		t.Fatalf("masked:\n%s", m)
	}
	back, err := unmaskEntry(m, entry)
	if err != nil || back != entry {
		t.Fatalf("unmasked (%v):\n%s", err, back)
	}
	// A password typed anew stays; CRLF from a browser's textarea too.
	edited := strings.ReplaceAll(strings.Replace(m, `"********"`, `"new"`, 1), "\n", "\r\n")
	back, err = unmaskEntry(edited, entry)
	if err != nil || !strings.Contains(back, `password = "new"`) || !strings.Contains(back, "password='lit'\r\n") {
		t.Fatalf("edited (%v):\n%q", err, back)
	}
	if _, err := unmaskEntry(m+"  [[phone.line]]\n  password = \"********\"\n", entry); err == nil || !strings.Contains(err.Error(), "entry line 8") {
		t.Fatalf("a new masked line: %v", err)
	}
}

func TestPhoneQuery(t *testing.T) {
	r := fleet.Row{MAC: phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}, Label: "Front Desk", Model: "7960", IP: "10.0.0.5",
		State: track.PhaseStuck, Findings: []track.Finding{{Rule: "ctl-loop", Severity: track.SevError, Symptom: "loops on CTL"}}}
	for q, want := range map[string]bool{
		"": true, "front desk": true, "FRONT": true, "00137f38b3de": true, "00-13-7f-38-b3-de": true, "0013.7f38.b3de": true,
		"SEP00137F38B3DE": true, "10.0.0.5": true, "ctl-loop": true, "front lobby": false, "7940": false,
	} {
		if got := parsePhoneQuery(url.Values{"q": {q}}).matches(&r); got != want {
			t.Errorf("q=%q: %v", q, got)
		}
	}
	if !(phoneQuery{State: "attention"}).matches(&r) || (phoneQuery{State: "up to date"}).matches(&r) {
		t.Error("state filters")
	}
	q := parsePhoneQuery(url.Values{"sort": {"label"}, "page": {"3"}})
	if got := q.SortURL("label"); got != "/phones?dir=desc&sort=label" {
		t.Errorf("SortURL same key: %s", got)
	}
	if got := parsePhoneQuery(url.Values{"sort": {"evil"}}).Sort; got != "" {
		t.Errorf("unknown sort key kept: %q", got)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	mac := phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}
	evs := []event.Event{
		{Time: t0, MAC: mac, Source: event.DHCP, Kind: event.DHCPAck},
		{Time: t0.Add(time.Second), MAC: mac, Source: event.TFTP, Kind: event.Request, File: "CTLSEP00137F38B3DE.tlv", Outcome: event.NotFound},
		{Time: t0.Add(3 * time.Second), Duration: time.Second, MAC: mac, Source: event.TFTP, Kind: event.Request, File: "P0S3-8-12-00.sb2", Outcome: event.OK, Bytes: 1 << 20},
		{Time: t0.Add(4 * time.Second), MAC: mac, Source: event.Provision, Kind: event.LoopBreaker, File: "<b>"},
		{Time: t0.Add(5 * time.Second), MAC: mac, Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-12-00"}},
		{Time: t0.Add(6 * time.Second), MAC: mac, Source: event.Syslog, Kind: event.SyslogLine, Detail: "hello"},
	}
	tl := drawTimeline(evs)
	if tl.Empty || len(tl.Marks) != 6 {
		t.Fatalf("marks: %+v", tl.Marks)
	}
	var boots, loads int
	for _, l := range tl.Lines {
		switch l.Class {
		case "boot":
			boots++
		case "load":
			loads++
		}
	}
	if boots != 1 || loads != 1 {
		t.Errorf("lines: %+v", tl.Lines)
	}
	for _, m := range tl.Marks {
		if m.Shape == "bar" && (m.X < tlLeft || m.X+m.W > tl.RightX+0.01) {
			t.Errorf("bar outside the picture: %+v", m)
		}
	}
	if bar := tl.Marks[2]; bar.Class != "ok" || bar.W < 50 || !strings.Contains(bar.Title, "1.0 MiB in 1s") {
		t.Errorf("the component's bar: %+v", bar)
	}
	if !drawTimeline(nil).Empty {
		t.Error("no events: not empty")
	}
}
