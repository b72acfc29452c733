package config

import (
	"fmt"
	"time"
)

// The raw types are phoneboot.toml as written: TOML decodes into them,
// then build checks them and makes the typed Config. Their toml tags are
// also the keys "did you mean" knows (keysOf). A pointer is nil when the
// key is not in the file.
type rawConfig struct {
	Site      rawSite      `toml:"site"`
	Phones    []rawPhone   `toml:"phone"`
	Provision rawProvision `toml:"provision"`
	DHCP      rawDHCP      `toml:"dhcp"`
	Track     rawTrack     `toml:"track"`
	Security  rawSecurity  `toml:"security"`
	Store     rawStore     `toml:"store"`
	Node      rawNode      `toml:"node"`
}

type rawSite struct {
	Protocol     string   `toml:"protocol"`
	CallManagers []string `toml:"call_managers"`
	SIPProxy     string   `toml:"sip_proxy"`
	TimeZone     string   `toml:"time_zone"`
	SIPTimeZone  string   `toml:"sip_time_zone"`
	NTPServers   []string `toml:"ntp_servers"`
	Locale       string   `toml:"locale"`
	// The locale blocks' details (render.LocaleInfo); "" or nil: default.
	NetworkLocale    string            `toml:"network_locale"`
	LocaleLangCode   string            `toml:"locale_lang_code"`
	LocaleVersion    string            `toml:"locale_version"`
	LocaleCharset    string            `toml:"locale_charset"`
	LocaleUID        *int              `toml:"locale_uid"`
	NetworkLocaleUID *int              `toml:"network_locale_uid"`
	Loads            map[string]string `toml:"loads"`
	DialPlan         []rawDialRule     `toml:"dial_plan"`
	Rings            []rawRing         `toml:"ring"`
	Sync             string            `toml:"sync"`
	TFTPViaDHCP      bool              `toml:"tftp_via_dhcp"`
	SIPTransport     string            `toml:"sip_transport"`
	MediaPorts       string            `toml:"media_ports"`
	// JavaSIPPasswordMax: nil when not in the file.
	JavaSIPPasswordMax *int `toml:"java_sip_password_max"`
}

type rawDialRule struct {
	Match   string `toml:"match"`
	Timeout int    `toml:"timeout"` // seconds
	Rewrite string `toml:"rewrite"`
}

type rawRing struct {
	Name string `toml:"name"`
	File string `toml:"file"`
}

type rawPhone struct {
	MAC          string    `toml:"mac"`
	Model        string    `toml:"model"`
	Protocol     string    `toml:"protocol"`
	Label        string    `toml:"label"`
	Load         string    `toml:"load"`
	RunningLoad  string    `toml:"running_load"`
	IP           string    `toml:"ip"`
	SIPTransport string    `toml:"sip_transport"`
	KEM          []string  `toml:"kem"`
	Lines        []rawLine `toml:"line"`
}

type rawLine struct {
	Extension string `toml:"extension"`
	Name      string `toml:"name"`
	AuthUser  string `toml:"auth_user"`
	Password  string `toml:"password"`
}

type rawProvision struct {
	CTLLoopRequests    *int      `toml:"ctl_loop_requests"`
	ConfigLoopRequests *int      `toml:"config_loop_requests"`
	LoopWindow         *duration `toml:"loop_window"`
}

type rawDHCP struct {
	Interface string         `toml:"interface"`
	Range     string         `toml:"range"`
	Subnet    string         `toml:"subnet"`
	Router    string         `toml:"router"`
	DNS       []string       `toml:"dns"`
	Domain    string         `toml:"domain"`
	NTP       []string       `toml:"ntp"`
	TFTP      []string       `toml:"tftp"`
	LeaseTime *duration      `toml:"lease_time"`
	Classes   []rawDHCPClass `toml:"class"`

	NewLeasesPerMinute *int `toml:"new_leases_per_minute"`
	NewLeaseBurst      *int `toml:"new_lease_burst"`
}

type rawDHCPClass struct {
	Model       string    `toml:"model"`
	VendorClass string    `toml:"vendor_class"`
	Router      string    `toml:"router"`
	DNS         []string  `toml:"dns"`
	TFTP        []string  `toml:"tftp"`
	LeaseTime   *duration `toml:"lease_time"`
}

type rawTrack struct {
	QuietAfter *duration `toml:"quiet_after"`
}

type rawStore struct {
	URL string `toml:"url"`
}

type rawNode struct {
	Name        string   `toml:"name"`
	Networks    []string `toml:"networks"`
	FirmwareURL string   `toml:"firmware_url"`
}

type rawSecurity struct {
	PhoneFiles     string    `toml:"phone_files"`
	FirstSight     *bool     `toml:"first_sight"`
	FirstSightHold *duration `toml:"first_sight_hold"`
}

// duration is a TOML string such as "90s" or "2m"; it must be positive.
type duration time.Duration

// UnmarshalText parses a Go duration.
func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: write it like \"90s\" or \"2m\"", b)
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", b)
	}
	*d = duration(v)
	return nil
}
