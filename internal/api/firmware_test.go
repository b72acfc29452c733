package api_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/firmware/fwtest"
)

const sip812 = "P0S3-8-12-00"

// sip812Zip is a synthetic cmterm-7960-sip.8-12-00.zip.
func sip812Zip(t *testing.T) []byte {
	files := map[string][]byte{}
	for name, data := range fwtest.LoadFiles(sip812, 1000, fwtest.Classic(sip812)...) {
		files["cmterm-7960-sip.8-12-00/"+name] = data
	}
	p := filepath.Join(t.TempDir(), "cmterm-7960-sip.8-12-00.zip")
	fwtest.Zip(t, p, files)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// form is a multipart body of files (name → contents) and fields.
func form(t *testing.T, files [][2]string, fields ...string) (string, *bytes.Buffer) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f[1]))
	}
	for _, f := range fields {
		mw.WriteField(f, "x")
	}
	mw.Close()
	return mw.FormDataContentType(), &b
}

func TestFirmwareImportListRemove(t *testing.T) {
	s := start(t, inventory)
	a := s.get("/firmware").want(t, 200, "")
	if len(a.list("loads")) != 0 || a.json["catalog_problems"] == nil {
		t.Fatalf("empty catalog: %s", a.body)
	}
	zip := sip812Zip(t)
	a = s.do(http.MethodPost, "/firmware?name=cmterm-7960-sip.8-12-00.zip", "application/zip", bytes.NewReader(zip)).want(t, 201, "")
	if added := a.list("added"); len(added) != 1 || added[0]["id"] != sip812 || !strings.HasSuffix(added[0]["imported"].(string), "Z") {
		t.Fatalf("import: %s", a.body)
	}
	// Again: skipped, identical.
	a = s.do(http.MethodPost, "/firmware?name=cmterm-7960-sip.8-12-00.zip", "application/octet-stream", bytes.NewReader(zip)).want(t, 200, "")
	if len(a.list("added")) != 0 || a.json["skipped"].([]any)[0] != sip812 {
		t.Fatalf("re-import: %s", a.body)
	}
	a = s.get("/firmware").want(t, 200, "")
	loads := a.list("loads")
	if len(loads) != 1 || loads[0]["id"] != sip812 || loads[0]["size"].(float64) <= 2000 ||
		len(loads[0]["targeted"].([]any)) != 1 || loads[0]["targeted"].([]any)[0] != "00:13:7f:38:b3:de" {
		t.Fatalf("list: %s", a.body)
	}

	// Loose files in one multipart upload: a .loads and its components,
	// imported together, form fields skipped.
	const java = "SIP41.9-4-2SR3-1S"
	var files [][2]string
	for name, data := range fwtest.LoadFiles(java, 500, fwtest.Java(java, "9-4-2-13")...) {
		files = append(files, [2]string{name, string(data)})
	}
	ct, body := form(t, files, "note")
	a = s.do(http.MethodPost, "/firmware", ct, body).want(t, 201, "")
	if added := a.list("added"); len(added) != 1 || added[0]["id"] != java {
		t.Fatalf("multipart import: %s", a.body)
	}

	// Removal: refused while the config targets it, else done.
	a = s.do(http.MethodDelete, "/firmware/"+sip812, "", nil).want(t, 409, "is the target of")
	if !strings.Contains(a.json["error"].(map[string]any)["message"].(string), "site.loads 7960") {
		t.Errorf("refusal does not say which line: %s", a.body)
	}
	a = s.do(http.MethodDelete, "/firmware/"+strings.ToLower(java), "", nil).want(t, 200, "")
	if a.json["removed"].(map[string]any)["id"] != java {
		t.Errorf("removed: %s", a.body)
	}
	s.do(http.MethodDelete, "/firmware/"+java, "", nil).want(t, 404, "no load")
	s.do(http.MethodDelete, "/firmware/NOPE", "", nil).want(t, 404, `no load "NOPE"`)
	if len(s.get("/firmware").list("loads")) != 1 {
		t.Error("a load left the catalog it should not have")
	}
	// A broken config: cannot tell what it targets, nothing removed.
	if err := os.WriteFile(filepath.Join(s.data, "phoneboot.toml"), []byte(inventory+"\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a = s.do(http.MethodDelete, "/firmware/"+sip812, "", nil).want(t, 409, "cannot tell whether it targets")
	if ps := a.problems(); len(ps) != 1 || ps[0]["line"].(float64) != 23 {
		t.Errorf("problems: %s", a.body)
	}
}

func TestFirmwareImportRefusals(t *testing.T) {
	s := start(t, inventory)
	post := func(query, ct string, body []byte) answer {
		return s.do(http.MethodPost, "/firmware"+query, ct, bytes.NewReader(body))
	}
	for _, c := range []struct {
		query  string
		body   string
		status int
		msg    string
	}{
		{"?name=.hidden.zip", "x", 422, "not a plain file name"},
		{"?name=..", "x", 422, "not a plain file name"},
		{"?name=a%00.zip", "x", 422, "control character"},
		{"?name=%20", "x", 422, "without a file name"},
		{"?name=garbage.zip", "this is not a zip", 422, "nothing imported"},
		{"?name=readme.txt", "hello", 422, "nothing imported"},
	} {
		post(c.query, "application/octet-stream", []byte(c.body)).want(t, c.status, c.msg)
	}
	ct, body := form(t, [][2]string{{"a.loads", "x"}, {"A.LOADS", "y"}})
	post("", ct, body.Bytes()).want(t, 422, "two files of that name")
	ct, body = form(t, nil, "just-a-field")
	post("", ct, body.Bytes()).want(t, 400, "holds no file")
	ct, body = form(t, [][2]string{{"x.zip", "x"}})
	post("?name=x.zip", ct, body.Bytes()).want(t, 400, "?name= is for a raw body")
	post("", "multipart/form-data", []byte("no boundary")).want(t, 400, "cannot read the multipart upload")
	post("", "multipart/form-data; boundary=xyz", []byte("--xyz\r\nbroken")).want(t, 400, "")
	post("", "application/zip", sip812Zip(t)).want(t, 415, "send multipart/form-data or the file itself with ?name=FILE")
	post("", "", []byte("x")).want(t, 415, "Content-Type none")
	post("?nam=x.zip", "application/zip", nil).want(t, 400, `unknown query parameter "nam"`)
	var many [][2]string
	for i := range 101 {
		many = append(many, [2]string{strings.Repeat("f", i+1) + ".sbn", "x"})
	}
	ct, body = form(t, many)
	post("", ct, body.Bytes()).want(t, 400, "more than 100 files")

	// Past the import limit: 413, whether the client says its size or not.
	s.live.Catalog.MaxImportSize = 1000
	zip := sip812Zip(t)
	post("?name=cmterm-7960-sip.8-12-00.zip", "application/zip", zip).want(t, 413, "larger than the 1000 bytes an import may hold")
	ct, body = form(t, [][2]string{{"cmterm-7960-sip.8-12-00.zip", string(zip)}})
	post("", ct, body.Bytes()).want(t, 413, "larger than the 1000 bytes")
	// Chunked: no Content-Length to refuse early on.
	req, _ := http.NewRequest(http.MethodPost, s.base+"/firmware?name=big.zip", struct{ *bytes.Reader }{bytes.NewReader(zip)})
	req.Header.Set("Content-Type", "application/zip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || req.ContentLength != 0 {
		t.Errorf("chunked upload past the limit: %d (length %d)", resp.StatusCode, req.ContentLength)
	}
	// Nothing of the refused uploads is left in the catalog's folder.
	entries, _ := os.ReadDir(s.live.Catalog.Dir())
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
	s.live.Catalog.MaxImportSize = 0
	if len(s.get("/firmware").list("loads")) != 0 {
		t.Error("a refused import added a load")
	}
}
