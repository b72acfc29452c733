package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"phoneboot/internal/firmware/fwtest"
)

func TestFirmwareCmd(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	pkgs := t.TempDir()
	sip := "SIP41.9-4-2SR3-1S"
	comps := fwtest.Java(sip, "9-4-2ES26")
	files := fwtest.LoadFiles(sip, 1500, comps...)
	files["term41.default.loads"] = fwtest.TermFile("41", sip, comps...)
	fwtest.Zip(t, filepath.Join(pkgs, "cmterm-7941_7961-sip.9-4-2SR3-1.zip"), files)
	fwtest.Zip(t, filepath.Join(pkgs, "cmterm-7960-sip.8-12-00.zip"), fwtest.LoadFiles("P0S3-8-12-00", 900, fwtest.Classic("P0S3-8-12-00")...))
	fwtest.Write(t, pkgs, "junk.cop.sgn", []byte("not a package"))

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := firmwareCmd(ctx, args, &out)
		return out.String(), err
	}
	// Flags after the paths.
	out, err := run("import", filepath.Join(pkgs, "cmterm-7941_7961-sip.9-4-2SR3-1.zip"), filepath.Join(pkgs, "cmterm-7960-sip.8-12-00.zip"), "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"added   SIP41.9-4-2SR3-1S: SIP, for 7941, 7941G-GE, 7961, 7961G-GE, 5 components", "with term41", "added   P0S3-8-12-00: SIP, for 7940, 7960, 2 components, 1.9 KiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	out, err = run("import", "--data", data, filepath.Join(pkgs, "cmterm-7960-sip.8-12-00.zip"))
	if err != nil || !strings.Contains(out, "skipped P0S3-8-12-00: already in the catalog, identical") {
		t.Errorf("import again: %v\n%s", err, out)
	}
	_, err = run("import", "--data", data, filepath.Join(pkgs, "junk.cop.sgn"))
	if err == nil || !strings.Contains(err.Error(), "junk.cop.sgn: no tar.gz inside") || strings.Contains(err.Error(), "\n") {
		t.Errorf("import junk: %v", err)
	}

	out, err = run("list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[2], "term41") || !strings.Contains(lines[2], "cmterm-7941_7961-sip.9-4-2SR3-1.zip") {
		t.Errorf("list:\n%s", out)
	}
	out, err = run("list", "--json", "--data", data)
	var rows []struct {
		ID         string `json:"id"`
		Size       int64  `json:"size"`
		Components []struct {
			Name string `json:"name"`
		} `json:"components"`
	}
	if err != nil || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 || rows[0].ID != "P0S3-8-12-00" || rows[0].Size == 0 || len(rows[1].Components) != 5 {
		t.Errorf("list --json: %v\n%s", err, out)
	}

	// rm is refused while the config targets the load, naming the line.
	fwtest.Write(t, data, "phoneboot.toml", []byte("[site]\nprotocol = \"SIP\"\n\n[site.loads]\n7961 = \"sip41.9-4-2SR3-1S\"\n\n[[phone]]\nmac = \"00:13:7F:38:B3:DE\"\nmodel = \"7960\"\nload = \"P0S3-8-12-00\"\n"))
	_, err = run("rm", "SIP41.9-4-2SR3-1S", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "phoneboot.toml:5 (site.loads 7961)") {
		t.Errorf("rm targeted by site.loads: %v", err)
	}
	_, err = run("rm", "p0s3-8-12-00", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "phoneboot.toml:10 (phone 00:13:7f:38:b3:de)") {
		t.Errorf("rm targeted by a phone: %v", err)
	}
	fwtest.Write(t, data, "phoneboot.toml", []byte("[site]\nprotocol = \"SIP\"\n"))
	out, err = run("rm", "p0s3-8-12-00", "--data", data)
	if err != nil || !strings.HasPrefix(out, "removed P0S3-8-12-00") {
		t.Errorf("rm: %v\n%s", err, out)
	}
	if _, err = run("rm", "P0S3-8-12-00", "--data", data); err == nil || !strings.Contains(err.Error(), "no load P0S3-8-12-00") {
		t.Errorf("rm again: %v", err)
	}
	out, _ = run("list", "--data", data)
	if strings.Contains(out, "P0S3-8-12-00") {
		t.Errorf("list after rm:\n%s", out)
	}

	if out, err := run("help"); err != nil || !strings.Contains(out, "phoneboot firmware import PATH") {
		t.Errorf("help: %v\n%s", err, out)
	}
	if _, err := run("frobnicate"); err == nil {
		t.Error("unknown subcommand accepted")
	}
	if _, err := run("import", "--data", data); err == nil {
		t.Error("import without paths accepted")
	}
}
