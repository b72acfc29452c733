package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"phoneboot/internal/phone"
)

// An inventory entry is one [[phone]] block with its [[phone.line]]s, as
// text: what the admin pages and the API show and edit, so that an edit
// there keeps comments and layout like phoneboot phones add does.

// MaxEntry is the largest entry SetPhone takes.
const MaxEntry = 64 << 10

// PhoneEntry is the text of mac's entry in the config file at path and
// the line it starts on; an error that errors.Is finds as ErrNoSuchPhone
// when the file has none (or does not exist).
func PhoneEntry(path string, mac phone.MAC) (string, int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, fmt.Errorf("%s is %w (%s does not exist)", mac, ErrNoSuchPhone, path)
	}
	if err != nil {
		return "", 0, fsFailed(err, "cannot read %s", path)
	}
	text := string(data)
	s := findPhone(text, mac)
	if s.start < 0 {
		return "", 0, fmt.Errorf("%s is %w", mac, ErrNoSuchPhone)
	}
	lines := strings.SplitAfter(text, "\n")
	return strings.Join(lines[s.start:s.end], ""), s.start + 1, nil
}

// EntryError is an entry that would make the config file invalid. Errs
// are Parse's problems with the file's lines after the edit; the entry
// was lines [Start, Start+Lines) of that text.
type EntryError struct {
	File         string
	Start, Lines int
	Errs         Errors
	// Entry is the entry's text as it went into the file (line 1 is
	// EntryLine 1), so that a caller can say which key a problem is at.
	Entry string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("the change would make %s invalid, nothing written:\n%v", e.File, e.Errs)
}

func (e *EntryError) Unwrap() error { return e.Errs }

// EntryLine is the line of the entry that file line l is (1-based), or 0
// when l is outside the entry.
func (e *EntryError) EntryLine(l int) int {
	if l < e.Start || l >= e.Start+e.Lines {
		return 0
	}
	return l - e.Start + 1
}

// SetPhone makes entry mac's entry in the config file at path: it
// replaces the old one or, when there is none, is appended (a missing
// file is created unless mustExist). entry must be one [[phone]] block
// for mac with its [[phone.line]]s; the whole file must pass Parse with
// it (else an *EntryError), and nothing is written otherwise.
func SetPhone(path string, mustExist bool, mac phone.MAC, entry string) error {
	block, err := checkEntry(entry, mac)
	if err != nil {
		return err
	}
	n := strings.Count(block, "\n")
	return edit(path, !mustExist, func(text string) (string, error) {
		var out string
		var start int
		if s := findPhone(text, mac); s.start >= 0 {
			lines := strings.SplitAfter(text, "\n")
			out = strings.Join(lines[:s.start], "") + block + strings.Join(lines[s.end:], "")
			start = s.start + 1
		} else {
			out = strings.TrimRight(text, "\r\n")
			if strings.TrimSpace(out) != "" {
				out += "\n\n"
			}
			start = strings.Count(out, "\n") + 1
			out += block
		}
		if _, err := Parse(path, []byte(out)); err != nil {
			var errs Errors
			if errors.As(err, &errs) {
				return "", &EntryError{File: path, Start: start, Lines: n, Errs: errs, Entry: block}
			}
			return "", err
		}
		return out, nil
	})
}

// checkEntry is entry as it goes in the file (ending in one newline), or
// why it is not one entry for mac.
func checkEntry(entry string, mac phone.MAC) (string, error) {
	if len(entry) > MaxEntry {
		return "", fmt.Errorf("the entry is %d bytes, more than the %d an entry may have", len(entry), MaxEntry)
	}
	entry = strings.ReplaceAll(entry, "\r\n", "\n")
	block := strings.Trim(entry, "\n") + "\n"
	lines := strings.SplitAfter(block, "\n")
	phones := 0
	for i, l := range lines {
		m := headerRE.FindStringSubmatch(l)
		switch {
		case m == nil && strings.HasPrefix(strings.TrimSpace(l), "["):
			return "", fmt.Errorf("entry line %d: %q is not a table header phoneboot knows", i+1, strings.TrimSpace(l))
		case m == nil:
			if phones == 0 && strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "#") {
				return "", fmt.Errorf("entry line %d: the entry must start with [[phone]]", i+1)
			}
		case m[1] == "phone":
			if phones++; phones > 1 {
				return "", fmt.Errorf("entry line %d: one phone per entry (a second [[phone]])", i+1)
			}
		case m[1] != "phone.line" || phones == 0:
			return "", fmt.Errorf("entry line %d: an entry holds [[phone]] and its [[phone.line]]s, not [%s]", i+1, m[1])
		}
	}
	if phones == 0 {
		return "", errors.New("the entry has no [[phone]] header")
	}
	if s := findPhone(block, mac); s.start < 0 {
		return "", fmt.Errorf("the entry must keep mac = %q (this page edits %s; add another phone to the inventory instead)", mac.String(), mac)
	}
	return block, nil
}
