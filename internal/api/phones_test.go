package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/api"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
)

// boot records a phone's boot: DHCP, its files, a syslog line.
func boot(s *server, at time.Time, ip string) {
	a := netip.MustParseAddr(ip)
	s.record(
		event.Event{Time: at, MAC: reception, IP: a, Source: event.DHCP, Kind: event.DHCPAck},
		event.Event{Time: at.Add(time.Second), MAC: reception, IP: a, Source: event.TFTP, Kind: event.Request, File: "CTLSEP00137F38B3DE.tlv", Outcome: event.NotFound},
		event.Event{Time: at.Add(2 * time.Second), MAC: reception, IP: a, Source: event.TFTP, Kind: event.Request, File: "SEP00137F38B3DE.cnf.xml", Outcome: event.OK, Bytes: 1234},
		event.Event{Time: at.Add(3 * time.Second), MAC: reception, IP: a, Source: event.Syslog, Kind: event.SyslogLine, Detail: "evil\u202etxt \x1b[2J"},
	)
}

func TestPhonesListsAsTheCLIDoes(t *testing.T) {
	s := start(t, inventory)
	boot(s, time.Now().Add(-time.Minute), "192.0.2.50")
	unknown := mustMAC("00137F0000AA")
	s.record(event.Event{Time: time.Now(), MAC: unknown, IP: netip.MustParseAddr("192.0.2.7"), Source: event.TFTP, Kind: event.Request, File: "SEP00137F0000AA.cnf.xml", Outcome: event.OK,
		Facts: event.Facts{Model: "79\u202e60"}})

	a := s.get("/phones").want(t, 200, "")
	if a.json["total"].(float64) != 3 || a.header.Get("X-Total-Count") != "3" || a.json["count"].(float64) != 3 {
		t.Fatalf("total: %s", a.body)
	}
	// The rows are fleet.Rows, as `phoneboot phones --json` prints them.
	var got struct{ Phones []fleet.Row }
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatal(err)
	}
	want, err := s.live.Fleet().Phones(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got.Phones {
		w := want[i]
		if r.MAC != w.MAC || r.Label != w.Label || r.Model != w.Model || r.IP != w.IP || r.State != w.State ||
			r.Target != w.Target || r.Source != w.Source || !r.LastSeen.Equal(w.LastSeen) || len(r.Findings) != len(w.Findings) {
			t.Errorf("row %d: %+v\nwant %+v", i, r, w)
		}
	}
	if got.Phones[0].MAC != reception || got.Phones[0].IP != "192.0.2.50" || got.Phones[2].MAC != unknown || got.Phones[2].Source != "auto" {
		t.Errorf("rows: %s", a.body)
	}
	// Times in UTC, MACs as phoneboot prints them, nothing raw for a
	// terminal.
	for _, w := range []string{`"last_seen": "` + got.Phones[0].LastSeen.UTC().Format(time.RFC3339Nano) + `"`, `"mac":"00:13:7f:38:b3:de"`} {
		if !strings.Contains(strings.ReplaceAll(string(a.body), `": "`, `":"`), strings.ReplaceAll(w, `": "`, `":"`)) {
			t.Errorf("answer lacks %s:\n%s", w, a.body)
		}
	}

	// What a sender named is escaped for terminals, the value the same.
	if strings.Contains(string(a.body), "\u202e") || !strings.Contains(string(a.body), `79\u202e60`) || got.Phones[2].Model != "79\u202e60" {
		t.Errorf("model not inert: %q", got.Phones[2].Model)
	}

	for _, c := range []struct {
		query string
		macs  []string
	}{
		{"?source=inventory", []string{"00:13:7f:38:b3:de", "00:13:7f:00:00:02"}},
		{"?source=auto", []string{"00:13:7f:00:00:aa"}},
		{"?state=never+seen", []string{"00:13:7f:00:00:02"}},
		{"?model=CP-7961G", []string{"00:13:7f:00:00:02"}},
		{"?model=7960,7961", []string{"00:13:7f:38:b3:de", "00:13:7f:00:00:02"}},
		{"?q=recep", []string{"00:13:7f:38:b3:de"}},
		{"?q=0013.7f00", []string{"00:13:7f:00:00:02", "00:13:7f:00:00:aa"}},
		{"?q=192.0.2.7", []string{"00:13:7f:00:00:aa"}},
		{"?q=nothing-like-it", nil},
		{"?sort=mac", []string{"00:13:7f:00:00:02", "00:13:7f:00:00:aa", "00:13:7f:38:b3:de"}},
		{"?sort=-mac", []string{"00:13:7f:38:b3:de", "00:13:7f:00:00:aa", "00:13:7f:00:00:02"}},
		{"?sort=-last_seen,mac", []string{"00:13:7f:00:00:aa", "00:13:7f:38:b3:de", "00:13:7f:00:00:02"}},
		{"?sort=ip", []string{"00:13:7f:00:00:02", "00:13:7f:00:00:aa", "00:13:7f:38:b3:de"}},
		{"?sort=label&limit=1", []string{"00:13:7f:00:00:aa"}},
		{"?sort=label&limit=1&offset=1", []string{"00:13:7f:00:00:02"}},
		{"?offset=5", nil},
	} {
		a := s.get("/phones"+c.query).want(t, 200, "")
		var macs []string
		for _, p := range a.list("phones") {
			macs = append(macs, p["mac"].(string))
		}
		if fmt.Sprint(macs) != fmt.Sprint(c.macs) {
			t.Errorf("%s: %v, want %v", c.query, macs, c.macs)
		}
	}
	if a := s.get("/phones?sort=label&limit=1"); a.json["total"].(float64) != 3 || a.json["count"].(float64) != 1 {
		t.Errorf("paging total: %s", a.body)
	}

	for _, c := range []struct{ query, msg string }{
		{"?limit=0", "limit"},
		{"?limit=-1", "limit"},
		{"?limit=abc", "want a whole number"},
		{"?limit=100001", "from 1 to 100000"},
		{"?offset=-3", "offset"},
		{"?sort=colour", `"colour" is not a key`},
		{"?source=mars", "want inventory or auto"},
		{"?stat=stuck", `unknown query parameter "stat"`},
		{"?limit=1&limit=2", "given 2 times"},
	} {
		s.get("/phones"+c.query).want(t, 400, c.msg)
	}
}

func TestPhoneWithTimelineAndFindings(t *testing.T) {
	s := start(t, inventory)
	boot(s, time.Now().Add(-time.Minute), "192.0.2.50")
	a := s.get("/phones/0013.7f38.b3de").want(t, 200, "")
	p := a.json["phone"].(map[string]any)
	if p["mac"] != "00:13:7f:38:b3:de" || p["label"] != "Reception" || p["target"] != "P0S3-8-12-00" {
		t.Errorf("phone: %s", a.body)
	}
	if _, ok := p["findings"].([]any); !ok {
		t.Errorf("no findings list: %s", a.body)
	}
	evs := a.list("events")
	if len(evs) != 4 || evs[0]["kind"] != "syslog" || evs[3]["kind"] != "ack" || a.json["next_before"] != nil {
		t.Fatalf("events, newest first: %s", a.body)
	}
	// A terminal control in a syslog line is escaped, the value the same.
	if strings.Contains(string(a.body), "\u202e") || strings.Contains(string(a.body), "\x1b") || evs[0]["detail"] != "evil\u202etxt \x1b[2J" {
		t.Errorf("syslog line not inert: %q", evs[0]["detail"])
	}
	if !strings.HasSuffix(evs[0]["time"].(string), "Z") {
		t.Errorf("time not UTC: %v", evs[0]["time"])
	}
	// Paging: two at a time, the cursor leads to the rest.
	a = s.get("/phones/00:13:7F:38:B3:DE?limit=2").want(t, 200, "")
	first := a.list("events")
	next := a.json["next_before"].(float64)
	if len(first) != 2 || next != first[1]["id"].(float64) {
		t.Fatalf("page 1: %s", a.body)
	}
	a = s.get(fmt.Sprintf("/phones/00137F38B3DE?limit=2&before=%d", int(next))).want(t, 200, "")
	second := a.list("events")
	if len(second) != 2 || second[0]["id"].(float64) >= next || second[1]["kind"] != "ack" {
		t.Fatalf("page 2: %s", a.body)
	}
	a = s.get(fmt.Sprintf("/phones/00137F38B3DE?limit=2&before=%d", int(a.json["next_before"].(float64)))).want(t, 200, "")
	if len(a.list("events")) != 0 || a.json["next_before"] != nil {
		t.Fatalf("page 3: %s", a.body)
	}

	// An inventory phone never seen: its row, no events.
	a = s.get("/phones/00137F000002").want(t, 200, "")
	if a.json["phone"].(map[string]any)["state"] != fleet.NeverSeen || len(a.list("events")) != 0 {
		t.Errorf("never seen: %s", a.body)
	}
	s.get("/phones/00137F0000FF").want(t, 404, "not in the inventory and has not been seen")
	s.get("/phones/not-a-mac").want(t, 400, `"not-a-mac" is not a MAC address`)
	s.get("/phones/000000000000").want(t, 400, "all-zero")
	s.get("/phones/00137F38B3DE?limit=1001").want(t, 400, "from 1 to 1000")
	s.get("/phones/00137F38B3DE?before=x").want(t, 400, "before")
	s.get("/phones/00137F38B3DE?before=0").want(t, 400, "before")
	s.get("/phones/00137F38B3DE?reveal=1").want(t, 400, "unknown query parameter")
}

func TestFilesMaskPasswordsUnlessRevealed(t *testing.T) {
	s := start(t, inventory)
	a := s.get("/phones/00137F38B3DE/files").want(t, 200, "")
	files := a.list("files")
	if len(files) != 2 || files[0]["name"] != "SEP00137F38B3DE.cnf.xml" || files[1]["name"] != "SIP00137F38B3DE.cnf" || a.json["revealed"] != false {
		t.Fatalf("files: %s", a.body)
	}
	if strings.Contains(string(a.body), "s3cret") || !strings.Contains(files[1]["content"].(string), "********") {
		t.Errorf("a masked answer shows the password:\n%s", a.body)
	}
	for _, q := range []string{"?reveal=0", "?reveal=false", "?reveal=no"} {
		if a := s.get("/phones/00137F38B3DE/files"+q).want(t, 200, ""); strings.Contains(string(a.body), "s3cret") {
			t.Errorf("%s shows the password", q)
		}
	}
	// Every phone, masked: none of the inventory's passwords.
	if a := s.get("/phones/00137F000002/files").want(t, 200, ""); strings.Contains(string(a.body), "pw202") {
		t.Errorf("the Lab phone's password shows")
	}
	a = s.get("/phones/00137F38B3DE/files?reveal=1").want(t, 200, "")
	if !strings.Contains(a.list("files")[1]["content"].(string), "s3cret") || a.json["revealed"] != true {
		t.Errorf("reveal=1 does not show the password:\n%s", a.body)
	}
	if int(a.list("files")[0]["size"].(float64)) != len(a.list("files")[0]["content"].(string)) {
		t.Errorf("size is not the content's")
	}
	s.get("/phones/00137F38B3DE/files?reveal=maybe").want(t, 400, "want 1 or 0")
	s.get("/phones/00137F0000FF/files").want(t, 404, "not in the inventory")
	s.get("/phones/zz/files").want(t, 400, "not a MAC")
}

func TestEventsPaging(t *testing.T) {
	s := start(t, inventory)
	base := time.Now().Add(-time.Hour)
	var evs []event.Event
	for i := range 25 {
		mac := reception
		if i%5 == 0 {
			mac = lab
		}
		evs = append(evs, event.Event{Time: base.Add(time.Duration(i) * time.Second), MAC: mac, IP: netip.MustParseAddr("192.0.2.9"),
			Source: event.TFTP, Kind: event.Request, File: fmt.Sprintf("f%02d", i), Outcome: event.OK})
	}
	evs = append(evs, event.Event{Time: base, Source: event.TFTP, Kind: event.Request, File: "stray", Outcome: event.NotFound})
	s.record(evs...)

	// Every event, ten at a time, newest first, each once.
	var files []string
	path := "/events?limit=10"
	for range 10 {
		a := s.get(path).want(t, 200, "")
		for _, e := range a.list("events") {
			files = append(files, e["file"].(string))
		}
		next, ok := a.json["next_before"].(float64)
		if !ok {
			break
		}
		path = fmt.Sprintf("/events?limit=10&before=%d", int(next))
	}
	if len(files) != 26 || files[0] != "stray" || files[1] != "f24" || files[25] != "f00" {
		t.Fatalf("pages: %v", files)
	}
	a := s.get("/events?mac=00:13:7f:00:00:02").want(t, 200, "")
	if got := a.list("events"); len(got) != 5 || got[0]["file"] != "f20" {
		t.Errorf("mac filter: %s", a.body)
	}
	if got := s.get("/events?kind=request&limit=3").list("events"); len(got) != 3 {
		t.Errorf("kind filter: %v", got)
	}
	if got := s.get("/events?kind=ack").list("events"); len(got) != 0 {
		t.Errorf("kind ack: %v", got)
	}
	if got := s.get("/events").list("events"); len(got) != 26 {
		t.Errorf("default page: %d", len(got))
	}
	s.get("/events?limit=1000").want(t, 200, "")
	for _, c := range []struct{ query, msg string }{
		{"?limit=1001", "from 1 to 1000"},
		{"?limit=0", "from 1 to 1000"},
		{"?before=-1", "before"},
		{"?before=1e3", "before"},
		{"?mac=nope", `mac="nope" is not a MAC`},
		{"?kind=" + strings.Repeat("x", 65), "longer than any kind"},
		{"?page=2", "unknown query parameter"},
	} {
		s.get("/events"+c.query).want(t, 400, c.msg)
	}
}

func TestRoutesAnswerInOneShape(t *testing.T) {
	s := start(t, inventory)
	s.get("/nothing/here").want(t, 404, "no API endpoint /nothing/here")
	s.get("/firmware?x=1").want(t, 400, "(this endpoint takes: none)")
	s.get("/phones/00137F38B3DE/files/extra").want(t, 404, "no API endpoint")
	a := s.do(http.MethodPost, "/phones", "application/json", strings.NewReader("{}")).want(t, 405, "POST is not allowed on /phones")
	if a.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow: %q", a.header.Get("Allow"))
	}
	a = s.do(http.MethodPatch, "/inventory/00137F38B3DE", "", nil).want(t, 405, "not allowed")
	if allow := a.header.Get("Allow"); !strings.Contains(allow, "PUT") || !strings.Contains(allow, "DELETE") || !strings.Contains(allow, "GET") {
		t.Errorf("Allow: %q", allow)
	}
	s.do(http.MethodDelete, "/phones/00137F38B3DE", "", nil).want(t, 405, "DELETE is not allowed")
	a = s.get("/").want(t, 200, "")
	if len(a.json["endpoints"].([]any)) < 10 || a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("index: %s", a.body)
	}
	if a := s.do(http.MethodHead, "/phones", "", nil); a.status != 200 || len(a.body) != 0 {
		t.Errorf("HEAD: %d %q", a.status, a.body)
	}
}

func TestWriteErrorIsTheAPIsShape(t *testing.T) {
	rec := httptest.NewRecorder()
	api.WriteError(rec, http.StatusUnauthorized, "a token is needed")
	var got struct{ Error api.Error }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Error.Status != 401 || got.Error.Message != "a token is needed" ||
		rec.Code != 401 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("WriteError: %d %q %v", rec.Code, rec.Body, err)
	}
}
