package firmware

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/phone"
)

// ImportReport says what an Import did.
type ImportReport struct {
	Added   []Load   // sorted by ID
	Skipped []string // IDs already in the catalog with identical contents
	Notes   []string // files that belong to no load, term files that fit none, …
}

// newLoad is a load found in an import, with where its files are.
type newLoad struct {
	Load
	files map[string]*staged // stored name → content
	label string             // the package, for messages
}

// Import adds every load found in paths: Cisco zip packages
// (cmterm-7960-sip.8-12-00.zip), .cop and .cop.sgn (tar.gz, the latter
// after a signature header), .tar, .tar.gz, .tgz, directories (recursive;
// archives in them are packages of their own) and loose files (a .loads
// and its components, given one by one). It is all or nothing: on any
// error the catalog is left as it was.
//
// A load is found by its <ID>.loads file; every component it lists must
// be in the same package (case does not matter: the stored file is named
// as the .loads lists it). An old 7940/7960 image without a .loads
// (P0S3-04-4-00.bin, phone.Image.OldImage) is a load by itself.
// termNN.default.loads files go with the load whose component list they
// repeat (cisco-79xx.md §4.3).
func (c *Catalog) Import(paths ...string) (ImportReport, error) {
	return c.importPaths(paths, nil, "")
}

// importPaths is Import, with shown naming paths in messages and
// Load.Source (reader.shown), and fetchedFrom as the loads' FetchedFrom.
func (c *Catalog) importPaths(paths []string, shown map[string]string, fetchedFrom string) (ImportReport, error) {
	if len(paths) == 0 {
		return ImportReport{}, errors.New("nothing to import: give package files or directories")
	}
	c.importMu.Lock()
	defer c.importMu.Unlock()
	if err := c.Refresh(); err != nil {
		return ImportReport{}, err
	}
	tmp, err := os.MkdirTemp(c.dir, ".import-")
	if err != nil {
		return ImportReport{}, fmt.Errorf("firmware catalog: %w", err)
	}
	// Removes what a failed import built, and on success what is left of
	// the staging area (the load directories were renamed out of it).
	defer os.RemoveAll(tmp)
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return ImportReport{}, fmt.Errorf("firmware catalog: %w", err)
	}
	defer root.Close()
	tmpRel := filepath.Base(tmp)
	if err := root.Mkdir(path.Join(tmpRel, "files"), 0o755); err != nil {
		return ImportReport{}, fmt.Errorf("firmware catalog: %w", err)
	}
	seq := 0
	stage := func(r io.Reader) (string, error) {
		seq++
		rel := path.Join(tmpRel, "files", strconv.Itoa(seq))
		f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return rel, err
	}
	rd := newReader(c.MaxImportSize, c.MaxEntries, stage)
	rd.shown = shown
	for _, p := range paths {
		if err := rd.addPath(p); err != nil {
			return ImportReport{}, err
		}
	}
	found, notes, err := findAll(rd.groups)
	if err != nil {
		return ImportReport{}, err
	}
	report := ImportReport{Notes: append(rd.notes, notes...)}
	add, err := c.plan(found, &report)
	if err != nil {
		return ImportReport{}, err
	}
	if len(add) == 0 {
		return report, nil
	}
	for _, nl := range add {
		nl.FetchedFrom = fetchedFrom
	}
	if err := c.commit(root, tmpRel, add); err != nil {
		return ImportReport{}, err
	}
	if err := c.reload(); err != nil {
		return ImportReport{}, err
	}
	for _, nl := range add {
		if l, ok := c.Load(nl.ID); ok {
			report.Added = append(report.Added, l)
		}
	}
	return report, nil
}

// plan compares the loads found with the catalog: identical ones are
// skipped, different ones and file names that would mean two files are
// errors.
func (c *Catalog) plan(found []*newLoad, report *ImportReport) ([]*newLoad, error) {
	c.mu.RLock()
	st := c.state
	c.mu.RUnlock()
	var add []*newLoad
	names := map[string]indexed{} // served names of the loads added
	for _, nl := range found {
		if old, ok := st.loads[strings.ToLower(nl.ID)]; ok {
			if !sameFiles(old, nl.Load) {
				return nil, fmt.Errorf("%s: load %s is already in the catalog with different contents; phoneboot firmware rm %s first", nl.label, old.ID, old.ID)
			}
			report.Skipped = append(report.Skipped, old.ID)
			if missing := newNames(old.TermFiles, nl.TermFiles); len(missing) > 0 {
				report.Notes = append(report.Notes, fmt.Sprintf("%s: already in the catalog without %s; to add them: phoneboot firmware rm %s, then import again", old.ID, strings.Join(missing, ", "), old.ID))
			}
			continue
		}
		for _, f := range nl.served() {
			lower := strings.ToLower(f.Name)
			if ix, ok := st.files[lower]; ok && ix.sum != f.SHA256 {
				return nil, fmt.Errorf("%s: load %s: %s differs from the file of that name in load %s, already in the catalog (phones ask for files by name: one name must mean one file)", nl.label, nl.ID, f.Name, ix.id)
			}
			if ix, ok := names[lower]; ok && ix.sum != f.SHA256 {
				return nil, fmt.Errorf("%s: load %s: %s differs from the file of that name in load %s of this import (phones ask for files by name: one name must mean one file)", nl.label, nl.ID, f.Name, ix.id)
			}
			names[lower] = indexed{id: nl.ID, sum: f.SHA256}
		}
		if _, err := os.Lstat(filepath.Join(c.dir, nl.ID)); err == nil {
			return nil, fmt.Errorf("%s: load %s: %s exists but is no load of the catalog; move it away first", nl.label, nl.ID, filepath.Join(c.dir, nl.ID))
		}
		add = append(add, nl)
	}
	return add, nil
}

// newNames lists the names in b that a lacks.
func newNames(a, b []Component) []string {
	have := map[string]bool{}
	for _, f := range a {
		have[strings.ToLower(f.Name)] = true
	}
	var out []string
	for _, f := range b {
		if !have[strings.ToLower(f.Name)] {
			out = append(out, f.Name)
		}
	}
	return out
}

// commit builds each load's directory in the staging area, makes it
// durable, then renames it into the catalog; a failed rename takes back
// the ones done. Every write goes through root: nothing can land outside
// the catalog.
func (c *Catalog) commit(root *os.Root, tmpRel string, add []*newLoad) error {
	imported := time.Now().UTC().Truncate(time.Second)
	for _, nl := range add {
		dir := path.Join(tmpRel, nl.ID)
		if err := root.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("firmware catalog: %w", err)
		}
		names := make([]string, 0, len(nl.files))
		for name := range nl.files {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := linkOrCopy(root, nl.files[name].path, path.Join(dir, name)); err != nil {
				return fmt.Errorf("firmware catalog: load %s: %w", nl.ID, err)
			}
		}
		nl.Imported = imported
		data, err := json.MarshalIndent(loadFile{Format: formatV1, Load: nl.Load}, "", "  ")
		if err != nil {
			return err
		}
		if err := writeSynced(root, path.Join(dir, loadJSON), append(data, '\n')); err != nil {
			return fmt.Errorf("firmware catalog: load %s: %w", nl.ID, err)
		}
		syncDir(filepath.Join(c.dir, dir))
	}
	for i, nl := range add {
		if err := root.Rename(path.Join(tmpRel, nl.ID), nl.ID); err != nil {
			for _, done := range add[:i] {
				root.Rename(done.ID, path.Join(tmpRel, done.ID))
			}
			syncDir(c.dir)
			return fmt.Errorf("firmware catalog: load %s: %w", nl.ID, err)
		}
	}
	syncDir(c.dir)
	return nil
}

// linkOrCopy puts the staged file at newname: a hard link (the staged
// file is already synced), else a synced copy.
func linkOrCopy(root *os.Root, oldname, newname string) error {
	if err := root.Link(oldname, newname); err == nil {
		return nil
	}
	src, err := root.Open(oldname)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := root.OpenFile(newname, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeSynced(root *os.Root, name string, data []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sameFiles reports whether two loads have the same .loads file and
// components, byte for byte.
func sameFiles(a, b Load) bool {
	if (a.LoadsFile == nil) != (b.LoadsFile == nil) || len(a.Components) != len(b.Components) {
		return false
	}
	if a.LoadsFile != nil && !sameFile(*a.LoadsFile, *b.LoadsFile) {
		return false
	}
	for i := range a.Components {
		if !sameFile(a.Components[i], b.Components[i]) {
			return false
		}
	}
	return true
}

func sameFile(a, b Component) bool {
	return strings.EqualFold(a.Name, b.Name) && a.SHA256 == b.SHA256 && a.Size == b.Size
}

// findAll finds the loads of every package; a load found twice must be
// the same bytes both times.
func findAll(groups []*group) ([]*newLoad, []string, error) {
	byID := map[string]*newLoad{}
	var notes []string
	for _, g := range groups {
		loads, n, err := findLoads(g)
		if err != nil {
			return nil, nil, err
		}
		notes = append(notes, n...)
		for _, nl := range loads {
			old, dup := byID[strings.ToLower(nl.ID)]
			if !dup {
				byID[strings.ToLower(nl.ID)] = nl
				continue
			}
			if !sameFiles(old.Load, nl.Load) {
				return nil, nil, fmt.Errorf("load %s is in %s and in %s with different contents", nl.ID, old.label, nl.label)
			}
			var err error
			if old.TermFiles, err = mergeFiles(old, nl, old.TermFiles, nl.TermFiles); err != nil {
				return nil, nil, err
			}
			if old.Extras, err = mergeFiles(old, nl, old.Extras, nl.Extras); err != nil {
				return nil, nil, err
			}
		}
	}
	out := make([]*newLoad, 0, len(byID))
	for _, nl := range byID {
		out = append(out, nl)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].ID) < strings.ToLower(out[j].ID) })
	return out, notes, nil
}

// mergeFiles adds to a's list the files of b's list it lacks.
func mergeFiles(a, b *newLoad, have, more []Component) ([]Component, error) {
	for _, f := range more {
		found := false
		for _, h := range have {
			if strings.EqualFold(h.Name, f.Name) {
				if h.SHA256 != f.SHA256 {
					return nil, fmt.Errorf("load %s: %s differs between %s and %s", a.ID, f.Name, a.label, b.label)
				}
				found = true
			}
		}
		if !found {
			have = append(have, f)
			a.files[f.Name] = b.files[f.Name]
		}
	}
	return have, nil
}

var termRE = regexp.MustCompile(`^term[0-9][0-9]\.default\.loads$`)

// findLoads finds the loads of one package.
func findLoads(g *group) ([]*newLoad, []string, error) {
	byName := map[string][]*staged{}
	var order []string
	for _, f := range g.files {
		k := strings.ToLower(f.name)
		dup := false
		for _, o := range byName[k] {
			dup = dup || o.sum == f.sum
		}
		if dup {
			continue
		}
		if len(byName[k]) == 0 {
			order = append(order, k)
		}
		byName[k] = append(byName[k], f)
	}
	sort.Strings(order)
	get := func(name string) (*staged, error) {
		list := byName[strings.ToLower(name)]
		switch len(list) {
		case 0:
			return nil, nil
		case 1:
			return list[0], nil
		}
		return nil, fmt.Errorf("%s: two different files named %s (%s and %s)", g.label, name, list[0].where, list[1].where)
	}
	used := map[*staged]bool{}
	var loads []*newLoad
	// Loads by their .loads file.
	for _, k := range order {
		if !strings.HasSuffix(k, ".loads") || termRE.MatchString(k) {
			continue
		}
		f, err := get(k)
		if err != nil {
			return nil, nil, err
		}
		label := g.label
		if g.loose {
			label = f.where
		}
		id := f.name[:len(f.name)-len(".loads")]
		if err := plainName(id); err != nil {
			return nil, nil, fmt.Errorf("%s: %s: not a load name", label, f.name)
		}
		parsed, err := ParseLoads(f.text)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %v", label, f.name, err)
		}
		used[f] = true
		nl := newLoadOf(g, label, id, f.where)
		nl.HardwareComp, nl.LAVersion = parsed.HardwareComp, parsed.LAVersion
		nl.LoadsFile = component(f.name, f)
		nl.files[f.name] = f
		seen := map[string]bool{strings.ToLower(f.name): true}
		for _, c := range parsed.Components {
			if seen[strings.ToLower(c)] {
				continue
			}
			seen[strings.ToLower(c)] = true
			if err := plainName(c); err != nil {
				return nil, nil, fmt.Errorf("%s: load %s: %s lists %v", label, id, f.name, err)
			}
			e, err := get(c)
			if err != nil {
				return nil, nil, err
			}
			if e == nil {
				return nil, nil, fmt.Errorf("%s: load %s: %s (listed in %s) is missing", label, id, c, f.name)
			}
			used[e] = true
			nl.Components = append(nl.Components, *component(c, e))
			nl.files[c] = e
		}
		loads = append(loads, nl)
	}
	var notes []string
	// termNN.default.loads repeat the component list of their load.
	for _, k := range order {
		if !termRE.MatchString(k) {
			continue
		}
		f, err := get(k)
		if err != nil {
			return nil, nil, err
		}
		used[f] = true
		parsed, err := ParseLoads(f.text)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %v", g.label, f.name, err)
		}
		var match *newLoad
		for _, nl := range loads {
			if sameList(parsed.Components, nl.Components) {
				match = nl
				break
			}
		}
		if match == nil {
			notes = append(notes, fmt.Sprintf("%s: %s lists the components of no load in the package; ignored", g.label, f.name))
			continue
		}
		match.TermFiles = append(match.TermFiles, *component(f.name, f))
		match.files[f.name] = f
	}
	// Files next to a component with another extension: the unsigned
	// P003….bin loader of a 7940/7960 package (§4.2).
	for _, k := range order {
		f := byName[k][0]
		if used[f] || len(byName[k]) > 1 || !phone.IsImageExt(path.Ext(k)) {
			continue
		}
		stem := strings.TrimSuffix(k, path.Ext(k))
		for _, nl := range loads {
			if hasStem(nl.Components, stem) {
				used[f] = true
				nl.Extras = append(nl.Extras, *component(f.name, f))
				nl.files[f.name] = f
				break
			}
		}
	}
	// Old 7940/7960 images without a .loads: P0S3-04-4-00.bin. The
	// images of later loads (a P0S3-8-12-00.sb2, a P003-8-12-00.sbn
	// loader) are no load without their .loads: a phone told to run one
	// would ask for the .loads and find none.
	classic := map[string]*newLoad{}
	for _, k := range order {
		f := byName[k][0]
		im, isImage := phone.ParseImage(f.name)
		if used[f] || !isImage || !im.OldImage() {
			continue
		}
		stem := im.Stem
		if _, err := get(k); err != nil {
			return nil, nil, err
		}
		if err := plainName(stem); err != nil {
			return nil, nil, fmt.Errorf("%s: %s: not a load name", g.label, f.name)
		}
		nl := classic[strings.ToLower(stem)]
		if nl == nil {
			nl = newLoadOf(g, g.label, stem, f.where)
			if g.loose {
				nl.label = f.where
			}
			classic[strings.ToLower(stem)] = nl
			loads = append(loads, nl)
		}
		used[f] = true
		nl.Components = append(nl.Components, *component(f.name, f))
		nl.files[f.name] = f
	}
	var ignored []string
	for _, k := range order {
		if f := byName[k][0]; !used[f] {
			ignored = append(ignored, f.name)
		}
	}
	if len(ignored) > 0 {
		more := ""
		if len(ignored) > 6 {
			ignored, more = ignored[:6], fmt.Sprintf(" and %d more", len(ignored)-6)
		}
		notes = append(notes, fmt.Sprintf("%s: ignored %s%s (part of no load)", g.label, strings.Join(ignored, ", "), more))
	}
	if len(loads) == 0 && (len(g.files) > 0 || !g.hasPackages) {
		return nil, nil, fmt.Errorf("%s: no firmware load found (no .loads file, no old P0… image)", g.label)
	}
	for _, nl := range loads {
		describe(&nl.Load)
	}
	return loads, notes, nil
}

func newLoadOf(g *group, label, id, where string) *newLoad {
	src := g.source
	if g.loose {
		src, _ = filepath.Abs(where)
	}
	return &newLoad{Load: Load{ID: id, HardwareComp: -1, Source: src}, files: map[string]*staged{}, label: label}
}

func component(name string, f *staged) *Component {
	return &Component{Name: name, Size: f.size, SHA256: f.sum}
}

// sameList compares a term file's list with a load's components.
func sameList(names []string, comps []Component) bool {
	var uniq []string
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			uniq = append(uniq, n)
		}
	}
	if len(uniq) != len(comps) {
		return false
	}
	for i := range uniq {
		if !strings.EqualFold(uniq[i], comps[i].Name) {
			return false
		}
	}
	return true
}

func hasStem(comps []Component, stem string) bool {
	for _, c := range comps {
		lower := strings.ToLower(c.Name)
		if strings.TrimSuffix(lower, path.Ext(lower)) == stem {
			return true
		}
	}
	return false
}

// describe sets Protocol and Models from the ID, else from the
// component names.
func describe(l *Load) {
	prefix := ""
	lid, ok := phone.ParseLoadID(l.ID)
	if ok {
		l.Protocol, prefix = lid.Protocol, lid.Prefix
	}
	// Java component names (jar41sip.9-4-2ES26.sbn) give the phone type
	// and protocol of loads whose ID does not parse.
	for _, c := range l.Components {
		im, isImage := phone.ParseImage(c.Name)
		if !isImage || im.Component == "" {
			continue
		}
		if prefix == "" && (!ok || lid.Family != phone.FamilyClassic) {
			prefix = im.Prefix
		}
		if l.Protocol == "" && im.Protocol != "" {
			l.Protocol = im.Protocol
		}
	}
	l.Models = nil
	for _, m := range phone.Models {
		switch {
		case ok && lid.Family == phone.FamilyClassic && m.Family == phone.FamilyClassic:
			l.Models = append(l.Models, m.Name)
		case prefix != "" && m.Family == phone.FamilyJava && m.LoadPrefix == prefix:
			l.Models = append(l.Models, m.Name)
		}
	}
}
