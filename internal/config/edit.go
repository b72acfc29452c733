package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"phoneboot/internal/phone"
)

// Editing phoneboot.toml (phoneboot phones add, adopt, rm) changes its
// text, not a re-encoding of the Config, so that comments and layout stay
// as the admin wrote them. An edit
//   - holds an exclusive lock (flock on NAME.lock next to the file) from
//     reading to renaming, so that concurrent edits never lose one;
//   - writes only a result that passes Parse;
//   - writes a temporary file in the same folder, syncs it, gives it the
//     old file's mode and owner (an edit that cannot keep the owner is
//     refused), 0600 for a new file (it holds SIP passwords), renames it
//     over the old one and syncs the folder: a crash leaves the old file
//     or the new one, never a mix;
//   - edits the file a symlink points to, and keeps the symlink;
//   - writes values as TOML basic strings (tomlString).
// Failures say what failed in words (fsError), never only a syscall's.

// NewPhone is an inventory entry for AddPhone, as given on the command
// line: Parse checks it with the rest of the file.
type NewPhone struct {
	MAC      phone.MAC
	Model    string // any spelling phone.ModelByName knows; "": learned from the phone
	Protocol string // SCCP or SIP; "": the site's
	Label    string
	Lines    []Line
}

// Edit errors, for errors.Is.
var (
	ErrPhoneExists = errors.New("already in the inventory")
	ErrNoSuchPhone = errors.New("not in the inventory")
)

// lockWait is how long an edit waits for another to finish.
var lockWait = 30 * time.Second

// AddPhone appends p's [[phone]] block to the config file at path. A
// missing file is created (0600, and its folder), unless mustExist.
func AddPhone(path string, mustExist bool, p NewPhone) error {
	block, err := phoneText(p)
	if err != nil {
		return err
	}
	return edit(path, !mustExist, func(text string) (string, error) {
		if s := findPhone(text, p.MAC); s.start >= 0 {
			return "", fmt.Errorf("%s is %w (line %d)", p.MAC, ErrPhoneExists, s.start+1)
		}
		text = strings.TrimRight(text, "\r\n")
		if strings.TrimSpace(text) != "" {
			text += "\n\n"
		}
		out := text + block
		// Parse's problems as SetPhone reports them, with the new entry's
		// place, so that the API can point into what it was sent.
		if _, err := Parse(path, []byte(out)); err != nil {
			var errs Errors
			if errors.As(err, &errs) {
				return "", &EntryError{File: path, Start: strings.Count(text, "\n") + 1,
					Lines: strings.Count(block, "\n"), Errs: errs, Entry: block}
			}
			return "", err
		}
		return out, nil
	})
}

// RemovePhone cuts the [[phone]] block of mac, with its [[phone.line]]s
// and the comment right above it, out of the config file at path.
func RemovePhone(path string, mac phone.MAC) error {
	err := edit(path, false, func(text string) (string, error) {
		s := findPhone(text, mac)
		if s.start < 0 {
			return "", fmt.Errorf("%s is %w", mac, ErrNoSuchPhone)
		}
		lines := strings.SplitAfter(text, "\n")
		blank := func(i int) bool { return strings.TrimSpace(lines[i]) == "" }
		// The comment right above the header is the phone's; of the
		// blank lines around the block, one stays.
		for s.start > 0 && strings.HasPrefix(strings.TrimSpace(lines[s.start-1]), "#") {
			s.start--
		}
		if s.start > 0 && blank(s.start-1) && s.end < len(lines)-1 && blank(s.end) {
			s.end++
		}
		out := strings.Join(append(lines[:s.start:s.start], lines[s.end:]...), "")
		if s.end >= len(lines) {
			// The last block: no blank lines left at the end.
			if out = strings.TrimRight(out, "\r\n"); out != "" {
				out += "\n"
			}
		}
		return out, nil
	})
	var me *missingError
	if errors.As(err, &me) {
		return fmt.Errorf("%s is %w (%s does not exist)", mac, ErrNoSuchPhone, path)
	}
	return err
}

// phoneText is p's [[phone]] block.
func phoneText(p NewPhone) (string, error) {
	if p.MAC == (phone.MAC{}) {
		return "", errors.New("a phone needs a MAC address")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[[phone]]\nmac = %s\n", tomlString(p.MAC.String()))
	kv := func(indent, key, v string) error {
		if !utf8.ValidString(v) {
			return fmt.Errorf("phone %s: %s %q is not valid UTF-8", p.MAC, key, v)
		}
		if v != "" {
			fmt.Fprintf(&b, "%s%s = %s\n", indent, key, tomlString(v))
		}
		return nil
	}
	for _, f := range [][2]string{{"model", p.Model}, {"protocol", p.Protocol}, {"label", p.Label}} {
		if err := kv("", f[0], f[1]); err != nil {
			return "", err
		}
	}
	for _, l := range p.Lines {
		b.WriteString("\n  [[phone.line]]\n")
		for _, f := range [][2]string{{"extension", l.Extension}, {"name", l.Name}, {"auth_user", l.AuthUser}, {"password", l.Password}} {
			if err := kv("  ", f[0], f[1]); err != nil {
				return "", err
			}
		}
	}
	return b.String(), nil
}

// tomlString quotes s as a TOML basic string: UTF-8 as it is, the quote,
// the backslash and control characters escaped.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// span is a [[phone]] entry's lines [start, end), start -1 if absent.
type span struct{ start, end int }

// findPhone finds the [[phone]] entry of mac: from its header to the next
// header that is not one of its [[phone.line]]s (comments and blank lines
// just before that header stay with it).
func findPhone(text string, mac phone.MAC) span {
	lines := strings.SplitAfter(text, "\n")
	header := func(l string) string {
		if m := headerRE.FindStringSubmatch(l); m != nil {
			return m[1]
		}
		if strings.HasPrefix(strings.TrimSpace(l), "[") {
			return "?" // a header phoneboot does not know: it ends the entry
		}
		return ""
	}
	for i := 0; i < len(lines); i++ {
		if header(lines[i]) != "phone" {
			continue
		}
		end := i + 1
		for end < len(lines) {
			if h := header(lines[end]); h != "" && h != "phone.line" {
				break
			}
			end++
		}
		for end > i+1 && end < len(lines) && (strings.TrimSpace(lines[end-1]) == "" || strings.HasPrefix(strings.TrimSpace(lines[end-1]), "#")) {
			end--
		}
		for _, l := range lines[i+1 : end] {
			k, v, ok := strings.Cut(l, "=")
			if !ok || strings.Trim(strings.TrimSpace(k), `"'`) != "mac" {
				continue
			}
			v, _, _ = strings.Cut(v, "#")
			if m, err := phone.ParseMAC(strings.Trim(strings.TrimSpace(v), `"'`)); err == nil && m == mac {
				return span{i, end}
			}
		}
		i = end - 1
	}
	return span{-1, -1}
}

// edit changes the text of the config file at path with change, under
// the edit lock, and replaces the file only if the result passes Parse.
// A missing file is an empty one if create, else a *missingError.
func edit(path string, create bool, change func(string) (string, error)) error {
	target, err := resolveLinks(path)
	if err != nil {
		return err
	}
	st, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return &missingError{path}
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fsFailed(err, "cannot create the folder of %s", target)
		}
	}
	unlock, err := lockEdits(target, st)
	if err != nil {
		return err
	}
	defer unlock()

	var old []byte
	var info fs.FileInfo
	f, err := os.Open(target)
	switch {
	case err == nil:
		info, err = f.Stat()
		if err == nil {
			old, err = io.ReadAll(f)
		}
		f.Close()
		if err != nil {
			return fsFailed(err, "cannot read %s", target)
		}
	case errors.Is(err, fs.ErrNotExist) && create:
	case errors.Is(err, fs.ErrNotExist):
		return &missingError{path}
	default:
		return fsFailed(err, "cannot read %s", target)
	}
	text, err := change(string(old))
	if err != nil {
		return err
	}
	if _, err := Parse(path, []byte(text)); err != nil {
		return fmt.Errorf("the change would make %s invalid, nothing written:\n%w", path, err)
	}
	return replace(target, []byte(text), info)
}

// resolveLinks follows path through symlinks to the file to edit, which
// need not exist yet (a dangling link names the file to create).
func resolveLinks(path string) (string, error) {
	for range 40 {
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && st.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if err != nil {
			return "", fsFailed(err, "cannot look at %s", path)
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", fsFailed(err, "cannot read the symlink %s", path)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// lockEdits takes the edit lock of target, waiting up to lockWait for
// another edit to finish. The lock file stays: removing it would let two
// editors lock two different files. It is private (0600) and belongs to
// target's owner (st, nil when there is no file yet), who may edit after
// root did: only they and root can hold up edits with it.
func lockEdits(target string, st fs.FileInfo) (unlock func(), err error) {
	name := target + ".lock"
	f, err := os.OpenFile(name, os.O_RDONLY|os.O_CREATE, 0o600) // flock needs no write access
	if err != nil {
		return nil, fsFailed(err, "cannot open %s, the lock that keeps edits of %s apart (an edit creates it in the folder and needs to read it)", name, target)
	}
	if st != nil {
		keepOwner(f, st) // best effort: the owner's own edits need only that it opens
	}
	deadline := time.Now().Add(lockWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fsFailed(err, "cannot lock %s for editing %s", name, target)
		}
		if ok {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another edit of %s has held %s for more than %v; nothing written", target, name, lockWait)
		}
		time.Sleep(delay/2 + rand.N(delay))
	}
}

// replace writes data to a new file next to target and renames it over
// target, keeping old's mode and owner (old nil: a new file, 0600).
func replace(target string, data []byte, old fs.FileInfo) error {
	dir := filepath.Dir(target)
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return fsFailed(err, "cannot write a new copy of %s in %s", target, dir)
	}
	mode := fs.FileMode(0o600)
	if old != nil {
		mode = old.Mode().Perm()
		err = keepOwner(f, old)
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), target)
	}
	if err != nil {
		os.Remove(f.Name())
		var oe *ownerError
		if errors.As(err, &oe) {
			return fmt.Errorf("%s %v; nothing written", target, err)
		}
		return fsFailed(err, "cannot write %s", target)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%s written, but syncing its folder failed (%s): after a power cut the edit may be lost", target, why(err))
	}
	return nil
}

// ownerError: the new copy of a file cannot have the old one's owner
// and group (user:group each).
type ownerError struct{ old, us string }

func (e *ownerError) Error() string {
	user, _, _ := strings.Cut(e.old, ":")
	return fmt.Sprintf("belongs to %s; phoneboot runs as %s and cannot give the edited file that owner: run it as root or as %s", e.old, e.us, user)
}

// fsError is a file system failure in words, errors.Is-able.
type fsError struct {
	msg string
	err error
}

func (e *fsError) Error() string { return e.msg }
func (e *fsError) Unwrap() error { return e.err }

// fsFailed is err after what, with the reason in words: "cannot write
// /etc/phoneboot.toml (permission denied); nothing written".
func fsFailed(err error, what string, args ...any) error {
	return &fsError{fmt.Sprintf(what, args...) + " (" + why(err) + "); nothing written", err}
}

// why is err's reason without the operation and path of an
// *fs.PathError (the sentence around it names the file).
func why(err error) string {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.As(err, &pe):
		return pe.Err.Error()
	case errors.As(err, &le):
		return le.Err.Error()
	}
	return err.Error()
}
