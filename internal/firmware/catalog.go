package firmware

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Component is one file of a load as the catalog stores it.
type Component struct {
	Name   string `json:"name"` // as the .loads file (or the package) spells it
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// Load is one firmware load in the catalog (cisco-79xx.md §4).
type Load struct {
	// ID is the load's name as the package spells it: "P0S3-8-12-00",
	// "SIP41.9-4-2SR3-1S".
	ID string `json:"id"`
	// Protocol is "SIP", "SCCP" ("MGCP" for P0M3… loads), "" when unknown:
	// from the ID, else from the component names (jar41sip…).
	Protocol string `json:"protocol"`
	// Models are the phone.Models names the load fits: classic P0… loads
	// 7940 and 7960, Java loads every model with the load's prefix.
	Models []string `json:"models"`
	// LoadsFile is <ID>.loads; nil for old classic loads that came as a
	// lone image (P0S3-04-4-00.bin).
	LoadsFile *Component `json:"loads_file,omitempty"`
	// Components are the files the .loads lists, in its order (or the
	// lone image files).
	Components []Component `json:"components"`
	// TermFiles are the termNN.default.loads files that came with this
	// load (same component list); kept per load, never mixed between
	// the SCCP and SIP packages of one model (§4.3).
	TermFiles []Component `json:"term_files,omitempty"`
	// Extras are files of the package the .loads does not list but phones
	// may ask for: the unsigned P003….bin loader that OS79XX.TXT
	// upgrades fetch (§4.2).
	Extras []Component `json:"extras,omitempty"`
	// HardwareComp is #HARDWARE_COMP_1 of the .loads, -1 when absent.
	HardwareComp int    `json:"hardware_comp"`
	LAVersion    string `json:"la_version,omitempty"`
	// Source is the file (or directory) it was imported from.
	Source   string    `json:"source"`
	Imported time.Time `json:"imported"`
	// FetchedFrom is the node of the fleet it was fetched from
	// (ImportFetched); "" when it was imported here.
	FetchedFrom string `json:"fetched_from,omitempty"`
}

// Size is the total size of the files phones fetch for the load: the
// .loads file and the components.
func (l Load) Size() int64 {
	var n int64
	if l.LoadsFile != nil {
		n += l.LoadsFile.Size
	}
	for _, c := range l.Components {
		n += c.Size
	}
	return n
}

// served are the files of l that Open finds: the .loads file, the
// components, the extras (not the term files).
func (l Load) served() []Component {
	var out []Component
	if l.LoadsFile != nil {
		out = append(out, *l.LoadsFile)
	}
	out = append(out, l.Components...)
	return append(out, l.Extras...)
}

// File is an open catalog file.
type File interface {
	io.ReaderAt
	Size() int64
	Close() error
}

type osFile struct {
	*os.File
	size int64
}

func (f osFile) Size() int64 { return f.size }

// Catalog is the firmware catalog stored under one directory:
//
//	DIR/<LoadID>/load.json   the Load, as JSON
//	DIR/<LoadID>/<name>      its files, named as the .loads lists them
//	DIR/.import-*/           an import being built (removed when stale)
//
// A load directory appears by one rename, complete; the catalog is read
// from the load.json files. Methods are safe for concurrent use.
type Catalog struct {
	// MaxImportSize caps the bytes an Import reads out of its packages
	// (uncompressed); 0 means DefaultMaxImportSize.
	MaxImportSize int64
	// MaxEntries caps the entries (files and directories) an Import
	// reads; 0 means DefaultMaxEntries.
	MaxEntries int

	dir string

	importMu sync.Mutex // one Import or Remove at a time
	reloadMu sync.Mutex // one reload at a time

	// changed gets a value after a reload found other loads than before
	// (see Changed).
	changed chan struct{}

	mu       sync.RWMutex
	state    *state
	mtime    time.Time // of dir when state was read
	trusted  bool      // mtime was old enough when read to detect any later change
	problems []string
}

// state is what the catalog holds, swapped as a whole on reload.
type state struct {
	loads map[string]Load               // by lower-case ID
	files map[string]indexed            // lower-case name → served file
	terms map[string]map[string]indexed // lower-case ID → lower-case name → term file
}

type indexed struct {
	path string
	id   string // the load's ID
	sum  string
	size int64
}

// Catalog limits against hostile packages (zip bombs).
const (
	DefaultMaxImportSize = 2 << 30
	DefaultMaxEntries    = 10000
	// maxLoadsFile: real .loads files are under 1 KiB.
	maxLoadsFile = 1 << 20
	// staleImport is how old an .import-* directory must be before
	// OpenCatalog takes it for a crash leftover (not a running import).
	staleImport = 15 * time.Minute
	loadJSON    = "load.json"
	formatV1    = 1
)

// OpenCatalog opens the catalog stored under dir, creating dir if needed,
// and removes what crashed imports and removals left behind.
func OpenCatalog(dir string) (*Catalog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("firmware catalog: %w", err)
	}
	c := &Catalog{dir: dir, changed: make(chan struct{}, 1)}
	c.removeLeftovers(time.Now())
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Dir is the directory the catalog is stored in.
func (c *Catalog) Dir() string { return c.dir }

func (c *Catalog) removeLeftovers(now time.Time) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(c.dir, name)
		switch {
		case strings.HasPrefix(name, ".rm-"):
			os.RemoveAll(p)
		case strings.HasPrefix(name, ".import-"):
			newest := time.Time{}
			for _, q := range []string{p, filepath.Join(p, "files")} {
				if fi, err := os.Stat(q); err == nil && fi.ModTime().After(newest) {
					newest = fi.ModTime()
				}
			}
			if now.Sub(newest) > staleImport {
				os.RemoveAll(p)
			}
		}
	}
}

// Refresh re-reads the catalog from disk, so that loads another process
// imported or removed show. It only stats the directory when nothing
// changed. Loads that cannot be read are left out and listed by Problems;
// only an unreadable catalog directory is an error.
func (c *Catalog) Refresh() error {
	fi, err := os.Stat(c.dir)
	if err != nil {
		return fmt.Errorf("firmware catalog: %w", err)
	}
	c.mu.RLock()
	same := c.trusted && fi.ModTime().Equal(c.mtime)
	c.mu.RUnlock()
	if same {
		return nil
	}
	return c.reload()
}

// reload reads every load.json and rebuilds the indexes.
func (c *Catalog) reload() error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	fi, err := os.Stat(c.dir)
	if err != nil {
		return fmt.Errorf("firmware catalog: %w", err)
	}
	readAt := time.Now()
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("firmware catalog: %w", err)
	}
	st := &state{loads: map[string]Load{}, files: map[string]indexed{}, terms: map[string]map[string]indexed{}}
	var problems []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		where := filepath.Join(c.dir, name)
		if !e.IsDir() {
			problems = append(problems, fmt.Sprintf("%s: not a load directory (ignored)", where))
			continue
		}
		l, err := readLoadJSON(where, name)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		key := strings.ToLower(l.ID)
		if _, dup := st.loads[key]; dup {
			problems = append(problems, fmt.Sprintf("%s: load %s is in the catalog twice (ignored)", where, l.ID))
			continue
		}
		st.loads[key] = l
	}
	// Index in ID order, so that a name two loads share (same bytes)
	// resolves the same way every time.
	keys := make([]string, 0, len(st.loads))
	for k := range st.loads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l := st.loads[k]
		dir := filepath.Join(c.dir, l.ID)
		for _, f := range l.served() {
			lower := strings.ToLower(f.Name)
			if old, ok := st.files[lower]; ok {
				if old.sum != f.SHA256 {
					problems = append(problems, fmt.Sprintf("%s: %s differs from the one of load %s; phones get that one", dir, f.Name, old.id))
				}
				continue
			}
			st.files[lower] = indexed{path: filepath.Join(dir, f.Name), id: l.ID, sum: f.SHA256, size: f.Size}
		}
		terms := map[string]indexed{}
		for _, f := range l.TermFiles {
			terms[strings.ToLower(f.Name)] = indexed{path: filepath.Join(dir, f.Name), id: l.ID, sum: f.SHA256, size: f.Size}
		}
		st.terms[k] = terms
	}
	c.mu.Lock()
	if c.state != nil && !sameLoads(c.state.loads, st.loads) {
		select {
		case c.changed <- struct{}{}:
		default: // one pending value says it all
		}
	}
	c.state, c.problems = st, problems
	c.mtime = fi.ModTime()
	// A change within the file system's timestamp granularity of the
	// one just read would keep the same mtime: trust it only when old.
	c.trusted = readAt.Sub(fi.ModTime()) > 2*time.Second
	c.mu.Unlock()
	return nil
}

// Changed gets a value soon after the catalog's loads changed: an import
// or removal through this Catalog, or one by another process that a
// Refresh found. Changes that come faster are merged into one. It is
// meant for one receiver (the node's firmware sharing).
func (c *Catalog) Changed() <-chan struct{} { return c.changed }

// sameLoads reports whether a and b hold the same loads with the same
// files.
func sameLoads(a, b map[string]Load) bool {
	if len(a) != len(b) {
		return false
	}
	for k, l := range a {
		m, ok := b[k]
		if !ok || l.ID != m.ID || !sameFiles(l, m) || len(l.TermFiles) != len(m.TermFiles) || len(l.Extras) != len(m.Extras) {
			return false
		}
	}
	return true
}

// readLoadJSON reads dir/load.json and checks it describes a load named
// as dir whose files are plain names.
func readLoadJSON(dir, name string) (Load, error) {
	data, err := os.ReadFile(filepath.Join(dir, loadJSON))
	if err != nil {
		return Load{}, fmt.Errorf("%s: not a load (%v)", dir, err)
	}
	var lf loadFile
	if err := json.Unmarshal(data, &lf); err != nil {
		return Load{}, fmt.Errorf("%s: %v", filepath.Join(dir, loadJSON), err)
	}
	l := lf.Load
	if lf.Format != formatV1 {
		return Load{}, fmt.Errorf("%s: unknown format %d", filepath.Join(dir, loadJSON), lf.Format)
	}
	if l.ID != name {
		return Load{}, fmt.Errorf("%s: says it is load %q", filepath.Join(dir, loadJSON), l.ID)
	}
	all := append(l.served(), l.TermFiles...)
	if len(l.Components) == 0 {
		return Load{}, fmt.Errorf("%s: load %s has no components", filepath.Join(dir, loadJSON), l.ID)
	}
	for _, f := range all {
		if err := plainName(f.Name); err != nil || strings.EqualFold(f.Name, loadJSON) {
			return Load{}, fmt.Errorf("%s: bad file name %q", filepath.Join(dir, loadJSON), f.Name)
		}
	}
	return l, nil
}

// loadFile is the content of load.json.
type loadFile struct {
	Format int `json:"format"`
	Load
}

// Problems lists what the last read of the catalog left out and why:
// unreadable load.json files, stray files.
func (c *Catalog) Problems() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]string(nil), c.problems...)
}

// Loads lists the loads, sorted by ID.
func (c *Catalog) Loads() []Load {
	c.mu.RLock()
	st := c.state
	c.mu.RUnlock()
	out := make([]Load, 0, len(st.loads))
	for _, l := range st.loads {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].ID), strings.ToLower(out[j].ID)
		if a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Load finds a load by ID in any case.
func (c *Catalog) Load(id string) (Load, bool) {
	c.mu.RLock()
	st := c.state
	c.mu.RUnlock()
	l, ok := st.loads[strings.ToLower(id)]
	return l, ok
}

// Open opens a catalog file by the name a phone asks for, in any case
// ("Jar41sip…" or "jar41sip…", ".SBN"): a .loads file, a component or an
// extra of any load. Term files are not found here (see Term). A leading
// "/" or "./" is ignored. ok is false when no load has the file.
func (c *Catalog) Open(name string) (File, bool, error) {
	for {
		if n, ok := strings.CutPrefix(name, "./"); ok {
			name = n
		} else if n, ok := strings.CutPrefix(name, "/"); ok {
			name = n
		} else {
			break
		}
	}
	c.mu.RLock()
	st := c.state
	c.mu.RUnlock()
	f, ok := st.files[strings.ToLower(name)]
	if !ok {
		return nil, false, nil
	}
	return openIndexed(f)
}

// Term opens termNN.default.loads ("term61.default.loads", any case) as it
// came with load loadID (any case).
func (c *Catalog) Term(loadID, name string) (File, bool, error) {
	c.mu.RLock()
	st := c.state
	c.mu.RUnlock()
	f, ok := st.terms[strings.ToLower(loadID)][strings.ToLower(name)]
	if !ok {
		return nil, false, nil
	}
	return openIndexed(f)
}

func openIndexed(ix indexed) (File, bool, error) {
	f, err := os.Open(ix.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil // removed meanwhile
	}
	if err != nil {
		return nil, false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return osFile{File: f, size: fi.Size()}, true, nil
}

// Remove deletes a load and its files. (It does not know which phones
// run or target the load: the caller checks that.)
func (c *Catalog) Remove(id string) error {
	c.importMu.Lock()
	defer c.importMu.Unlock()
	if err := c.Refresh(); err != nil {
		return err
	}
	l, ok := c.Load(id)
	if !ok {
		return fmt.Errorf("no load %s in the catalog", id)
	}
	// One rename takes it out of the catalog; a crash before the
	// removal finishes leaves a .rm-* directory OpenCatalog removes.
	trash, err := os.MkdirTemp(c.dir, ".rm-")
	if err != nil {
		return fmt.Errorf("firmware catalog: %w", err)
	}
	if err := os.Rename(filepath.Join(c.dir, l.ID), filepath.Join(trash, l.ID)); err != nil {
		os.Remove(trash)
		return fmt.Errorf("firmware catalog: %w", err)
	}
	syncDir(c.dir)
	err = os.RemoveAll(trash)
	if rerr := c.reload(); rerr != nil {
		return rerr
	}
	if err != nil {
		return fmt.Errorf("load %s removed from the catalog, but its files: %w", l.ID, err)
	}
	return nil
}

// Verify reads every file of load id again and compares it with the size
// and SHA-256 recorded at import.
func (c *Catalog) Verify(id string) error {
	l, ok := c.Load(id)
	if !ok {
		return fmt.Errorf("no load %s in the catalog", id)
	}
	dir := filepath.Join(c.dir, l.ID)
	for _, f := range append(l.served(), l.TermFiles...) {
		p := filepath.Join(dir, f.Name)
		size, sum, err := hashFile(p)
		if err != nil {
			return fmt.Errorf("load %s: %w", l.ID, err)
		}
		if size != f.Size || sum != f.SHA256 {
			return fmt.Errorf("load %s: %s changed since the import (%d bytes, sha256 %.12s…; was %d bytes, %.12s…)", l.ID, p, size, sum, f.Size, f.SHA256)
		}
	}
	return nil
}

func hashFile(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir makes a directory's entries durable, where the platform allows
// it (best effort: some do not support syncing directories).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
