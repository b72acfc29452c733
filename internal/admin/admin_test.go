package admin

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/node"
	"phoneboot/internal/node/nodetest"
	"phoneboot/internal/phone"
	"phoneboot/internal/tftp/tftptest"
)

const testToken = "0123456789abcdef-test"

const inventory = `[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"

[[phone]]
mac = "00:13:7F:38:B3:DE"
model = "7960"
label = "Reception"
  [[phone.line]]
  extension = "201"
  password = "s3cret-201"

[[phone]]
mac = "00:13:7F:00:00:02"
model = "7940"
label = "Alpha"

[[phone]]
mac = "00:13:7F:00:00:03"
model = "7960"
label = "Zulu"
`

var reception = phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}

type server struct {
	*nodetest.Node
	data   string
	client *http.Client
}

// start runs a node with the admin server of token over the config text.
func start(t *testing.T, token, config string) *server {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(data, "phoneboot.toml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := nodetest.Start(t, data, func(l node.Live) (http.Handler, error) {
		return New(l, Options{Addr: "127.0.0.1:0", Token: token})
	})
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &server{Node: n, data: data, client: c}
}

// do sends a request and returns the answer with its body read.
func (s *server) do(t *testing.T, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.Admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (s *server) get(t *testing.T, path string, hdr ...string) (*http.Response, string) {
	return s.do(t, "GET", path, nil, hdr...)
}

func (s *server) postForm(t *testing.T, path string, form url.Values, hdr ...string) (*http.Response, string) {
	return s.do(t, "POST", path, strings.NewReader(form.Encode()), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

func want(t *testing.T, what string, resp *http.Response, body string, status int, subs ...string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d; body:\n%.2000s", what, resp.StatusCode, status, body)
	}
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s: body lacks %q:\n%.3000s", what, s, body)
		}
	}
}

// boot has a simulated phone fetch its config over TFTP from its own address.
func boot(t *testing.T, s *server, from string, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := tftptest.Client{Server: s.TFTP, Local: netip.MustParseAddr(from), Timeout: time.Second, Retries: 3}
	for _, n := range names {
		c.Get(ctx, n, io.Discard) // not found is an event too
	}
}

// waitFor asks for path until its page has sub (the store writes events
// a second after they happen).
func waitFor(t *testing.T, s *server, path, sub string) {
	t.Helper()
	for range 50 {
		if _, body := s.get(t, path); strings.Contains(body, sub) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never showed %q", path, sub)
}

func TestNewRefusesPublicAddressWithoutToken(t *testing.T) {
	for _, addr := range []string{":8069", "0.0.0.0:8069", "192.168.1.5:8069", "[::]:8069", "example.com:8069"} {
		_, err := New(node.Live{}, Options{Addr: addr})
		if err == nil || !strings.Contains(err.Error(), "--admin-token") || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%s without a token: %v", addr, err)
		}
	}
	if _, err := New(node.Live{}, Options{Addr: "0.0.0.0:8069", Token: "short"}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short token: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:8069", "localhost:8069", "[::1]:8069", "127.0.0.5:0"} {
		if _, err := New(node.Live{}, Options{Addr: addr}); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if _, err := New(node.Live{}, Options{Addr: "0.0.0.0:8069", Token: testToken}); err != nil {
		t.Errorf("public with token: %v", err)
	}
}

func TestPagesRenderWithHeaders(t *testing.T) {
	s := start(t, "", inventory)
	boot(t, s, "127.0.0.2", "CTLSEP00137F38B3DE.tlv", "SEP00137F38B3DE.cnf.xml", "SIP00137F38B3DE.cnf")
	waitFor(t, s, "/phones/00:13:7F:38:B3:DE", "CTLSEP00137F38B3DE.tlv")
	for path, subs := range map[string][]string{
		"/":                         {"Fleet", "By state", "Firmware rollout", "<svg class=\"chart\""},
		"/phones":                   {"3 of 3 phones match", "00:13:7f:38:b3:de", "Reception"},
		"/phones/00:13:7F:38:B3:DE": {"Boot timeline", "<svg class=\"timeline\"", "SEP00137F38B3DE.cnf.xml", "Inventory entry", "Recover this phone", "********"},
		"/phones/SEP00137F000002":   {"never seen", "Alpha"},
		"/firmware":                 {"Import a package", "No firmware yet"},
	} {
		resp, body := s.get(t, path)
		want(t, path, resp, body, http.StatusOK, subs...)
		if strings.Contains(body, "s3cret-201") {
			t.Errorf("%s shows the SIP password", path)
		}
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "onclick") {
			t.Errorf("%s: inline script or style in the page", path)
		}
	}
	resp, body := s.get(t, "/phones/00:00:00:00:00:99")
	want(t, "unknown phone", resp, body, http.StatusNotFound, "knows no phone")
	resp, body = s.get(t, "/phones/nonsense")
	want(t, "bad MAC", resp, body, http.StatusNotFound, "not a MAC address")
	resp, body = s.get(t, "/nowhere")
	want(t, "no page", resp, body, http.StatusNotFound, "There is no page")
	// Static files by exact name only.
	resp, _ = s.get(t, "/static/htmx.min.js")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("htmx: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/static/", "/static", "/static/../web.go", "/static/%2e%2e/web.go"} {
		if resp, body := s.get(t, p); resp.StatusCode == 200 {
			t.Errorf("%s: 200 (listing?) %.200s", p, body)
		}
	}
}

func TestSearchSortAndPartial(t *testing.T) {
	s := start(t, "", inventory)
	resp, body := s.get(t, "/phones?q=zulu")
	want(t, "search", resp, body, 200, "1 of 3 phones match", "Zulu")
	if strings.Contains(body, "Alpha") {
		t.Error("search zulu shows Alpha")
	}
	_, body = s.get(t, "/phones?q=SEP00137F000002")
	want(t, "search by device name", resp, body, 200, "1 of 3 phones match", "Alpha")
	_, body = s.get(t, "/phones?q=0013.7f00.0003")
	want(t, "search by Cisco MAC", resp, body, 200, "1 of 3 phones match", "Zulu")
	_, body = s.get(t, "/phones?q=nothing-like-it")
	want(t, "no match", resp, body, 200, "No phone of 3 matches")
	_, body = s.get(t, "/phones?sort=label")
	if a, r, z := strings.Index(body, "Alpha"), strings.Index(body, "Reception"), strings.Index(body, "Zulu"); !(a < r && r < z) {
		t.Errorf("sort=label: Alpha %d Reception %d Zulu %d", a, r, z)
	}
	_, body = s.get(t, "/phones?sort=label&dir=desc")
	if a, z := strings.Index(body, "Alpha"), strings.Index(body, "Zulu"); z > a {
		t.Errorf("sort=label desc: Zulu after Alpha")
	}
	_, body = s.get(t, "/phones?state=never+seen")
	want(t, "state filter", resp, body, 200, "3 of 3 phones match")
	// The live update asks for the table alone.
	resp, body = s.get(t, "/phones?q=alpha", "HX-Request", "true", "HX-Target", "phones-table")
	want(t, "partial", resp, body, 200, `id="phones-table"`, "Alpha")
	if strings.Contains(body, "<html") {
		t.Error("the partial is a whole page")
	}
}

func TestInventoryEdit(t *testing.T) {
	s := start(t, "", inventory)
	file := filepath.Join(s.data, "phoneboot.toml")
	before, _ := os.ReadFile(file)
	bad := "[[phone]]\nmac = \"00:13:7F:00:00:02\"\nmodel = \"7940\"\nlabel = \"Alpha\"\nprotocol = \"H323\"\n"
	resp, body := s.postForm(t, "/phones/00:13:7F:00:00:02/entry", url.Values{"entry": {bad}})
	want(t, "bad entry", resp, body, http.StatusUnprocessableEntity, "Not saved", "entry line 5", "protocol", "H323")
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Error("a bad entry changed the file")
	}
	resp, body = s.postForm(t, "/phones/00:13:7F:00:00:02/entry", url.Values{"entry": {"[[phone]]\nmac = \"00:13:7F:00:00:09\"\n"}})
	want(t, "other MAC", resp, body, http.StatusUnprocessableEntity, "must keep mac")

	good := "[[phone]]\nmac = \"00:13:7F:00:00:02\"\nmodel = \"7940\"\nlabel = \"Alpha two\"\n"
	resp, body = s.postForm(t, "/phones/00:13:7F:00:00:02/entry", url.Values{"entry": {good}})
	want(t, "good entry", resp, body, http.StatusSeeOther)
	if after, _ := os.ReadFile(file); !strings.Contains(string(after), `label = "Alpha two"`) || !strings.Contains(string(after), "Reception") {
		t.Errorf("file after the edit:\n%s", after)
	}
	if got := s.Live.Config().Phones[1].Label; got != "Alpha two" {
		t.Errorf("serve did not reload: label %q", got)
	}
	resp, body = s.get(t, "/phones/00:13:7F:00:00:02?saved=1")
	want(t, "after save", resp, body, 200, "Saved to", "Alpha two")

	// The editor masks passwords; saving the masked text keeps them.
	_, body = s.get(t, "/phones/00:13:7F:38:B3:DE")
	if strings.Contains(body, "s3cret-201") || !strings.Contains(body, `password = &#34;********&#34;`) {
		t.Errorf("the entry editor does not mask the password:\n%.3000s", body)
	}
	masked := "[[phone]]\nmac = \"00:13:7F:38:B3:DE\"\nmodel = \"7960\"\nlabel = \"Front desk\"\n  [[phone.line]]\n  extension = \"201\"\n  password = \"********\"\n"
	resp, body = s.postForm(t, "/phones/00:13:7F:38:B3:DE/entry", url.Values{"entry": {masked}})
	want(t, "save masked", resp, body, http.StatusSeeOther)
	if after, _ := os.ReadFile(file); !strings.Contains(string(after), `password = "s3cret-201"`) || !strings.Contains(string(after), "Front desk") {
		t.Errorf("file after a masked save:\n%s", after)
	}
	extra := masked + "  [[phone.line]]\n  extension = \"202\"\n  password = \"********\"\n"
	resp, body = s.postForm(t, "/phones/00:13:7F:38:B3:DE/entry", url.Values{"entry": {extra}})
	want(t, "new line, masked", resp, body, http.StatusUnprocessableEntity, "entry line 10", "type this line")

	// A phone outside the inventory is added by its first save.
	boot(t, s, "127.0.0.9", "SEP00137F0000AA.cnf.xml")
	waitFor(t, s, "/phones/00:13:7F:00:00:AA", "SEP00137F0000AA.cnf.xml")
	resp, body = s.get(t, "/phones/00:13:7F:00:00:AA")
	want(t, "unknown phone's entry", resp, body, 200, "not in", "saving adds this entry")
	resp, body = s.postForm(t, "/phones/00:13:7F:00:00:AA/entry", url.Values{"entry": {"[[phone]]\nmac = \"00:13:7F:00:00:AA\"\nmodel = \"7960\"\nlabel = \"New\"\n"}})
	want(t, "add", resp, body, http.StatusSeeOther)
	if len(s.Live.Config().Phones) != 4 {
		t.Errorf("phones after add: %d", len(s.Live.Config().Phones))
	}
}

func TestSizeLimits(t *testing.T) {
	s := start(t, "", inventory)
	big := strings.Repeat("# padding\n", 200<<10)
	resp, body := s.postForm(t, "/phones/00:13:7F:00:00:02/entry", url.Values{"entry": {big}})
	want(t, "2 MB form", resp, body, http.StatusRequestEntityTooLarge)
	// Without a length up front: the reader stops it.
	req, _ := http.NewRequest("POST", s.Admin+"/phones/00:13:7F:00:00:02/entry", io.MultiReader(strings.NewReader("entry="), strings.NewReader(big)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	r, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 2 MB form: %d", r.StatusCode)
	}
}

func TestHostAndCSRF(t *testing.T) {
	s := start(t, "", inventory)
	resp, body := s.get(t, "/phones", "Host", "evil.example:8069")
	want(t, "rebinding", resp, body, http.StatusMisdirectedRequest, "127.0.0.1 or localhost")
	resp, body = s.get(t, "/api/v1/phones", "Host", "evil.example")
	want(t, "API with a foreign Host", resp, body, http.StatusMisdirectedRequest, `"error"`, `"status": 421`)
	resp, body = s.do(t, "POST", "/api/v1/inventory", strings.NewReader("{}"), "Content-Type", "application/json", "Sec-Fetch-Site", "cross-site")
	want(t, "API cross-site", resp, body, http.StatusForbidden, `"status": 403`, "another site")
	resp, _ = s.get(t, "/phones", "Host", "localhost:8069")
	if resp.StatusCode != 200 {
		t.Errorf("Host localhost: %d", resp.StatusCode)
	}
	file := filepath.Join(s.data, "phoneboot.toml")
	before, _ := os.ReadFile(file)
	entry := url.Values{"entry": {"[[phone]]\nmac = \"00:13:7F:00:00:02\"\nlabel = \"Pwned\"\n"}}
	resp, body = s.postForm(t, "/phones/00:13:7F:00:00:02/entry", entry, "Sec-Fetch-Site", "cross-site")
	want(t, "cross-site post", resp, body, http.StatusForbidden, "another site")
	resp, _ = s.postForm(t, "/phones/00:13:7F:00:00:02/entry", entry, "Origin", "http://evil.example")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Origin: %d", resp.StatusCode)
	}
	resp, _ = s.postForm(t, "/firmware/X/remove", url.Values{}, "Sec-Fetch-Site", "same-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("same-site (another port or subdomain) post: %d", resp.StatusCode)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Error("a cross-site post changed the file")
	}
}

func TestToken(t *testing.T) {
	s := start(t, testToken, inventory)
	// The API: bearer only.
	resp, body := s.get(t, "/api/v1/phones")
	want(t, "API without token", resp, body, http.StatusUnauthorized, "Authorization: Bearer", `"status": 401`)
	resp, _ = s.get(t, "/api/v1/phones", "Authorization", "Bearer wrong-token-wrong-token")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API wrong token: %d", resp.StatusCode)
	}
	resp, _ = s.get(t, "/api/v1/phones", "Authorization", "Bearer "+testToken)
	if resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("API right token: %d", resp.StatusCode)
	}
	resp, _ = s.get(t, "/metrics")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without token: %d", resp.StatusCode)
	}
	resp, _ = s.get(t, "/metrics", "Authorization", "Bearer "+testToken)
	if resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("/metrics with token: %d", resp.StatusCode)
	}
	// A token allows any Host (the server is on the LAN).
	resp, _ = s.get(t, "/api/v1/phones", "Authorization", "Bearer "+testToken, "Host", "phoneboot.lan")
	if resp.StatusCode == http.StatusMisdirectedRequest || resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("API with token, LAN name: %d", resp.StatusCode)
	}

	// The pages: login form, then a cookie.
	resp, _ = s.get(t, "/phones?q=x")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=/phones?q=x" {
		t.Errorf("page without session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = s.get(t, "/login")
	want(t, "login page", resp, body, 200, `name="token"`)
	resp, body = s.postForm(t, "/login", url.Values{"token": {"not-the-token-at-all"}, "next": {"/phones"}})
	want(t, "wrong login", resp, body, http.StatusUnauthorized, "not this phoneboot")
	if len(resp.Cookies()) != 0 {
		t.Error("a wrong token got a cookie")
	}
	resp, _ = s.postForm(t, "/login", url.Values{"token": {testToken}, "next": {"//evil.example/x"}})
	if resp.Header.Get("Location") != "/" {
		t.Errorf("login next //evil: %q", resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Fatalf("session cookie: %+v", session)
	}
	cookie := "phoneboot_session=" + session.Value
	resp, body = s.get(t, "/phones", "Cookie", cookie)
	want(t, "page with session", resp, body, 200, "Reception", "Log out")
	resp, _ = s.get(t, "/metrics", "Cookie", cookie)
	if resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("/metrics with session: %d", resp.StatusCode)
	}
	// A forged or expired cookie is no session.
	exp, _, _ := strings.Cut(session.Value, ".")
	for _, forged := range []string{"9999999999." + strings.SplitN(session.Value, ".", 2)[1], exp + ".AAAA", "1." + (&auth{key: sessionKey(testToken)}).sign(1)} {
		resp, _ = s.get(t, "/phones", "Cookie", "phoneboot_session="+forged)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("cookie %q: %d", forged, resp.StatusCode)
		}
	}
	// The session does not open the API.
	resp, _ = s.get(t, "/api/v1/phones", "Cookie", cookie)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API with only a cookie: %d", resp.StatusCode)
	}

	// Passwords: masked on GET, shown by a POST of the logged-in user.
	_, body = s.get(t, "/phones/00:13:7F:38:B3:DE?reveal=1", "Cookie", cookie)
	if strings.Contains(body, "s3cret-201") || !strings.Contains(body, "Show passwords") {
		t.Error("GET reveals the password, or offers no button")
	}
	resp, body = s.postForm(t, "/phones/00:13:7F:38:B3:DE/reveal", url.Values{}, "Cookie", cookie)
	want(t, "reveal", resp, body, 200, "s3cret-201", "SIP passwords are shown")
	resp, _ = s.postForm(t, "/phones/00:13:7F:38:B3:DE/reveal", url.Values{})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("reveal without session: %d", resp.StatusCode)
	}
	resp, _ = s.postForm(t, "/phones/00:13:7F:38:B3:DE/reveal", url.Values{}, "Cookie", cookie, "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site reveal: %d", resp.StatusCode)
	}
}

func TestNoRevealWithoutToken(t *testing.T) {
	s := start(t, "", inventory)
	resp, body := s.postForm(t, "/phones/00:13:7F:38:B3:DE/reveal", url.Values{})
	want(t, "reveal without token", resp, body, http.StatusForbidden, "--admin-token")
	if strings.Contains(body, "s3cret-201") {
		t.Error("password shown")
	}
	_, body = s.get(t, "/phones/00:13:7F:38:B3:DE")
	if strings.Contains(body, "Show passwords") {
		t.Error("a show-passwords button without a token")
	}
}

func TestHostileNamesEscaped(t *testing.T) {
	s := start(t, "", inventory)
	hostile := `<img src=x onerror=alert(1)>"'`
	ctx := context.Background()
	if err := s.Live.Store.Record(ctx, []event.Event{
		{Time: time.Now(), MAC: reception, IP: netip.MustParseAddr("127.0.0.2"), Source: event.TFTP, Kind: event.Request,
			File: hostile, Outcome: event.NotFound, Detail: "<script>alert(2)</script>"},
		{Time: time.Now(), MAC: reception, Source: event.Syslog, Kind: event.SyslogLine, Detail: "</title><script>alert(3)</script>"},
		{Time: time.Now(), MAC: reception, IP: netip.MustParseAddr("127.0.0.2"), Source: event.TFTP, Kind: event.Request,
			File: "evil\u202egpj.exe", Outcome: event.NotFound},
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/phones/00:13:7F:38:B3:DE", "/phones?q=reception"} {
		_, body := s.get(t, p)
		for _, bad := range []string{"<img src=x", "<script>alert", "</title><script>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: unescaped %q", p, bad)
			}
		}
	}
	_, body := s.get(t, "/phones/00:13:7F:38:B3:DE")
	if !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the hostile name is not shown escaped")
	}
	if strings.Contains(body, "\u202e") || !strings.Contains(body, `evil\u202egpj.exe`) {
		t.Errorf("a right-to-left override in a file name is not made visible")
	}
}

func TestFirmwareImportAndRemove(t *testing.T) {
	const id = "P0S3-8-12-00"
	s := start(t, "", strings.Replace(inventory, "sip_proxy = \"192.0.2.10\"\n", "sip_proxy = \"192.0.2.10\"\n[site.loads]\n7960 = \""+id+"\"\n", 1))
	pkg := filepath.Join(t.TempDir(), "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, pkg, fwtest.LoadFiles(id, 4096, fwtest.Classic(id)...))
	resp, body := s.upload(t, "package", filepath.Base(pkg), pkg)
	want(t, "import", resp, body, 200, "Added", id, "for 7940, 7960")
	resp, body = s.get(t, "/firmware")
	want(t, "catalog", resp, body, 200, id, "complete")
	// Again: identical, skipped.
	_, body = s.upload(t, "package", filepath.Base(pkg), pkg)
	want(t, "import again", resp, body, 200, "Skipped "+id)
	// Garbage: refused in words, nothing imported.
	junk := filepath.Join(t.TempDir(), "junk.zip")
	os.WriteFile(junk, []byte("not a zip"), 0o644)
	resp, body = s.upload(t, "package", "junk.zip", junk)
	want(t, "junk", resp, body, http.StatusUnprocessableEntity, "Nothing imported")
	resp, body = s.upload(t, "other", "x.zip", junk)
	want(t, "no file", resp, body, http.StatusBadRequest, "No file was chosen")

	// Remove: refused while targeted.
	resp, body = s.postForm(t, "/firmware/"+id+"/remove", url.Values{})
	want(t, "remove targeted", resp, body, http.StatusConflict, "Not removed", "is the target of", "site.loads 7960")
	if _, ok := s.Live.Catalog.Load(id); !ok {
		t.Fatal("removed although targeted")
	}
	resp, body = s.postForm(t, "/firmware/NOPE-1/remove", url.Values{})
	want(t, "remove unknown", resp, body, http.StatusNotFound, "no load")
	// Untarget it, then remove.
	file := filepath.Join(s.data, "phoneboot.toml")
	os.WriteFile(file, []byte(inventory), 0o644)
	resp, _ = s.postForm(t, "/firmware/"+id+"/remove", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("remove: %d", resp.StatusCode)
	}
	if _, ok := s.Live.Catalog.Load(id); ok {
		t.Error("still in the catalog")
	}
}

// upload posts a file as the firmware form does.
func (s *server) upload(t *testing.T, field, name, path string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile(field, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return s.do(t, "POST", "/firmware/import", &buf, "Content-Type", mw.FormDataContentType())
}

func TestLiveEvents(t *testing.T) {
	s := start(t, "", inventory)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.Admin+"/live?mac=00:13:7F:38:B3:DE", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Another phone's event is not this page's news; this phone's is.
	s.Live.Feed.Publish(event.Event{Time: time.Now(), MAC: phone.MAC{1, 2, 3, 4, 5, 6}, Source: event.TFTP, Kind: event.Request})
	expect := func(wantChange bool, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("stream ended")
				}
				if l == "event: changed" {
					if !wantChange {
						t.Fatal("changed for another phone's event")
					}
					return
				}
			case <-deadline:
				if wantChange {
					t.Fatal("no change within", within)
				}
				return
			}
		}
	}
	expect(false, 1500*time.Millisecond)
	s.Live.Feed.Publish(event.Event{Time: time.Now(), MAC: reception, Source: event.TFTP, Kind: event.Request})
	expect(true, 3*time.Second)
	// And once more when the store has surely written it.
	expect(true, 4*time.Second)
}

func TestFleetRollout(t *testing.T) {
	s := start(t, "", strings.Replace(inventory, "sip_proxy = \"192.0.2.10\"\n", "sip_proxy = \"192.0.2.10\"\n[site.loads]\n7960 = \"P0S3-8-12-00\"\n", 1))
	ctx := context.Background()
	at := time.Now().Add(-3 * time.Hour)
	if err := s.Live.Store.Record(ctx, []event.Event{
		{Time: at, MAC: reception, IP: netip.MustParseAddr("127.0.0.2"), Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-11-00"}},
		{Time: at.Add(2 * time.Hour), MAC: reception, IP: netip.MustParseAddr("127.0.0.2"), Source: event.Provision, Kind: event.Load, Facts: event.Facts{Running: "P0S3-8-12-00"}},
	}); err != nil {
		t.Fatal(err)
	}
	resp, body := s.get(t, "/")
	want(t, "fleet", resp, body, 200, "1 of 2 with a target load run it", "of 2 phones with a target", `class="line" points="`)
	// The tooltip of the last hour counts Reception; of 3 hours ago, none.
	if !strings.Contains(body, ": 1 of 2 phones on their target load") || !strings.Contains(body, ": 0 of 2 phones on their target load") {
		t.Errorf("rollout points:\n%.4000s", body)
	}
	resp, body = s.get(t, "/?range=14d")
	want(t, "fleet 14 days", resp, body, 200, "each day, the last 14 days")
}
