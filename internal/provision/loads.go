package provision

import (
	"path/filepath"
	"sort"
	"strings"

	"phoneboot/internal/files"
	"phoneboot/internal/firmware"
	"phoneboot/internal/phone"
)

// Firmware is the firmware catalog as provision uses it.
type Firmware interface {
	Loads() []firmware.Load
	Open(name string) (firmware.File, bool, error)
	Term(loadID, name string) (firmware.File, bool, error)
}

// loadInfo is a load phoneboot may name in a config: every file of it is
// in the catalog or in the TFTP root.
type loadInfo struct {
	id         string   // as the catalog or the root spells it
	components []string // what the phone fetches after the .loads file
	loader     string   // 7940/7960: the P003… loader OS79XX.TXT names
	catalog    bool     // from the catalog (else from the TFTP root)
}

// loadIndex is every load of the catalog and the TFTP root.
type loadIndex struct {
	complete map[string]loadInfo // by lower-case ID
	missing  map[string][]string // incomplete loads in the root: lower-case ID → missing files
}

// indexLoads finds the loads phones can be given. The catalog's loads
// are complete by construction; a .loads file dropped in the TFTP root
// counts when every component it lists is there too (cisco-79xx.md §9);
// an old 7940/7960 image without a .loads file counts by itself.
func indexLoads(fw Firmware, root map[string]string, rootDir string) loadIndex {
	ix := loadIndex{complete: map[string]loadInfo{}, missing: map[string][]string{}}
	if fw != nil {
		for _, l := range fw.Loads() {
			var comps []string
			for _, c := range l.Components {
				comps = append(comps, c.Name)
			}
			ix.add(loadInfo{id: l.ID, components: comps, catalog: true})
		}
	}
	for lower, name := range root {
		id, ok := strings.CutSuffix(lower, ".loads")
		if !ok || strings.HasPrefix(lower, "term") {
			continue
		}
		if _, dup := ix.complete[id]; dup {
			continue
		}
		data, err := files.ReadRegular(filepath.Join(rootDir, name)) // a FIFO must not hang the reload
		if err != nil {
			ix.missing[id] = []string{name + " (unreadable: " + files.Why(err) + ")"}
			continue
		}
		l, err := firmware.ParseLoads(data)
		if err != nil {
			ix.missing[id] = []string{name + " (" + err.Error() + ")"}
			continue
		}
		var missing []string
		for _, c := range l.Components {
			if _, ok := root[strings.ToLower(c)]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			ix.missing[id] = missing
			continue
		}
		ix.add(loadInfo{id: strings.TrimSuffix(name, filepath.Ext(name)), components: l.Components})
	}
	// Old 7940/7960 images have no .loads file: P0S3-04-4-00.bin.
	for _, name := range root {
		im, ok := phone.ParseImage(name)
		if !ok || !im.OldImage() {
			continue
		}
		if _, ok := ix.complete[strings.ToLower(im.Stem)]; ok {
			continue
		}
		ix.add(loadInfo{id: im.Stem, components: []string{name}})
	}
	return ix
}

func (ix loadIndex) add(l loadInfo) {
	// The loader of a 7940/7960 package (P003…, in SIP packages too) is
	// what OS79XX.TXT names (§3.3, §4.2).
	for _, c := range l.components {
		if im, ok := phone.ParseImage(c); ok && im.Loader() {
			l.loader = im.Stem
			break
		}
	}
	if l.loader == "" && isClassic(l.id) {
		l.loader = l.id
	}
	ix.complete[strings.ToLower(l.id)] = l
}

// get finds a complete load by ID in any case.
func (ix loadIndex) get(id string) (loadInfo, bool) {
	l, ok := ix.complete[strings.ToLower(id)]
	return l, ok
}

// ids lists the complete loads, sorted.
func (ix loadIndex) ids() []string {
	out := make([]string, 0, len(ix.complete))
	for _, l := range ix.complete {
		out = append(out, l.id)
	}
	sort.Strings(out)
	return out
}

// why says what keeps a load from being named.
func (ix loadIndex) why(id string) string {
	if m, ok := ix.missing[strings.ToLower(id)]; ok {
		return "missing " + strings.Join(m, ", ") + " in the TFTP root"
	}
	return "not in the firmware catalog (import it with: phoneboot firmware import PACKAGE)"
}

// isClassic: a 7940/7960 load ID (P003…, P0S3…, P0M3…).
func isClassic(id string) bool { return phone.LoadFamily(id) == phone.FamilyClassic }
