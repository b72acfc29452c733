package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetPhoneReplacesTheEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoneboot.toml")
	os.WriteFile(path, []byte(edited), 0o640)
	m := mac(t, "00137F38B3DF")
	old, line, err := PhoneEntry(path, m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(old, "[[phone]]\nmac = \"0013.7f38.b3df\"") || line < 2 {
		t.Fatalf("PhoneEntry = %q at line %d", old, line)
	}
	entry := strings.Replace(old, `model = "7940"`, `model = "7960"`+"\nlabel = \"Lab 2\"", 1)
	if err := SetPhone(path, true, m, entry); err != nil {
		t.Fatal(err)
	}
	if text := read(t, path); text != strings.Replace(edited, old, entry, 1) {
		t.Fatalf("after SetPhone:\n%s", text)
	}
	// And back: the file is as it was.
	if err := SetPhone(path, true, m, old); err != nil || read(t, path) != edited {
		t.Fatalf("SetPhone back: %v\n%s", err, read(t, path))
	}

	// A new phone is appended.
	n := mac(t, "00137F0000AA")
	if err := SetPhone(path, true, n, "[[phone]]\nmac = \"00137F0000AA\"\nmodel = \"7961\"\n"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := PhoneEntry(path, n); err != nil {
		t.Fatal(err)
	}
	noTempFiles(t, filepath.Dir(path))
}

func TestSetPhoneRefusals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoneboot.toml")
	os.WriteFile(path, []byte(edited), 0o640)
	m := mac(t, "00137F38B3DF")
	for _, c := range []struct{ entry, want string }{
		{"", "no [[phone]] header"},
		{"model = \"7960\"\n[[phone]]\nmac = \"00137F38B3DF\"\n", "must start with [[phone]]"},
		{"[[phone]]\nmac = \"00137F38B3DF\"\n[[phone]]\nmac = \"00137F38B3E0\"\n", "one phone per entry"},
		{"[[phone]]\nmac = \"00137F38B3DF\"\n[site]\nprotocol = \"SIP\"\n", "not [site]"},
		{"[[phone]]\nmac = \"00137F38B3E0\"\n", `must keep mac = "00:13:7f:38:b3:df"`},
		{strings.Repeat("#", MaxEntry+1), "more than the"},
	} {
		err := SetPhone(path, true, m, c.entry)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SetPhone(%.40q) = %v, want %q", c.entry, err, c.want)
		}
	}
	// A mistake Parse finds is an *EntryError that points into the entry.
	err := SetPhone(path, true, m, "[[phone]]\nmac = \"00137F38B3DF\"\nmodel = \"7999\"\n")
	var ee *EntryError
	if !errors.As(err, &ee) || len(ee.Errs) != 1 || ee.EntryLine(ee.Errs[0].Line) != 3 || !strings.Contains(ee.Errs[0].Msg, "7999") {
		t.Fatalf("bad model: %#v", err)
	}
	if read(t, path) != edited {
		t.Fatal("a refused entry changed the file")
	}
}
