package api_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/api"
	"phoneboot/internal/config"
	"phoneboot/internal/node"
)

func (s *server) configText() string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.data, "phoneboot.toml"))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

func TestInventoryGetAndPut(t *testing.T) {
	s := start(t, inventory)
	a := s.get("/inventory/00:13:7f:00:00:02").want(t, 200, "")
	entry := a.json["entry"].(string)
	if a.json["line"].(float64) != 15 || !strings.HasPrefix(entry, "[[phone]]\nmac = \"00:13:7F:00:00:02\"") || a.json["mac"] != "00:13:7f:00:00:02" {
		t.Fatalf("entry: %s", a.body)
	}
	s.get("/inventory/00137F0000FF").want(t, 404, "not in the inventory")
	s.get("/inventory/xyz").want(t, 400, "not a MAC")

	// PUT as JSON: written, reloaded at once (the phones list shows it).
	changed := strings.Replace(entry, `label = "Lab"`, `label = "Lab 2"`, 1)
	a = s.sendJSON(http.MethodPut, "/inventory/00137F000002", map[string]string{"entry": changed}).want(t, 200, "")
	if a.json["entry"] != changed || a.json["reload"].(map[string]any)["ok"] != true {
		t.Fatalf("put: %s", a.body)
	}
	if !strings.Contains(s.configText(), `label = "Lab 2"`) {
		t.Error("not written")
	}
	if got := s.get("/phones?q=lab+2").list("phones"); len(got) != 1 || got[0]["label"] != "Lab 2" {
		t.Errorf("the edit did not take effect at once: %v", got)
	}
	// PUT as text/plain, a new phone: 201, appended.
	a = s.do(http.MethodPut, "/inventory/00137F000003", "text/plain; charset=utf-8",
		strings.NewReader("[[phone]]\nmac = \"00137F000003\"\nmodel = \"7941\"\n")).want(t, 201, "")
	if a.header.Get("Location") != "/api/v1/inventory/00:13:7f:00:00:03" || len(s.live.Config().Phones) != 3 {
		t.Errorf("new phone: %s %v", a.body, a.header)
	}

	before := s.configText()
	// A mistake check finds: 422, every problem with its field and lines.
	bad := "\n\n[[phone]]\nmac = \"00137F000002\"\nmodel = \"7999\"\nlabel = \"Lab\"\n  [[phone.line]]\n  extension = \"202\"\n  [[phone.line]]\n  extension = \"203\"\n  password = \"x\"\n"
	a = s.sendJSON(http.MethodPut, "/inventory/00137F000002", map[string]string{"entry": bad}).want(t, 422, "invalid (2 problems), nothing written")
	ps := a.problems()
	if len(ps) != 2 || ps[1]["field"] != "phone.line[0]" || ps[1]["entry_line"].(float64) != 7 || ps[0]["field"] != "phone.model" || ps[0]["entry_line"].(float64) != 5 || ps[0]["line"].(float64) != 17 ||
		!strings.Contains(ps[0]["reason"].(string), `unknown model "7999"`) {
		t.Errorf("problems: %s", a.body)
	}
	bad = strings.Replace(bad, "7999", "7960", 1)
	a = s.sendJSON(http.MethodPut, "/inventory/00137F000002", map[string]string{"entry": bad}).want(t, 422, "invalid (1 problem)")
	if ps := a.problems(); len(ps) != 1 || ps[0]["field"] != "phone.line[0]" || ps[0]["entry_line"].(float64) != 7 ||
		!strings.Contains(ps[0]["reason"].(string), "has no password") {
		t.Errorf("problems: %s", a.body)
	}
	a = s.do(http.MethodPut, "/inventory/00137F000002", "application/toml",
		strings.NewReader("[[phone]]\nmac = \"00137F000002\"\nmodel = \"7960\"\nprotocol = \"H323\"\nlabel = \"far too long a label\"\nip = \"10.0.0\"\n  [[phone.line]]\n  extension = \"1\"\n  password = \"p\"\n  colour = \"red\"\n")).want(t, 422, "problems")
	var fields []string
	for _, p := range a.problems() {
		fields = append(fields, fmt.Sprint(p["field"]))
	}
	if want := "[phone.protocol phone.label phone.ip phone.line[0].colour]"; fmt.Sprint(fields) != want {
		t.Errorf("fields %v, want %s: %s", fields, want, a.body)
	}
	a = s.do(http.MethodPut, "/inventory/00137F000002", "text/plain",
		strings.NewReader("[[phone]]\nmac = \"00137F000002\"\nmodel = \"7960\"\nprotocol = \"H323\"\nip = \"10.0.0\"\n")).want(t, 422, "problems")
	fields = nil
	for _, p := range a.problems() {
		fields = append(fields, fmt.Sprint(p["field"]))
	}
	if fmt.Sprint(fields) != "[phone.protocol phone.ip]" {
		t.Errorf("fields %v: %s", fields, a.body)
	}
	// Every refusal of an entry that is not one entry for the phone.
	for _, c := range []struct{ entry, msg string }{
		{"", "no [[phone]] header"},
		{"model = \"7960\"\n[[phone]]\nmac = \"00137F000002\"\n", "must start with [[phone]]"},
		{"[[phone]]\nmac = \"00137F000002\"\n[[phone]]\nmac = \"00137F000009\"\n", "one phone per entry"},
		{"[[phone]]\nmac = \"00137F000002\"\n[site]\nprotocol = \"SIP\"\n", "not [site]"},
		{"[[phone]]\nmac = \"00137F000002\"\n[oops\n", "not a table header phoneboot knows"},
		{"[[phone]]\nmac = \"00137F000009\"\n", `must keep mac = "00:13:7f:00:00:02"`},
		{"[[phone]]\nmac = \"00137F000002\"\n" + strings.Repeat("#", config.MaxEntry), "more than the 65536"},
		{"[[phone]]\nmac = \"00137F000002\"\nmodel = \"7960\n", "problem"},
	} {
		s.sendJSON(http.MethodPut, "/inventory/00137F000002", map[string]string{"entry": c.entry}).want(t, 422, c.msg)
	}
	// Requests that are not an entry at all.
	put := func(ct, body string) answer {
		return s.do(http.MethodPut, "/inventory/00137F000002", ct, strings.NewReader(body))
	}
	put("application/json", `{"entry": 5}`).want(t, 400, "field entry must be a string, not a number")
	put("application/json", `{"entry": "x", "extra": 1}`).want(t, 400, `unknown field "extra"`)
	put("application/json", `{}`).want(t, 400, `needs "entry"`)
	put("application/json", `{"entry": "x"} {"entry": "y"}`).want(t, 400, "more than one JSON value")
	put("application/json", `{"entry": `).want(t, 400, "not the JSON")
	put("application/json", ``).want(t, 400, "it is empty")
	put("application/xml", `<entry/>`).want(t, 415, "Content-Type application/xml is not taken here")
	put("", `x`).want(t, 415, "Content-Type none")
	put("text/plain", strings.Repeat("#", 256<<10+1)).want(t, 413, "larger than the 256 KiB")
	put("application/json", `{"entry": "`+strings.Repeat("#", 256<<10)+`"}`).want(t, 413, "256 KiB")
	s.do(http.MethodPut, "/inventory/nope", "text/plain", strings.NewReader("x")).want(t, 400, "not a MAC")
	s.do(http.MethodPut, "/inventory/00137F000002?dry=1", "text/plain", strings.NewReader("x")).want(t, 400, "unknown query parameter")
	if s.configText() != before {
		t.Error("a refused PUT changed the file")
	}
}

func TestInventoryAddAndRemove(t *testing.T) {
	s := start(t, inventory)
	add := map[string]any{"mac": "00:13:7f:00:00:10", "model": "CP-7961G", "label": "Hall",
		"lines": []map[string]string{{"extension": "210", "password": "pw", "name": "Hall", "auth_user": "u210"}}}
	a := s.sendJSON(http.MethodPost, "/inventory", add).want(t, 201, "")
	if a.header.Get("Location") != "/api/v1/inventory/00:13:7f:00:00:10" || a.json["reload"].(map[string]any)["ok"] != true ||
		!strings.Contains(a.json["entry"].(string), `auth_user = "u210"`) {
		t.Fatalf("add: %s", a.body)
	}
	if got := s.get("/phones/00137F000010").json["phone"].(map[string]any); got["label"] != "Hall" || got["source"] != "inventory" {
		t.Errorf("the added phone: %v", got)
	}
	s.sendJSON(http.MethodPost, "/inventory", add).want(t, 409, "already in the inventory")

	before := s.configText()
	for _, c := range []struct {
		body   map[string]any
		status int
		msg    string
		fields string
	}{
		{map[string]any{"model": "7960"}, 422, "needs its MAC", "[mac]"},
		{map[string]any{"mac": "bogus"}, 422, `mac "bogus"`, "[mac]"},
		{map[string]any{"mac": "00:00:00:00:00:00"}, 422, "all-zero", "[mac]"},
		{map[string]any{"mac": "00137F000011", "model": "7999"}, 422, "invalid (1 problem)", "[model]"},
		{map[string]any{"mac": "00137F000011", "model": "7960", "protocol": "H323"}, 422, "invalid", "[protocol]"},
		{map[string]any{"mac": "00137F000011", "model": "7960", "label": "a label far too long"}, 422, "invalid", "[label]"},
		{map[string]any{"mac": "00137F000011", "model": "7960", "lines": []map[string]string{{"extension": "1", "password": "p"}, {"extension": "2"}}}, 422, "invalid", "[lines[1]]"},
		{map[string]any{"mac": "00137F000011", "model": "7960", "lines": []map[string]string{{"password": "p"}}}, 422, "invalid", "[lines[0]]"},
	} {
		a := s.sendJSON(http.MethodPost, "/inventory", c.body).want(t, c.status, c.msg)
		var fields []string
		for _, p := range a.problems() {
			fields = append(fields, fmt.Sprint(p["field"]))
		}
		if fmt.Sprint(fields) != c.fields {
			t.Errorf("%v: fields %v, want %s: %s", c.body, fields, c.fields, a.body)
		}
	}
	post := func(ct, body string) answer {
		return s.do(http.MethodPost, "/inventory", ct, strings.NewReader(body))
	}
	post("application/json", `{"mac": "00137F000011", "colour": "red"}`).want(t, 400, `unknown field "colour"`)
	post("application/json", `{"mac": 12}`).want(t, 400, "field mac must be a string")
	post("application/json", `{"mac": "00137F000011", "lines": {}}`).want(t, 400, "field lines must be a list")
	post("application/json", `[1]`).want(t, 400, "must be a object")
	post("text/plain", `mac = "00137F000011"`).want(t, 415, "send application/json")
	post("application/json", `{"label": "`+strings.Repeat("x", 256<<10)+`"}`).want(t, 413, "larger than")
	if s.configText() != before {
		t.Error("a refused POST changed the file")
	}

	a = s.do(http.MethodDelete, "/inventory/0013.7f00.0010", "", nil).want(t, 200, "")
	if a.json["removed"] != "00:13:7f:00:00:10" || a.json["reload"].(map[string]any)["ok"] != true {
		t.Errorf("delete: %s", a.body)
	}
	if s.configText() != inventory {
		t.Errorf("add then remove did not give the file back:\n%s", s.configText())
	}
	s.do(http.MethodDelete, "/inventory/00137F000010", "", nil).want(t, 404, "not in the inventory")
	s.do(http.MethodDelete, "/inventory/bad", "", nil).want(t, 400, "not a MAC")
	s.get("/phones/00137F000010").want(t, 404, "not in the inventory")
}

// A config broken by hand: an edit is refused with the file's own
// problems (outside the entry: no entry line), and a reload after a
// good edit of another file says why it failed.
func TestInventoryEditOfABrokenFile(t *testing.T) {
	s := start(t, inventory)
	broken := inventory + "\n[site2]\n"
	if err := os.WriteFile(filepath.Join(s.data, "phoneboot.toml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	a := s.sendJSON(http.MethodPost, "/inventory", map[string]any{"mac": "00137F000011", "model": "7960"}).want(t, 422, "invalid")
	ps := a.problems()
	if len(ps) != 1 || ps[0]["entry_line"] != nil || ps[0]["field"] != nil || ps[0]["line"].(float64) != 23 {
		t.Errorf("problems: %s", a.body)
	}
	// No config file and none named: the first add creates it.
	s2 := start(t, "")
	a = s2.sendJSON(http.MethodPost, "/inventory", map[string]any{"mac": "00137F000011", "model": "7960", "protocol": "SCCP"}).want(t, 201, "")
	if a.json["line"].(float64) != 1 || len(s2.live.Config().Phones) != 1 {
		t.Errorf("first add: %s", a.body)
	}
	s2.get("/inventory/00137F000012").want(t, 404, "not in the inventory")
}

// An edit is written even when the reload after it fails (here: a
// template phoneboot does not know); the answer says why.
func TestInventoryEditReportsAFailedReload(t *testing.T) {
	s := start(t, inventory)
	if err := os.MkdirAll(filepath.Join(s.data, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.data, "templates", "bogus.tmpl"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := s.sendJSON(http.MethodPost, "/inventory", map[string]any{"mac": "00137F000011", "model": "7960", "protocol": "SCCP"}).want(t, 201, "")
	ro := a.json["reload"].(map[string]any)
	if ro["ok"] != false || !strings.Contains(ro["error"].(string), "bogus.tmpl") || !strings.Contains(s.configText(), "00:13:7f:00:00:11") {
		t.Errorf("reload: %s", a.body)
	}
}

// A config file named with --config that is gone: edits are refused,
// not a new file made where serve was told to look.
func TestInventoryNamedConfigMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.toml")
	if err := os.WriteFile(path, []byte(inventory), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, live: runNamed(t, filepath.Join(dir, "data"), path)}
	srv := httptest.NewServer(http.StripPrefix("/api/v1", api.New(s.live)))
	t.Cleanup(srv.Close)
	s.base = srv.URL + "/api/v1"
	if !s.live.ConfigGiven || s.live.ConfigFile != path {
		t.Fatalf("live: %+v", s.live)
	}
	s.get("/inventory/00137F38B3DE").want(t, 200, "")
	os.Remove(path)
	s.get("/inventory/00137F38B3DE").want(t, 404, "does not exist")
	s.do(http.MethodPut, "/inventory/00137F38B3DE", "text/plain", strings.NewReader("[[phone]]\nmac = \"00137F38B3DE\"\n")).want(t, 409, "does not exist")
	s.sendJSON(http.MethodPost, "/inventory", map[string]any{"mac": "00137F000011"}).want(t, 409, "does not exist")
	s.do(http.MethodDelete, "/inventory/00137F38B3DE", "", nil).want(t, 404, "does not exist")
	if _, err := os.Stat(path); err == nil {
		t.Error("an edit made the named config file")
	}
}

// runNamed runs node.Run with a config file named as --config names it
// (nodetest takes serve's flags, which --config is not one of), and
// returns its Live.
func runNamed(t *testing.T, data, configFile string) node.Live {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	opts := node.Flags(fs)
	if err := fs.Parse([]string{"--tftp-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--http-addr", "", "--syslog-addr", ""}); err != nil {
		t.Fatal(err)
	}
	o, err := opts()
	if err != nil {
		t.Fatal(err)
	}
	o.Data, o.ConfigFile, o.Grace = data, configFile, time.Second
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	lives := make(chan node.Live, 1)
	o.Admin = func(l node.Live) (http.Handler, error) {
		lives <- l
		return http.NotFoundHandler(), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("node did not stop within 15s")
		}
	})
	select {
	case l := <-lives:
		return l
	case err := <-done:
		t.Fatalf("node did not start: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("node did not start within 15s")
	}
	return node.Live{}
}
