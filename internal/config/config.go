// Package config reads phoneboot.toml: the site's defaults and the phone
// inventory. Decoding is strict: an unknown key, a bad value, a model
// phoneboot does not know or a phone listed twice is an error that names
// the file and the line, so a typo never silently changes what phones get.
// Every problem in the file is reported, not just the first.
//
// A parsed Config is canonical and typed: models are phone.Model values
// (and the keys of Site.Loads canonical model names), addresses are
// netip types, hosts are Host values, durations time.Duration, and every
// default is filled in, by Default, also when there is no file at all.
// Nothing downstream parses a string of the config again.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"phoneboot/internal/phone"
)

// Config is a parsed phoneboot.toml, or the defaults when there is none.
type Config struct {
	Site      Site
	Phones    []Phone
	Provision Provision
	DHCP      DHCP
	Track     Track
	Security  Security
	Store     Store
	Node      Node

	File string // the file it was read from (or would have been)
	// NodeFile is the node's phoneboot.toml when File is the fleet's
	// fleet.toml (Node.Name set), else "".
	NodeFile string
	Exists   bool // whether File was read; false: Default
	pos      positions
	// loadLine is the line of each site.loads entry, by model name.
	loadLine map[string]int
}

// Site holds what every phone gets unless its own entry says otherwise.
type Site struct {
	// Protocol phones run when their entry does not say: SCCP or SIP
	// (default SCCP, what phones run from the factory).
	Protocol string
	// CallManagers are SCCP call-control hosts.
	CallManagers []Host
	// SIPProxy is the SIP registrar/proxy (Name "": none).
	SIPProxy Host
	// TimeZone is an IANA or Cisco time zone name of render's table
	// (checked; "" = none).
	TimeZone string
	// SIPTimeZone overrides the time_zone value the table gives the
	// 7940/7960 SIP configs (the values that firmware takes are
	// uncertain, cisco-79xx.md §3.2).
	SIPTimeZone string
	NTPServers  []string
	// Locale is the user locale directory name, e.g. English_United_States.
	Locale string
	// NetworkLocale is the network (tones) locale directory; "" = the
	// part of Locale after its first "_".
	NetworkLocale string
	// LocaleLangCode, LocaleVersion, LocaleCharset, LocaleUID and
	// NetworkLocaleUID are the <userLocale>/<networkLocaleInfo> details
	// (cisco-79xx.md §2.1; the sources show one locale only, so each is a
	// setting); ""/0 = render's default (chan-sccp's values).
	LocaleLangCode   string
	LocaleVersion    string
	LocaleCharset    string // "iso-8859-1" or "utf-8"
	LocaleUID        int
	NetworkLocaleUID int
	// Loads is the target load per model, keyed by the model's canonical
	// name (phone.Model.Name): "7961" for a key written 7961, 7961G or
	// CP-7961G.
	Loads map[string]Load
	// DialPlan is dialplan.xml; empty means one rule: any number, 5 s.
	DialPlan []DialRule
	// Rings is RINGLIST.DAT; empty means the .raw files in the TFTP root.
	Rings []Ring
	// Sync is the SYNC value of syncinfo.xml; change it to make SIP
	// 7940/7960 reboot on their next check-sync.
	Sync string
	// TFTPViaDHCP states that the site's DHCP server names phoneboot as
	// TFTP server (option 150 or 66). A 7940/7960 whose loader was
	// upgraded has lost its manual TFTP setting and finds phoneboot only
	// so ("Protocol Application Invalid", cisco-79xx.md §1.6).
	TFTPViaDHCP bool
	// SIPTransport is how Java phones (79x1 and later) on SIP reach the
	// proxy: "TCP" or "UDP" (default TCP: usecallmanager.nz advises it,
	// UDP "causes SIP retransmit errors"; cisco-79xx.md §1.6).
	SIPTransport string
	// MediaPorts is the RTP port range SIP phones use (SEP<MAC>.cnf.xml
	// startMediaPort/stopMediaPort, SIPDefault.cnf start_media_port/
	// end_media_port); default 16384-32766, as in [S4] and mkirbst's file.
	MediaPorts PortRange
	// JavaSIPPasswordMax is the longest SIP password a Java phone's SIP
	// firmware takes (reported 8, cisco-79xx.md §1.6 [S22]; usecallmanager
	// says 30: uncertain, hence a setting); 0: no limit.
	JavaSIPPasswordMax int
}

// PortRange is a range of UDP ports, both ends included.
type PortRange struct{ Start, Stop uint16 }

// String is the range as written: "16384-32766".
func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Start, r.Stop) }

// Load is a site.loads entry: the target load of one model.
type Load struct {
	Model phone.Model
	ID    string // the load ID as written, e.g. "P0S3-8-12-00"
}

// DialRule is one TEMPLATE of dialplan.xml.
type DialRule struct {
	Match   string
	Timeout time.Duration // whole seconds; 0 or more
	Rewrite string
}

// Ring is one custom ring of RINGLIST.DAT.
type Ring struct {
	Name string
	File string
}

// Phone is one inventory entry, keyed by MAC.
type Phone struct {
	MAC phone.MAC
	// Model is the phone's model; the zero value (Name "") when the entry
	// does not say (it is learned from the phone then).
	Model    phone.Model
	Protocol string // SCCP or SIP; "" for the site's
	Label    string
	Load     string // overrides site.loads for this phone
	// RunningLoad is what the phone runs now, for phones that do not say
	// (old 7940/7960 SIP loads); what phoneboot sees later wins.
	RunningLoad string
	// IP is the address phoneboot's DHCP server reserves for the phone
	// (the zero Addr: none).
	IP netip.Addr
	// SIPTransport overrides Site.SIPTransport for this phone ("" = the
	// site's).
	SIPTransport string
	// KEMs are the key expansion modules attached to the phone, in order
	// (the first is next to the phone); lines beyond the phone's own
	// buttons go to them.
	KEMs  []phone.Model
	Lines []Line
}

// Line is one line button.
type Line struct {
	Extension string
	Name      string
	AuthUser  string
	Password  string
}

// Provision holds the loop breakers' settings (cisco-79xx.md §1.6; the
// thresholds are guesses from the seed page, hence settings).
type Provision struct {
	// CTLLoopRequests is how many CTLSEP<MAC>.tlv requests in a row,
	// with nothing else asked in between, make a loop.
	CTLLoopRequests int
	// ConfigLoopRequests is the same for SEP<MAC>.cnf.xml.
	ConfigLoopRequests int
	// LoopWindow is how far apart those requests may be.
	LoopWindow time.Duration
}

// DHCP configures phoneboot's own DHCP server; it is off while Interface
// is empty (the serve flags --dhcp-iface/--dhcp-range override these).
// Zero values mean "not set": the DHCP server's own defaults apply.
type DHCP struct {
	Interface string
	Pool      Pool         // the range handed out
	Subnet    netip.Prefix // default: the interface's
	Router    netip.Addr
	DNS       []netip.Addr
	Domain    string
	NTP       []netip.Addr
	TFTP      []netip.Addr // option 150; default: phoneboot's address on the interface
	LeaseTime time.Duration
	// NewLeasesPerMinute and NewLeaseBurst bound how fast clients the
	// server knows nothing of take addresses (docs/security.md, "DHCP").
	NewLeasesPerMinute int
	NewLeaseBurst      int
	// Classes are option sets for some phones: by model or vendor class.
	Classes []DHCPClass
}

// DHCPClass overrides options for clients of one model or vendor class
// (exactly one of Model and VendorClass is set).
type DHCPClass struct {
	Model       phone.Model // zero value: matched by vendor class
	VendorClass string
	Router      netip.Addr
	DNS         []netip.Addr
	TFTP        []netip.Addr
	LeaseTime   time.Duration
}

// Track holds the timeline analysis' settings.
type Track struct {
	// QuietAfter is how long without an event makes a phone "quiet".
	QuietAfter time.Duration
}

// Store says which database phoneboot keeps its phones, events and
// leases in (docs/store.md). Read when a command starts: a change takes
// a restart.
type Store struct {
	// URL is a postgres:// URL; "": the SQLite file in the data
	// directory. A --db flag overrides it.
	URL string
}

// Security says who may have a phone's files and change what phoneboot
// knows of it (docs/security.md).
type Security struct {
	// PhoneFiles is who gets a phone's own files (SEP<MAC>.cnf.xml,
	// SIP<MAC>.cnf: they carry its SIP passwords): PhoneFilesOwn, only
	// the address that is the phone's, or PhoneFilesAnyone.
	PhoneFiles string
	// FirstSightHold is how long the first address that named a phone
	// (one not reserved in the inventory, nor leased by phoneboot's DHCP
	// server) stays its own after its last request; 0: no first-sight
	// binding, any address may speak for such a phone.
	FirstSightHold time.Duration
}

// Who gets a phone's own files.
const (
	PhoneFilesOwn    = "own-address"
	PhoneFilesAnyone = "anyone"
)

// Defaults: what a setting is when phoneboot.toml does not give it.
const (
	DefaultProtocol           = "SCCP" // what phones run from the factory
	DefaultCTLLoopRequests    = 4
	DefaultConfigLoopRequests = 4
	DefaultLoopWindow         = 2 * time.Minute
	DefaultQuietAfter         = 5 * time.Minute
	// DefaultFirstSightHold: longer than a boot with a firmware download,
	// shorter than a phone is usually away before it comes back at
	// another address.
	DefaultFirstSightHold = time.Hour
	// DefaultSIPTransport: usecallmanager.nz advises TCP for Java phones
	// on SIP (UDP "causes SIP retransmit errors"), and FreePBX users
	// needed it (cisco-79xx.md §1.6 [S4][S5]); working UDP configs exist
	// too (§2.3 [S22], mkirbst), so it is a setting.
	DefaultSIPTransport = "TCP"
	// DefaultJavaSIPPasswordMax: "79x1 SIP passwords max 8 chars"
	// (cisco-79xx.md §1.6 [S22]).
	DefaultJavaSIPPasswordMax = 8
)

// DefaultMediaPorts is the RTP range of usecallmanager.nz's and mkirbst's
// files (16384-32766, the phones' own default).
var DefaultMediaPorts = PortRange{Start: 16384, Stop: 32766}

// Default is the configuration without a config file: every phone gets
// the defaults for its model. file is the file that was not there.
func Default(file string) *Config {
	return &Config{
		File: file,
		Site: Site{
			Protocol: DefaultProtocol, Loads: map[string]Load{}, SIPTransport: DefaultSIPTransport,
			MediaPorts: DefaultMediaPorts, JavaSIPPasswordMax: DefaultJavaSIPPasswordMax,
		},
		Provision: Provision{
			CTLLoopRequests:    DefaultCTLLoopRequests,
			ConfigLoopRequests: DefaultConfigLoopRequests,
			LoopWindow:         DefaultLoopWindow,
		},
		Track:    Track{QuietAfter: DefaultQuietAfter},
		Security: Security{PhoneFiles: PhoneFilesOwn, FirstSightHold: DefaultFirstSightHold},
		loadLine: map[string]int{},
	}
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

// Errors is every problem found in one file, in line order. errors.As
// finds the first as an *Error.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// FileIn is the config file of data directory data: named when it is
// given (--config), else data/phoneboot.toml.
func FileIn(data, named string) string {
	if named != "" {
		return named
	}
	return filepath.Join(data, "phoneboot.toml")
}

// Read reads and checks the config file at path. A file that does not
// exist is Default(path) unless mustExist (a file named on the command
// line), when it is an error that errors.Is finds as fs.ErrNotExist.
func Read(path string, mustExist bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if mustExist {
			return nil, &missingError{path}
		}
		return Default(path), nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

var typeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

type missingError struct{ path string }

func (e *missingError) Error() string { return fmt.Sprintf("config file %s does not exist", e.path) }
func (e *missingError) Unwrap() error { return fs.ErrNotExist }

// Parse checks data, naming it file in errors. What data does not set
// keeps its value from Default. On error the Config is nil and the error
// is Errors.
func Parse(file string, data []byte) (*Config, error) {
	c, top, err := parse(file, data)
	if err != nil || c.Node.Name == "" {
		return c, err
	}
	return withFleet(c, top)
}

// parse is Parse of one file, without the fleet's file; top is the line
// of each top-level table the file has.
func parse(file string, data []byte) (*Config, map[string]int, error) {
	var raw rawConfig
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, Errors{{File: file, Line: pe.Position.Line, Msg: pe.Message}}
		}
		// A value of the wrong type: "toml: line 2 (last key "k"): …".
		if m := typeErrRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, nil, Errors{{File: file, Line: line, Msg: m[2] + ": " + m[3]}}
		}
		return nil, nil, Errors{{File: file, Msg: err.Error()}}
	}
	c := Default(file)
	c.Exists, c.pos = true, locate(data)
	var errs Errors
	for _, k := range md.Undecoded() {
		errs = append(errs, &Error{File: file, Line: c.pos.key(k), Msg: unknownKey(k)})
	}
	errs = append(errs, c.build(&raw)...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, nil, errs
	}
	top := map[string]int{}
	for _, k := range md.Keys() {
		if len(k) == 1 {
			top[k[0]] = c.pos.key(k)
		}
	}
	return c, top, nil
}

// SiteLoadLine is the line of site.loads' entry for model, named as
// phone.ModelByName knows it (0 if there is none).
func (c *Config) SiteLoadLine(model string) int {
	if m, ok := phone.ModelByName(model); ok {
		model = m.Name
	}
	return c.loadLine[model]
}

// Targeting lists the places that name load id as a target, with their
// file and line: "phoneboot.toml:12 (site.loads 7961)",
// "phoneboot.toml:30 (phone 00:13:7f:38:b3:de)".
func (c *Config) Targeting(id string) []string {
	var refs []string
	for _, m := range slices.Sorted(maps.Keys(c.Site.Loads)) {
		if strings.EqualFold(c.Site.Loads[m].ID, id) {
			refs = append(refs, fmt.Sprintf("%s:%d (site.loads %s)", c.File, c.SiteLoadLine(m), m))
		}
	}
	for i, p := range c.Phones {
		if strings.EqualFold(p.Load, id) {
			refs = append(refs, fmt.Sprintf("%s:%d (phone %s)", c.File, c.PhoneLine(i, "load"), p.MAC))
		}
	}
	return refs
}

// ParseLine reads a line as "EXT:PASSWORD[:NAME]" (phoneboot phones add
// --line).
func ParseLine(s string) (Line, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 || parts[0] == "" {
		return Line{}, fmt.Errorf("want EXT:PASSWORD[:NAME], e.g. 201:s3cret:Reception")
	}
	l := Line{Extension: parts[0], Password: parts[1]}
	if len(parts) == 3 {
		l.Name = parts[2]
	}
	return l, nil
}

// PhoneLine is the line of key in the i-th [[phone]], or of its header.
func (c *Config) PhoneLine(i int, key string) int { return c.pos.at("phone", i, key) }
