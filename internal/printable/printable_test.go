package printable

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Registration failed: 401", "Registration failed: 401"},
		{"Café 7960 → 8.12 \\ ok", "Café 7960 → 8.12 \\ ok"},
		{"\x1b[2Jgone", `\x1b[2Jgone`},
		{"a\r\nb\tc\x00\x7f", `a\x0d\x0ab\x09c\x00\x7f`},
		{"\u009b31m", `\u009b31m`},
		{"evil\u202egnp.exe \u2066x\u2069 \u200f \u061c", `evil\u202egnp.exe \u2066x\u2069 \u200f \u061c`},
		{"line\u2028sep\u2029", `line\u2028sep\u2029`},
		{"bad \xff\xc3 utf8", `bad \xff\xc3 utf8`},
		{"\xe2\x80", `\xe2\x80`},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFprintf(t *testing.T) {
	var b strings.Builder
	Fprintf(&b, "%s\t%-6s|%d %v %q\n", "a\nb", "x", 42, 1500*time.Millisecond, "\x1b")
	Fprintln(&b, "one\r", fmt.Errorf("two\x1b[H"), 3)
	want := "a\\x0ab\tx     |42 1.5s \"\\x1b\"\none\\x0d two\\x1b[H 3\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}

// The JSON writer changes no value, only how it is spelled.
func TestJSON(t *testing.T) {
	in := map[string]string{"detail": "a\x1b[2J\u009b\u202e\x7f é\n\u2028", "plain": "ok"}
	var b bytes.Buffer
	if err := json.NewEncoder(JSON(&b)).Encode(in); err != nil {
		t.Fatal(err)
	}
	if bad := unsafeIn(b.String(), true); bad != "" {
		t.Errorf("JSON output has %q raw: %s", bad, b.String())
	}
	var out map[string]string
	if err := json.Unmarshal(b.Bytes(), &out); err != nil || out["detail"] != in["detail"] || out["plain"] != "ok" {
		t.Errorf("decoded %q, %v; want %q", out, err, in)
	}
}

// unsafeIn is the first rune of s a terminal could act on ("" if none);
// json allows the whitespace of JSON syntax.
func unsafeIn(s string, json bool) string {
	for i, r := range s {
		if json && (r == '\n' || r == '\t' || r == '\r' || r == ' ') {
			continue
		}
		if r < 0x20 || r == 0x7f || unsafe(r) || r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return string(r)
		}
	}
	return ""
}

// FuzzString: whatever arrives, String gives valid UTF-8 without a rune
// a terminal acts on, leaves safe text as it is, and keeps every safe
// rune of the input in order.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "ok", "\x1b]0;title\x07", "a\r\nb", "\u202e\u2066", "\xff\xfe", "é\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if !utf8.ValidString(got) {
			t.Fatalf("String(%q) = %q: not UTF-8", s, got)
		}
		if bad := unsafeIn(got, false); bad != "" {
			t.Fatalf("String(%q) = %q keeps %q", s, got, bad)
		}
		if unsafeIn(s, false) == "" && utf8.ValidString(s) && got != s {
			t.Fatalf("String(%q) = %q changed safe text", s, got)
		}
		var b bytes.Buffer
		if err := json.NewEncoder(JSON(&b)).Encode(s); err != nil {
			t.Fatal(err)
		}
		var back string
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || utf8.ValidString(s) && back != s {
			t.Fatalf("JSON of %q = %s, decoded %q, %v", s, b.Bytes(), back, err)
		}
		if bad := unsafeIn(b.String(), true); bad != "" {
			t.Fatalf("JSON of %q = %s keeps %q", s, b.Bytes(), bad)
		}
	})
}
