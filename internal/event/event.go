// Package event is the one vocabulary of what happens to phones. Every
// source — the TFTP and HTTP file services, the DHCP server, syslog,
// provision's decisions — reports an Event with its facts in typed fields;
// the store keeps events, and track reads them to say what a phone is
// doing. Detail is a sentence for people: no code reads it, so rewording a
// message never changes a phone's state.
package event

import (
	"net/netip"
	"time"

	"phoneboot/internal/phone"
)

// Source is where an event comes from.
type Source string

// Sources.
const (
	TFTP      Source = "tftp"      // a file request over TFTP
	HTTP      Source = "http"      // a file request over HTTP (port 6970)
	DHCP      Source = "dhcp"      // a DHCP message of phoneboot's own server
	Syslog    Source = "syslog"    // a line the phone logged
	Provision Source = "provision" // a decision provision took about the phone
	CDP       Source = "cdp"       // a CDP frame the phone sent (internal/discovery)
	LLDP      Source = "lldp"      // an LLDP frame the phone sent (internal/discovery)
	ARP       Source = "arp"       // the phone's ARP: heard live (serve --answer-stale) or in a capture (phoneboot analyze)
)

// Kind is what happened.
type Kind string

// Kinds of file-service events (Source TFTP or HTTP).
const (
	// Request is one file request and how it ended (Outcome, Bytes).
	Request Kind = "request"
)

// Kinds of provision's decisions.
const (
	// AutoProvisioned: a phone outside the inventory got the site defaults.
	AutoProvisioned Kind = "auto-provisioned"
	// LoopBreaker: a CTL/ITL loop made provision change what it serves
	// (Facts.Remedy, Facts.Count).
	LoopBreaker Kind = "loop-breaker"
	// ConfigLoop: a phone keeps asking for its SEP<MAC>.cnf.xml (Facts.Count).
	ConfigLoop Kind = "config-loop"
	// Load: the phone runs a new load (Facts.Running).
	Load Kind = "load"
	// Upgrade: the phone was given the next step of its path (Facts.Next,
	// From, Target, Path; Missing when a later step is not in the catalog).
	Upgrade Kind = "upgrade"
	// UpgradeBlocked: the phone gets no new load: the path needs one the
	// catalog lacks (Facts.Missing) or the target is refused (Facts.Rule).
	UpgradeBlocked Kind = "upgrade-blocked"
	// Foreign: a request named the phone from an address that is not the
	// phone's (the event's IP; Facts.Bound is the phone's, Binding how it
	// became so), or (Facts.Other set) the phone's own address asked for
	// phone Other's file. Nothing of either phone changed.
	Foreign Kind = "foreign"
)

// Kinds of DHCP events: the message received or sent.
const (
	DHCPDiscover Kind = "discover"
	DHCPOffer    Kind = "offer"
	DHCPRequest  Kind = "request"
	DHCPAck      Kind = "ack"
	DHCPNak      Kind = "nak"
	DHCPInform   Kind = "inform"
	DHCPRelease  Kind = "release"
	DHCPDecline  Kind = "decline"
)

// SyslogLine is a line a phone logged (Detail is the line).
const SyslogLine Kind = "syslog"

// Neighbor (Source CDP or LLDP): what the phone says of itself changed
// (first heard, or a new model, load or address): Facts.Model, Running;
// the event's IP is the address it announced. One per change, not one
// per frame.
const Neighbor Kind = "neighbor"

// ARPUnanswered: the phone asked ARP who has Facts.Server, Facts.Count
// times, and nothing at that address answered or sent anything (Source
// ARP; the event's time is the last request). Live (serve
// --answer-stale, --notice-stale), phoneboot's RFC 5227 probes for the
// address went unanswered too.
const ARPUnanswered Kind = "arp-unanswered"

// StaleServer (Source ARP) is what serve --answer-stale did about an
// address the phone ARPs for and nobody has (Facts.Server the address,
// Facts.Step what happened).
const StaleServer Kind = "stale-server"

// StaleStep is what happened to a phone's stale server address.
type StaleStep string

// Steps of StaleServer, in the order they happen.
const (
	StaleInUse    StaleStep = "in-use"   // another host answers for it: left alone
	StaleFull     StaleStep = "full"     // not taken: phoneboot holds as many as it may
	StaleFailed   StaleStep = "failed"   // not taken: adding it failed (Detail says why)
	StaleAdded    StaleStep = "added"    // phoneboot took it and answers the phone's TFTP there
	StaleReleased StaleStep = "released" // phoneboot gave it up (the phone stopped asking, shutdown)
)

// Outcome is how a file request ended.
type Outcome string

// Outcomes of file requests.
const (
	OK         Outcome = "ok"
	NotFound   Outcome = "not-found"   // the phone was told "file not found"
	Denied     Outcome = "denied"      // the name was refused
	Refused    Outcome = "refused"     // server busy or rate-limited
	BadRequest Outcome = "bad-request" // malformed request
	Timeout    Outcome = "timeout"     // the phone stopped answering
	Aborted    Outcome = "aborted"     // the phone gave up (sent an error)
	Probe      Outcome = "probe"       // the phone asked only for the size
	Partial    Outcome = "partial"     // the phone asked for a part (an HTTP Range) and got it
	Failed     Outcome = "failed"      // a local error
	Shutdown   Outcome = "shutdown"    // cut by phoneboot's shutdown
)

// CutOff reports whether a transfer started and stopped before its end.
func (o Outcome) CutOff() bool { return o == Timeout || o == Aborted || o == Failed }

// Event is one thing that happened to or about a phone.
type Event struct {
	ID       int64         `json:"id,omitempty"` // set by the store
	Time     time.Time     `json:"time"`
	MAC      phone.MAC     `json:"mac,omitzero"` // zero: not attributed to a phone
	IP       netip.Addr    `json:"ip,omitzero"`  // the address the event came from or concerns
	Source   Source        `json:"source"`
	Kind     Kind          `json:"kind"`
	File     string        `json:"file,omitempty"` // the file asked for or decided about, as the phone spelled it
	Outcome  Outcome       `json:"outcome,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Detail   string        `json:"detail,omitempty"` // for people only
	Facts    Facts         `json:"facts,omitzero"`
	// Node is the phoneboot node that saw the event ("" on a node
	// without a name: one site, docs/fleet.md).
	Node string `json:"node,omitempty"`
}

// Facts are what an event establishes, in typed fields; each Kind's
// comment says which it sets.
type Facts struct {
	// Running is a load the event shows the phone runs now.
	Running string `json:"running,omitempty"`
	// From is the load an upgrade plan starts from ("" unknown); Assumed
	// marks a load phoneboot inferred rather than saw (the oldest load
	// with the Universal Application Loader, for a phone that booted like
	// one).
	From    string `json:"from,omitempty"`
	Assumed bool   `json:"assumed,omitempty"`
	// Next is the load named in the phone's config now.
	Next string `json:"next,omitempty"`
	// Target is the load the phone is to end on.
	Target string `json:"target,omitempty"`
	// Path is every load still to go through, Next first, Target last.
	Path []string `json:"path,omitempty"`
	// Missing is the load (or class of loads, "SIP 7.x") the catalog lacks.
	Missing string `json:"missing,omitempty"`
	// Rule names the upgrade rule that shaped or refused the plan.
	Rule string `json:"rule,omitempty"`
	// Remedy is what a loop breaker serves from now on.
	Remedy Remedy `json:"remedy,omitempty"`
	// Count is how many requests in a row a loop took.
	Count int `json:"count,omitempty"`
	// Model is the model the event shows the phone is (a DHCP vendor
	// class), as the phone catalog names it.
	Model string `json:"model,omitempty"`
	// Retransmits is how many packets the server sent again.
	Retransmits int `json:"retransmits,omitempty"`
	// Bound is the address that is the phone's, Binding how it became so
	// ("inventory ip", "DHCP lease", "first sight"); Other is the phone
	// whose file the phone's address asked for (event.Foreign).
	Bound   netip.Addr `json:"bound,omitzero"`
	Binding string     `json:"binding,omitempty"`
	Other   phone.MAC  `json:"other,omitzero"`
	// Server is the server a request went to, as a packet capture shows
	// it (phoneboot analyze; the live server leaves it unset: it is the
	// server), or the address an ARPUnanswered or StaleServer is about.
	Server netip.Addr `json:"server,omitzero"`
	// Step is what serve --answer-stale did (event.StaleServer).
	Step StaleStep `json:"step,omitempty"`
}

// IsZero reports whether no fact is set.
func (f Facts) IsZero() bool {
	return f.Running == "" && f.From == "" && !f.Assumed && f.Next == "" && f.Target == "" && len(f.Path) == 0 &&
		f.Missing == "" && f.Rule == "" && f.Remedy == "" && f.Count == 0 && f.Model == "" && f.Retransmits == 0 &&
		!f.Bound.IsValid() && f.Binding == "" && f.Other == (phone.MAC{}) && !f.Server.IsValid() && f.Step == ""
}

// Remedy is what provision serves a phone looping on its trust list.
type Remedy string

// Remedies of the CTL/ITL loop breaker (the seed page's stories).
const (
	RemedyEmpty    Remedy = "empty"     // an empty file ("creating this file moved things along")
	RemedyNotFound Remedy = "not-found" // "file not found" again ("removing this file AFTER …")
)

// Is reports whether ev is of source s and one of kinds.
func (ev Event) Is(s Source, kinds ...Kind) bool {
	if ev.Source != s {
		return false
	}
	for _, k := range kinds {
		if ev.Kind == k {
			return true
		}
	}
	return len(kinds) == 0
}

// IsRequest reports whether ev is a file request over any transport.
func (ev Event) IsRequest() bool {
	return (ev.Source == TFTP || ev.Source == HTTP) && ev.Kind == Request
}
