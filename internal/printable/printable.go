// Package printable makes text that came from the network safe to print
// on a terminal: a syslog line, a requested file name or a model string
// may carry ESC sequences (clear the screen, retitle the window, move the
// cursor), carriage returns and line feeds that forge the next line of a
// timeline, or bidi overrides that show a name other than it is. The store
// keeps what was received; what prints it escapes it, here.
package printable

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with what a terminal would act on written as visible
// escapes, so that it prints as one line of inert text:
//   - C0 controls (tab, line feed, carriage return, ESC …) and DEL as
//     \x00 … \x1f, \x7f;
//   - C1 controls (U+0080 … U+009F; U+009B is CSI on some terminals), the
//     bidi controls (U+061C, U+200E, U+200F, U+202A … U+202E, U+2066 …
//     U+2069) and the line and paragraph separators U+2028, U+2029 as
//     \u0080 …;
//   - each byte that is not valid UTF-8 as \x...
//
// Everything else stays, the backslash too: the point is a terminal that
// shows what was sent, not a reversible encoding (JSON output is that).
func String(s string) string {
	var b strings.Builder // empty until something needs escaping
	done := 0             // s[:done] is in b
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == utf8.RuneError && size == 1:
			esc = fmt.Sprintf(`\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			esc = fmt.Sprintf(`\x%02x`, r)
		case unsafe(r):
			esc = fmt.Sprintf(`\u%04x`, r)
		}
		if esc != "" {
			b.WriteString(s[done:i])
			b.WriteString(esc)
			done = i + size
		}
		i += size
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// unsafe reports the runes above ASCII that String escapes.
func unsafe(r rune) bool {
	return r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r)
}

// Fprintf is fmt.Fprintf with every argument printed as String prints
// it: the format's own tabs and line ends stay, an argument's are
// escaped. (No "*" widths: the width argument would be escaped too.)
func Fprintf(w io.Writer, format string, args ...any) (int, error) {
	return fmt.Fprintf(w, format, escaped(args)...)
}

// Fprintln is fmt.Fprintln with every argument printed as String prints it.
func Fprintln(w io.Writer, args ...any) (int, error) {
	return fmt.Fprintln(w, escaped(args)...)
}

func escaped(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = arg{a}
	}
	return out
}

// arg formats its value as fmt would for the verb and flags, then escapes.
type arg struct{ v any }

func (a arg) Format(f fmt.State, verb rune) {
	io.WriteString(f, String(fmt.Sprintf(fmt.FormatString(f, verb), a.v)))
}

// JSON returns a writer that passes JSON text to w with each DEL, C1
// control, bidi control and line separator written as a \u escape: the
// same values for a decoder, inert on a terminal. (encoding/json and
// slog's JSONHandler already escape C0 controls and replace invalid
// UTF-8; JSON's own syntax is ASCII, so these runes only occur inside
// strings.) Each Write should be whole JSON text, as json.Encoder and
// slog write it; a rune split across two writes passes unchanged.
func JSON(w io.Writer) io.Writer { return jsonWriter{w} }

type jsonWriter struct{ w io.Writer }

func (j jsonWriter) Write(p []byte) (int, error) {
	var out []byte // nil until something needs escaping
	done := 0      // p[:done] is in out
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r == 0x7f || unsafe(r) {
			out = fmt.Appendf(append(out, p[done:i]...), `\u%04x`, r)
			done = i + size
		}
		i += size
	}
	if out == nil {
		return j.w.Write(p)
	}
	if _, err := j.w.Write(append(out, p[done:]...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
