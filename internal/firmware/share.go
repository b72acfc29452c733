package firmware

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// What the nodes of a fleet need of a catalog to share its loads
// (internal/fwshare, docs/fleet.md): every file of a load, where another
// node fetches it, and an import of the files fetched.

// Files are all the files of l: the .loads file, the components, the
// extras and the term files. Another node that has them all has the load.
func (l Load) Files() []Component {
	return append(l.served(), l.TermFiles...)
}

// SharedPrefix is the path under which a node's phone HTTP server
// (internal/phonehttp) serves its catalog's loads to the other nodes:
// SharedPrefix + <load ID> + "/" + <file name>. No phone asks for it
// (phones ask for files by their names alone), and phonehttp answers it
// before provision: no file of the TFTP root can stand in for it.
const SharedPrefix = "/.fleet/firmware/"

// SharedPath is the path of file name of load id under SharedPrefix,
// escaped for a URL.
func SharedPath(id, name string) string {
	return SharedPrefix + url.PathEscape(id) + "/" + url.PathEscape(name)
}

// ParseSharedPath is the load ID and file name of an (unescaped) path
// under SharedPrefix; ok is false for any other path.
func ParseSharedPath(p string) (id, name string, ok bool) {
	rest, ok := strings.CutPrefix(p, SharedPrefix)
	if !ok {
		return "", "", false
	}
	id, name, ok = strings.Cut(rest, "/")
	if !ok || plainName(id) != nil || plainName(name) != nil {
		return "", "", false
	}
	return id, name, true
}

// OpenLoadFile opens file name (any case) of load id (any case): any of
// its Files, the term files too, exactly as imported. ok is false when
// the catalog has no such load or the load no such file.
func (c *Catalog) OpenLoadFile(id, name string) (File, bool, error) {
	l, ok := c.Load(id)
	if !ok {
		return nil, false, nil
	}
	for _, f := range l.Files() {
		if strings.EqualFold(f.Name, name) {
			return openIndexed(indexed{path: filepath.Join(c.dir, l.ID, f.Name), id: l.ID, sum: f.SHA256, size: f.Size})
		}
	}
	return nil, false, nil
}

// ImportFetched imports the load whose files node (another node of the
// fleet) sent, stored in dir under their names in that load: an import
// of the folder (all or nothing, with every check of Import), whose
// FetchedFrom is node and whose Source and messages say "node NAME"
// instead of the folder's path. The folder may hold plain files only: no
// archives (they would be packages of their own), no folders.
func (c *Catalog) ImportFetched(dir, node string) (ImportReport, error) {
	source := "node " + node
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ImportReport{}, fmt.Errorf("firmware catalog: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || archiveKind(e.Name()) != "" || plainName(e.Name()) != nil {
			return ImportReport{}, fmt.Errorf("%s: %s is not a plain file of a load", source, e.Name())
		}
	}
	return c.importPaths([]string{dir}, map[string]string{dir: source}, node)
}
