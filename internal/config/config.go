// Package config reads phoneboot.toml: the site's defaults and the phone
// inventory. Decoding is strict: an unknown key, a bad value, a model
// phoneboot does not know or a phone listed twice is an error that names
// the file and the line, so a typo never silently changes what phones get.
package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"phoneboot/internal/phone"
)

// Config is a parsed phoneboot.toml.
type Config struct {
	Site   Site    `toml:"site"`
	Phones []Phone `toml:"phone"`
}

// Site holds what every phone gets unless its own entry says otherwise.
type Site struct {
	// Protocol phones run when their entry does not say: SCCP or SIP.
	Protocol string `toml:"protocol"`
	// CallManagers are SCCP call-control hosts (host or host:port).
	CallManagers []string `toml:"call_managers"`
	// SIPProxy is the SIP registrar/proxy (host or host:port).
	SIPProxy   string   `toml:"sip_proxy"`
	TimeZone   string   `toml:"time_zone"`
	NTPServers []string `toml:"ntp_servers"`
	// Locale is the user locale directory name, e.g. English_United_States.
	Locale string `toml:"locale"`
	// Loads is the target load per model: "7960" = "P0S3-8-12-00".
	Loads map[string]string `toml:"loads"`
}

// Phone is one inventory entry, keyed by MAC.
type Phone struct {
	MAC      phone.MAC `toml:"mac"`
	Model    string    `toml:"model"`    // optional: learned from the phone otherwise
	Protocol string    `toml:"protocol"` // overrides site.protocol
	Label    string    `toml:"label"`
	Load     string    `toml:"load"` // overrides site.loads for this phone
	Lines    []Line    `toml:"line"`
}

// Line is one line button.
type Line struct {
	Extension string `toml:"extension"`
	Name      string `toml:"name"`
	AuthUser  string `toml:"auth_user"`
	Password  string `toml:"password"`
}

// Error is a problem at a place in a config file.
type Error struct {
	File string
	Line int // 0 when the place is the whole file
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and checks the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse checks data, naming it file in errors.
func Parse(file string, data []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: file, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	pos := locate(data)
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, &Error{File: file, Line: pos.key(k), Msg: unknownKey(k)}
	}
	if err := c.check(file, pos); err != nil {
		return nil, err
	}
	return &c, nil
}

// check validates values and normalises protocol spellings.
func (c *Config) check(file string, pos positions) error {
	fail := func(line int, format string, args ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	var err error
	if c.Site.Protocol, err = protocol(c.Site.Protocol); err != nil {
		return fail(pos.at("site", 0, "protocol"), "site.protocol: %v", err)
	}
	models := make([]string, 0, len(c.Site.Loads))
	for m := range c.Site.Loads {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		if _, ok := phone.ModelByName(m); !ok {
			return fail(pos.at("site.loads", 0, m), "site.loads: unknown model %q (known: %s)", m, knownModels())
		}
	}
	seen := map[phone.MAC]int{}
	for i := range c.Phones {
		p := &c.Phones[i]
		line := pos.header("phone", i)
		if p.MAC == (phone.MAC{}) {
			return fail(line, "phone entry without mac")
		}
		if first, dup := seen[p.MAC]; dup {
			return fail(pos.at("phone", i, "mac"), "phone %s is listed twice (first at line %d)", p.MAC, first)
		}
		seen[p.MAC] = pos.at("phone", i, "mac")
		if p.Protocol, err = protocol(p.Protocol); err != nil {
			return fail(pos.at("phone", i, "protocol"), "phone %s: %v", p.MAC, err)
		}
		if p.Model == "" {
			continue
		}
		m, ok := phone.ModelByName(p.Model)
		if !ok {
			return fail(pos.at("phone", i, "model"), "phone %s: unknown model %q (known: %s)", p.MAC, p.Model, knownModels())
		}
		p.Model = m.Name
		if m.LineKeys > 0 && len(p.Lines) > m.LineKeys {
			return fail(line, "phone %s: a %s has %d line buttons, %d lines are configured", p.MAC, m.Name, m.LineKeys, len(p.Lines))
		}
		proto := p.Protocol
		if proto == "" {
			proto = c.Site.Protocol
		}
		if proto != "" && !contains(m.Protocols, proto) {
			return fail(pos.at("phone", i, "protocol"), "phone %s: a %s cannot run %s (it runs %s)", p.MAC, m.Name, proto, strings.Join(m.Protocols, ", "))
		}
	}
	return nil
}

func protocol(s string) (string, error) {
	switch u := strings.ToUpper(strings.TrimSpace(s)); u {
	case "", "SCCP", "SIP":
		return u, nil
	}
	return "", fmt.Errorf("protocol %q: use SCCP or SIP", s)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func knownModels() string {
	names := make([]string, len(phone.Models))
	for i, m := range phone.Models {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// keysOf lists the keys each table takes, for "did you mean".
var keysOf = map[string][]string{
	"":           {"site", "phone"},
	"site":       {"protocol", "call_managers", "sip_proxy", "time_zone", "ntp_servers", "locale", "loads"},
	"phone":      {"mac", "model", "protocol", "label", "load", "line"},
	"phone.line": {"extension", "name", "auth_user", "password"},
}

func unknownKey(k toml.Key) string {
	table, last := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
	msg := fmt.Sprintf("unknown key %q", k.String())
	best, bestDist := "", 3
	for _, cand := range keysOf[table] {
		if d := distance(last, cand); d < bestDist {
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

// distance is the Levenshtein distance of two short keys.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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
