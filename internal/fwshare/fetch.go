package fwshare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/firmware"
	"phoneboot/internal/store"
)

// maxFiles bounds a manifest: a real load has at most a dozen files.
const maxFiles = 64

// fileError is a problem with one file of a load.
type fileError struct {
	name string
	err  error
}

func (e *fileError) Error() string { return e.name + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// errPermanent marks an answer another try of the same file would not
// change (a mismatch, 404): the load waits for the backoff.
var errPermanent = errors.New("permanent")

type permanent struct{ error }

func (p permanent) Is(target error) bool { return target == errPermanent }
func (p permanent) Unwrap() error        { return p.error }

// checkManifest refuses a row no import could take or that would make
// this node write where it should not: names that are not plain file
// names, two files of one name, sizes and digests that are no sizes and
// digests, more files or bytes than an import may hold.
func (s *Sharer) checkManifest(l store.HeldLoad) error {
	if l.Unreadable {
		return errors.New("its manifest in the database is not readable JSON")
	}
	files := l.Manifest.Files
	if len(files) == 0 || len(files) > maxFiles {
		return fmt.Errorf("its manifest lists %d files (a load has 1 to %d)", len(files), maxFiles)
	}
	limit := s.Catalog.MaxImportSize
	if limit <= 0 {
		limit = firmware.DefaultMaxImportSize
	}
	seen := map[string]bool{}
	var total int64
	for _, f := range files {
		if !plainName(f.Name) {
			return fmt.Errorf("its manifest names a file %q, which is no plain file name", f.Name)
		}
		if seen[strings.ToLower(f.Name)] {
			return fmt.Errorf("its manifest lists %s twice", f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		if !isSHA256(f.SHA256) {
			return &fileError{f.Name, fmt.Errorf("the manifest's sha256 %q is not 64 hex digits", f.SHA256)}
		}
		if f.Size < 0 || f.Size > limit-total {
			return fmt.Errorf("its manifest holds more than the %d MiB an import may hold", limit>>20)
		}
		total += f.Size
	}
	if !plainName(l.ID) {
		return fmt.Errorf("%q is no load name", l.ID)
	}
	return nil
}

// plainName is a name the catalog could store a file under: no
// separators, no control characters, not hidden, not an archive (which
// an import would open as a package of its own).
func plainName(s string) bool {
	if s == "" || len(s) > 255 || strings.HasPrefix(s, ".") || strings.ContainsAny(s, `/\:`) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	lower := strings.ToLower(s)
	for _, ext := range []string{".zip", ".cop", ".sgn", ".tar", ".gz", ".tgz"} {
		if strings.HasSuffix(lower, ext) {
			return false
		}
	}
	return true
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// fetchLoad downloads every file of h into a staging folder of the
// catalog (.import-fetch-*, which the catalog removes when a crash left
// it), checks each against the manifest, then imports them: all or
// nothing.
func (s *Sharer) fetchLoad(ctx context.Context, h holder) error {
	dir, err := os.MkdirTemp(s.Catalog.Dir(), ".import-fetch-")
	if err != nil {
		return fmt.Errorf("firmware catalog: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, f := range h.load.Manifest.Files {
		if err := s.fetchFile(ctx, h, f, filepath.Join(dir, f.Name)); err != nil {
			return &fileError{f.Name, err}
		}
	}
	rep, err := s.Catalog.ImportFetched(dir, h.load.Node)
	if err != nil {
		return err
	}
	for _, l := range rep.Added {
		if strings.EqualFold(l.ID, h.load.ID) {
			if got := ManifestOf(l); !sameFiles(got, h.load.Manifest) {
				// The bytes are the node's, checked; only the catalog's
				// reading of them differs. Said, not undone.
				s.Log.Warn("firmware: a fetched load came out with other files than the node's manifest says", "node", h.load.Node, "load", l.ID)
			}
			return nil
		}
	}
	if _, ok := s.Catalog.Load(h.load.ID); ok {
		return nil // imported meanwhile by someone else
	}
	return fmt.Errorf("its files make no load %s (the import found %d other loads)", h.load.ID, len(rep.Added))
}

// sameFiles compares two manifests as sets of files.
func sameFiles(a, b store.Manifest) bool {
	if len(a.Files) != len(b.Files) {
		return false
	}
	have := map[store.ManifestFile]bool{}
	for _, f := range a.Files {
		have[f] = true
	}
	for _, f := range b.Files {
		if !have[f] {
			return false
		}
	}
	return true
}

// fetchFile downloads one file to path, trying again after a transient
// failure (a refused connection, a cut download, 429 or 503, which say
// how long to wait), at most Attempts times.
func (s *Sharer) fetchFile(ctx context.Context, h holder, f store.ManifestFile, path string) error {
	url := h.url + strings.TrimPrefix(firmware.SharedPath(h.load.ID, f.Name), "/")
	wait := s.RetryWait
	var err error
	for attempt := 1; attempt <= s.Attempts; attempt++ {
		var retryAfter time.Duration
		retryAfter, err = s.download(ctx, url, f, path)
		if err == nil || errors.Is(err, errPermanent) || ctx.Err() != nil {
			break
		}
		if attempt == s.Attempts {
			break
		}
		pause := wait
		if retryAfter > 0 {
			pause = retryAfter
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		wait *= 2
	}
	if err != nil && errors.Is(err, errPermanent) {
		return errors.Unwrap(err) // the reason, without the marker
	}
	return err
}

// downloadTime bounds one download: a minute, plus a second per MiB (a
// LAN moves ten times that).
func downloadTime(size int64) time.Duration {
	return time.Minute + time.Duration(size>>20)*time.Second
}

// download fetches url into a new file at path and checks it against f.
// retryAfter is what a 429 or 503 asked to wait (capped at 10 s).
func (s *Sharer) download(ctx context.Context, url string, f store.ManifestFile, path string) (retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, downloadTime(f.Size))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, permanent{err}
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return parseRetryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("the node answered %s", resp.Status)
	case http.StatusNotFound:
		return 0, permanent{fmt.Errorf("the node does not have it (404): it may have removed the load")}
	default:
		return 0, fmt.Errorf("the node answered %s", resp.Status)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != f.Size {
		return 0, permanent{fmt.Errorf("the node sends %d bytes, the manifest says %d", resp.ContentLength, f.Size)}
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, permanent{err}
	}
	defer out.Close()
	sum := sha256.New()
	// One byte more than the manifest says shows a longer file without
	// reading all of it.
	n, err := io.Copy(io.MultiWriter(out, sum), io.LimitReader(resp.Body, f.Size+1))
	if err != nil {
		return 0, fmt.Errorf("download cut after %d of %d bytes: %w", n, f.Size, err)
	}
	if n != f.Size {
		return 0, permanent{fmt.Errorf("the node sent %s bytes, the manifest says %d", moreThan(n, f.Size), f.Size)}
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != f.SHA256 {
		return 0, permanent{fmt.Errorf("sha256 %.12s… differs from the manifest's %.12s…", got, f.SHA256)}
	}
	return 0, out.Close()
}

func moreThan(n, size int64) string {
	if n > size {
		return "more than " + strconv.FormatInt(size, 10)
	}
	return strconv.FormatInt(n, 10)
}

// parseRetryAfter reads Retry-After in seconds, within 1–10 s.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return time.Second
	}
	return time.Duration(min(n, 10)) * time.Second
}
