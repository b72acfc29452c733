// Package fwtest writes synthetic firmware for tests: .loads files with a
// fake signed header and the text part real ones have (cisco-79xx.md
// §4.2, §4.3), and components of random bytes. Never real Cisco files.
package fwtest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// header imitates the binary signed header: NULs, newlines, high bytes.
func header(id string) []byte {
	return []byte("\x01\x00\x12\n\xff\xfeCN=someSigner;OU=someOrgUnit;O=someOrg\x00\x0a" + id + ".loads\x00\x9c\n\x07")
}

// Classic returns the components of a 7940/7960 load as its package
// names them: SIP loads have a P003… loader (§4.2).
func Classic(id string) []string {
	if rest, ok := strings.CutPrefix(id, "P0S3-"); ok {
		return []string{"P003-" + rest + ".sbn", id + ".sb2"}
	}
	return []string{id + ".sbn", id + ".sb2"}
}

// Java returns the components of a 79x1-family load such as
// SIP41.9-4-2SR3-1S: jar, cnu, apps, dsp, cvm (§4.3).
func Java(id, build string) []string {
	proto, prefix := "sccp", strings.TrimPrefix(id[:strings.Index(id, ".")], "SCCP")
	if p, ok := strings.CutPrefix(id[:strings.Index(id, ".")], "SIP"); ok {
		proto, prefix = "sip", p
	}
	return []string{
		"jar" + prefix + proto + "." + build + ".sbn",
		"cnu" + prefix + "." + build + ".sbn",
		"apps" + prefix + "." + build + ".sbn",
		"dsp" + prefix + "." + build + ".sbn",
		"cvm" + prefix + proto + "." + build + ".sbn",
	}
}

// WriteLoad writes id.loads listing components, and each component as
// size random bytes (seeded by its name, so runs are reproducible).
func WriteLoad(t testing.TB, dir, id string, size int, components ...string) {
	t.Helper()
	text := strings.Join(components, "\n") + "\n"
	if strings.HasPrefix(id, "P0") {
		text += "LA_VERSION=PAS3ARM1\n"
	} else {
		text = "# " + id + " RELEASE load version\n#HARDWARE_COMP_1 5\n" + text
	}
	Write(t, dir, id+".loads", append(header(id), text...))
	for _, c := range components {
		Write(t, dir, c, Random(c, size))
	}
}

// Random is n bytes drawn from a generator seeded by name.
func Random(name string, n int) []byte {
	var seed uint64
	for _, c := range name {
		seed = seed*31 + uint64(c)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Write writes one file, failing the test on error.
func Write(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
