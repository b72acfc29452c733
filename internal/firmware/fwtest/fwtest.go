// Package fwtest writes synthetic firmware for tests: .loads files with a
// fake signed header and the text part real ones have (cisco-79xx.md
// §4.2, §4.3), and components of random bytes. Never real Cisco files.
package fwtest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"phoneboot/internal/phone"
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
	for name, data := range LoadFiles(id, size, components...) {
		Write(t, dir, name, data)
	}
}

// LoadFiles is what WriteLoad writes, as file name → contents.
func LoadFiles(id string, size int, components ...string) map[string][]byte {
	files := map[string][]byte{id + ".loads": LoadsFile(id, components...)}
	for _, c := range components {
		files[c] = Random(c, size)
	}
	return files
}

// LoadsFile is id.loads listing components: a fake signed header, then
// the text part (LA_VERSION for 7940/7960 loads, comment lines and
// #HARDWARE_COMP_1 for Java ones).
func LoadsFile(id string, components ...string) []byte {
	return append(header(id), loadsText(id, components)...)
}

// TermFile is termNN.default.loads as the package of load id carries it:
// the body of id.loads under its own header (§4.3).
func TermFile(nn, id string, components ...string) []byte {
	return append(header("term"+nn+".default"), loadsText(id, components)...)
}

func loadsText(id string, components []string) string {
	text := strings.Join(components, "\n") + "\n"
	if phone.LoadFamily(id) == phone.FamilyClassic {
		return text + "LA_VERSION=PAS3ARM1\n"
	}
	return "# " + id + " RELEASE load version\n#HARDWARE_COMP_1 5\n" + text
}

// Merge returns the union of file maps (later ones win).
func Merge(maps ...map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// Zip writes a zip package of files (in name order) at path.
func Zip(t testing.TB, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedNames(files) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err == nil {
			_, err = w.Write(files[name])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	Write(t, filepath.Dir(path), filepath.Base(path), buf.Bytes())
}

// TarBytes is a tar archive of files (regular files, name order).
func TarBytes(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range sortedNames(files) {
		err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
		if err == nil {
			_, err = tw.Write(files[name])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gzip compresses data.
func Gzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Tar writes a tar package of files at path.
func Tar(t testing.TB, path string, files map[string][]byte) {
	t.Helper()
	Write(t, filepath.Dir(path), filepath.Base(path), TarBytes(t, files))
}

// TarGz writes a tar.gz package (.tar.gz, .tgz, .cop) of files at path.
func TarGz(t testing.TB, path string, files map[string][]byte) {
	t.Helper()
	Write(t, filepath.Dir(path), filepath.Base(path), Gzip(t, TarBytes(t, files)))
}

// CopSgn writes a .cop.sgn: header (SignatureHeader() when nil) followed
// by a tar.gz of files.
func CopSgn(t testing.TB, path string, header []byte, files map[string][]byte) {
	t.Helper()
	if header == nil {
		header = SignatureHeader()
	}
	Write(t, filepath.Dir(path), filepath.Base(path), append(append([]byte(nil), header...), Gzip(t, TarBytes(t, files))...))
}

// SignatureHeader imitates the signature wrapper in front of the tar.gz
// of a .cop.sgn: binary TLVs, a signer, and a false gzip magic (1f 8b
// not followed by deflate's 08) that readers must not stop at.
func SignatureHeader() []byte {
	h := []byte("\x01\x00\x2a\x00\x00\x01\x10\x02\x00\x08CN=someSigner;OU=someOrgUnit;O=someOrg\x00\x1f\x8b\x00\x03")
	return append(h, Random("signature", 256)...)
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
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
