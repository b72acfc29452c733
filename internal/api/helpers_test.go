package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/api"
	"phoneboot/internal/event"
	"phoneboot/internal/node"
	"phoneboot/internal/node/nodetest"
	"phoneboot/internal/phone"
)

// inventory is the test's phoneboot.toml: two phones, one targeted at a
// load.
const inventory = `[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"
[site.loads]
7960 = "P0S3-8-12-00"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7960"
label = "Reception"
  [[phone.line]]
  extension = "201"
  password = "s3cret"

[[phone]]
mac = "00:13:7F:00:00:02"
model = "7961"
label = "Lab"
  [[phone.line]]
  extension = "202"
  password = "pw202"
`

var (
	reception = mustMAC("00137F38B3DE")
	lab       = mustMAC("00137F000002")
)

func mustMAC(s string) phone.MAC {
	m, err := phone.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// server is a real node (store, catalog, provisioner, config file) with
// the API at base+"/api/v1".
type server struct {
	t    *testing.T
	live node.Live
	base string // http://127.0.0.1:PORT/api/v1
	data string
	tftp netip.AddrPort
}

func start(t *testing.T, config string) *server {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(data, "phoneboot.toml"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n := nodetest.Start(t, data, func(l node.Live) (http.Handler, error) {
		mux := http.NewServeMux()
		mux.Handle("/api/v1/", http.StripPrefix("/api/v1", api.New(l)))
		return mux, nil
	})
	return &server{t: t, live: n.Live, base: n.Admin + "/api/v1", data: data, tftp: n.TFTP}
}

// record stores events as the node's writer would.
func (s *server) record(evs ...event.Event) {
	s.t.Helper()
	if err := s.live.Store.Record(context.Background(), evs); err != nil {
		s.t.Fatal(err)
	}
}

// answer is a response: status, headers, body, and the body decoded.
type answer struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (s *server) do(method, path, contentType string, body io.Reader) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}
	if method != http.MethodHead {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			s.t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
		}
		if err := json.Unmarshal(b, &a.json); err != nil {
			s.t.Fatalf("%s %s: not JSON: %v\n%s", method, path, err, b)
		}
	}
	return a
}

func (s *server) get(path string) answer { return s.do(http.MethodGet, path, "", nil) }

func (s *server) sendJSON(method, path string, v any) answer {
	s.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.do(method, path, "application/json", bytes.NewReader(b))
}

// want fails unless the answer has status; an error answer must have
// the error shape with a message containing msg.
func (a answer) want(t *testing.T, status int, msg string) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if status >= 400 {
		e, ok := a.json["error"].(map[string]any)
		if !ok || int(e["status"].(float64)) != status || !strings.Contains(e["message"].(string), msg) {
			t.Fatalf("error answer %s, want status %d and a message with %q", a.body, status, msg)
		}
	}
	return a
}

// problems are the error's problems.
func (a answer) problems() []map[string]any {
	e, _ := a.json["error"].(map[string]any)
	ps, _ := e["problems"].([]any)
	var out []map[string]any
	for _, p := range ps {
		out = append(out, p.(map[string]any))
	}
	return out
}

// list is a field of the answer as a list of objects.
func (a answer) list(field string) []map[string]any {
	var out []map[string]any
	for _, v := range a.json[field].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 5s", what)
		}
	}
}
