package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"phoneboot/internal/suggest"
)

// keysOf lists the keys each table takes, for "did you mean": the toml
// tags of the raw types, so that it knows every key the decoder does.
var keysOf = tableKeys(reflect.TypeFor[rawConfig](), "", map[string][]string{})

func tableKeys(t reflect.Type, table string, out map[string][]string) map[string][]string {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[table] = append(out[table], name)
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			sub := name
			if table != "" {
				sub = table + "." + name
			}
			tableKeys(ft, sub, out)
		}
	}
	return out
}

func unknownKey(k toml.Key) string {
	table, last := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
	msg := fmt.Sprintf("unknown key %q", k.String())
	best, bestDist := "", 3
	for _, cand := range keysOf[table] {
		if d := suggest.Distance(last, cand); d < bestDist {
			best, bestDist = cand, d
		}
	}
	if best != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", best)
	}
	if known, ok := keysOf[table]; ok {
		return msg + " (known here: " + strings.Join(known, ", ") + ")"
	}
	return msg
}

// positions maps table entries and keys to line numbers. The TOML library
// reports lines only for syntax errors, so the text is scanned once: every
// [table] or [[array]] header starts an entry, numbered per table name,
// and "key =" lines belong to the entry above them.
type positions struct {
	headers map[string][]int       // table name → header line of each entry
	keys    map[string]map[int]int // "table#index.key" → line
}

var (
	headerRE = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?`)
	keyRE    = regexp.MustCompile(`^\s*"?([A-Za-z0-9_.-]+)"?\s*=`)
)

func locate(data []byte) positions {
	p := positions{headers: map[string][]int{}, keys: map[string]map[int]int{}}
	table, index := "", 0
	for n, text := range strings.Split(string(data), "\n") {
		line := n + 1
		if m := headerRE.FindStringSubmatch(text); m != nil {
			table = m[1]
			p.headers[table] = append(p.headers[table], line)
			index = len(p.headers[table]) - 1
			continue
		}
		if m := keyRE.FindStringSubmatch(text); m != nil {
			k := table + "." + m[1]
			if p.keys[k] == nil {
				p.keys[k] = map[int]int{}
			}
			if _, dup := p.keys[k][index]; !dup {
				p.keys[k][index] = line
			}
		}
	}
	return p
}

// header is the line of entry i of table (0 if unknown).
func (p positions) header(table string, i int) int {
	if h := p.headers[table]; i < len(h) {
		return h[i]
	}
	return 0
}

// at is the line of key in entry i of table, else the entry's header.
func (p positions) at(table string, i int, key string) int {
	if l, ok := p.keys[table+"."+key][i]; ok {
		return l
	}
	return p.header(table, i)
}

// key is the line of an undecoded key (the first entry that has it).
func (p positions) key(k toml.Key) int {
	table, last := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
	best := 0
	for _, l := range p.keys[table+"."+last] {
		if best == 0 || l < best {
			best = l
		}
	}
	if best == 0 && len(k) == 1 {
		if h := p.headers[last]; len(h) > 0 {
			best = h[0]
		}
	}
	return best
}
