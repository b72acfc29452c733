package render

// The tests in this file check the rendered files against facts from
// outside phoneboot: configs real phones accepted, the observed boot of a
// 7960 and the reference's tables ("ref §N" is cisco-79xx.md, with its
// source tags [Sn]; real-configs.md lists the public configs named here;
// "the seed page" is seed 000, the <Default> document that got a 7960 past
// "Protocol Application Invalid"). The golden files only say that the
// output did not change; these say that it still has what phones need,
// whoever regenerates the golden files. Every expectation names its
// source. What the sources leave uncertain is said so and not tested.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the same zone database wherever the tests run
	"unicode/utf8"

	"phoneboot/internal/phone"
)

// elem is an XML element with what the checks need.
type elem struct {
	name  string
	path  string // from the root: "device/devicePool/srstInfo"
	attrs map[string]string
	text  string // character data directly inside, trimmed
	kids  []*elem
}

// parseTree reads one XML document into elements.
func parseTree(t *testing.T, b []byte) *elem {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root *elem
	var stack []*elem
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &elem{name: tok.Name.Local, path: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if n := len(stack); n > 0 {
				e.path = stack[n-1].path + "/" + e.name
				stack[n-1].kids = append(stack[n-1].kids, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			top := stack[len(stack)-1]
			top.text = strings.TrimSpace(top.text)
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if n := len(stack); n > 0 {
				stack[n-1].text += string(tok)
			}
		}
	}
	if root == nil {
		t.Fatalf("no root element in\n%s", b)
	}
	return root
}

// find returns the elements at path below e ("devicePool/srstInfo").
func (e *elem) find(path string) []*elem {
	cur := []*elem{e}
	for _, step := range strings.Split(path, "/") {
		var next []*elem
		for _, c := range cur {
			for _, k := range c.kids {
				if k.name == step {
					next = append(next, k)
				}
			}
		}
		cur = next
	}
	return cur
}

// must returns the elements at path, failing when there is none.
func (e *elem) must(t *testing.T, path string) []*elem {
	t.Helper()
	got := e.find(path)
	if len(got) == 0 {
		t.Errorf("no <%s/%s>", e.name, path)
	}
	return got
}

// textOf is the text of the one element at path, "" with an error when it
// is missing or repeated.
func (e *elem) textOf(t *testing.T, path string) string {
	t.Helper()
	got := e.find(path)
	if len(got) != 1 {
		t.Errorf("%d <%s/%s>, want 1", len(got), e.name, path)
		return ""
	}
	return got[0].text
}

// walk calls f for e and every element below it.
func (e *elem) walk(f func(*elem)) {
	f(e)
	for _, k := range e.kids {
		k.walk(f)
	}
}

// devicePaths are the element paths of SEP<MAC>.cnf.xml that the sources
// show: the schema reference (ref §2.1 [S4]), the minimal files of §2.3
// (chan-sccp SCCP template [S2], whizzy.org SIP file [S22], the UAL stub
// [S9]) and mkirbst/cisco7960fritzbox configs_cisco7961/SEP….cnf.xml, a
// 7961 on SIP that registered (real-configs.md). Every element phoneboot
// writes must be one of them, where the sources put it: a misspelt or
// misplaced element is not read by the phone.
var devicePaths = pathSet("device",
	"fullConfig", "deviceProtocol", "sshUserId", "sshPassword", "ipAddressMode",
	"devicePool",
	"devicePool/dateTimeSetting",
	"devicePool/dateTimeSetting/dateTemplate",
	"devicePool/dateTimeSetting/timeZone",
	"devicePool/dateTimeSetting/ntps",
	"devicePool/dateTimeSetting/ntps/ntp",
	"devicePool/dateTimeSetting/ntps/ntp/name",
	"devicePool/dateTimeSetting/ntps/ntp/ntpMode",
	"devicePool/callManagerGroup",
	"devicePool/callManagerGroup/members",
	"devicePool/callManagerGroup/members/member",
	"devicePool/callManagerGroup/members/member/callManager",
	"devicePool/callManagerGroup/members/member/callManager/ports",
	"devicePool/callManagerGroup/members/member/callManager/ports/ethernetPhonePort",
	"devicePool/callManagerGroup/members/member/callManager/ports/sipPort",
	"devicePool/callManagerGroup/members/member/callManager/ports/securedSipPort",
	"devicePool/callManagerGroup/members/member/callManager/processNodeName",
	"devicePool/srstInfo",
	"devicePool/srstInfo/srstOption",
	"devicePool/connectionMonitorDuration",
	"sipProfile",
	"sipProfile/sipProxies",
	"sipProfile/sipProxies/registerWithProxy",
	// The children of sipProxies, sipCallFeatures and sipStack are those
	// of mkirbst's configs_cisco7961/SEP….cnf.xml (a 7961 that
	// registered), which [S4] and buba0's 79x1 file also have.
	"sipProfile/sipProxies/backupProxy",
	"sipProfile/sipProxies/backupProxyPort",
	"sipProfile/sipProxies/emergencyProxy",
	"sipProfile/sipProxies/emergencyProxyPort",
	"sipProfile/sipProxies/outboundProxy",
	"sipProfile/sipProxies/outboundProxyPort",
	"sipProfile/sipCallFeatures",
	"sipProfile/sipCallFeatures/cnfJoinEnabled",
	"sipProfile/sipCallFeatures/callForwardURI",
	"sipProfile/sipCallFeatures/callPickupURI",
	"sipProfile/sipCallFeatures/callPickupListURI",
	"sipProfile/sipCallFeatures/callPickupGroupURI",
	"sipProfile/sipCallFeatures/meetMeServiceURI",
	"sipProfile/sipCallFeatures/abbreviatedDialURI",
	"sipProfile/sipCallFeatures/rfc2543Hold",
	"sipProfile/sipCallFeatures/callHoldRingback",
	"sipProfile/sipCallFeatures/localCfwdEnable",
	"sipProfile/sipCallFeatures/semiAttendedTransfer",
	"sipProfile/sipCallFeatures/anonymousCallBlock",
	"sipProfile/sipCallFeatures/callerIdBlocking",
	"sipProfile/sipCallFeatures/dndControl",
	"sipProfile/sipCallFeatures/remoteCcEnable",
	"sipProfile/sipStack",
	"sipProfile/sipStack/sipInviteRetx",
	"sipProfile/sipStack/sipRetx",
	"sipProfile/sipStack/timerInviteExpires",
	"sipProfile/sipStack/timerRegisterExpires",
	"sipProfile/sipStack/timerRegisterDelta",
	"sipProfile/sipStack/timerKeepAliveExpires",
	"sipProfile/sipStack/timerSubscribeExpires",
	"sipProfile/sipStack/timerSubscribeDelta",
	"sipProfile/sipStack/timerT1",
	"sipProfile/sipStack/timerT2",
	"sipProfile/sipStack/maxRedirects",
	"sipProfile/sipStack/remotePartyID",
	"sipProfile/sipStack/userInfo",
	"sipProfile/natAddress",
	"sipProfile/preferredCodec",
	"sipProfile/dtmfOutofBand",
	"sipProfile/natEnabled",
	"sipProfile/phoneLabel",
	"sipProfile/startMediaPort",
	"sipProfile/stopMediaPort",
	"sipProfile/voipControlPort",
	"sipProfile/dialTemplate",
	"sipProfile/sipLines",
	"sipProfile/sipLines/line",
	"sipProfile/sipLines/line/featureID",
	"sipProfile/sipLines/line/featureLabel",
	"sipProfile/sipLines/line/proxy",
	"sipProfile/sipLines/line/port",
	"sipProfile/sipLines/line/name",
	"sipProfile/sipLines/line/displayName",
	"sipProfile/sipLines/line/authName",
	"sipProfile/sipLines/line/authPassword",
	"sipProfile/sipLines/line/messagesNumber",
	"sipProfile/sipLines/line/contact",
	"commonProfile",
	"commonProfile/phonePassword",
	"commonProfile/backgroundImageAccess",
	"commonProfile/callLogBlfEnabled",
	"loadInformation",
	"vendorConfig",
	"vendorConfig/disableSpeaker",
	"vendorConfig/pcPort",
	"vendorConfig/settingsAccess",
	"vendorConfig/garp",
	"vendorConfig/voiceVlanAccess",
	"vendorConfig/webAccess",
	"vendorConfig/sshAccess",
	"vendorConfig/spanToPCPort",
	"vendorConfig/loggingDisplay",
	"vendorConfig/logServer",
	"vendorConfig/loadServer",
	"addOnModules",
	"addOnModules/addOnModule",
	"addOnModules/addOnModule/deviceType",
	"addOnModules/addOnModule/deviceLine",
	"addOnModules/addOnModule/loadInformation",
	"userLocale",
	"userLocale/name",
	"userLocale/uid",
	"userLocale/langCode",
	"userLocale/version",
	"userLocale/winCharSet",
	"networkLocale",
	"networkLocaleInfo",
	"networkLocaleInfo/name",
	"networkLocaleInfo/uid",
	"networkLocaleInfo/version",
	"deviceSecurityMode",
	"transportLayerProtocol",
	"versionStamp",
	"authenticationURL", "directoryURL", "idleURL", "idleTimeout", "informationURL",
	"messagesURL", "proxyServerURL", "servicesURL",
)

// defaultPaths are those of XMLDefault.cnf.xml (root <Default>): the
// seed page's <Default> document, chan-sccp's
// XMLDefault.cnf.xml (ref §2.2 [S2]) and mkirbst's configs_cisco7961/
// XMLDefault.cnf.xml. loadInformationNNN is checked on its own. sipPort in
// a <Default> member is in no source; §2.1 shows it in the same member
// structure of <device> (inference: the phone reads both alike).
var defaultPaths = pathSet("Default",
	"callManagerGroup",
	"callManagerGroup/members",
	"callManagerGroup/members/member",
	"callManagerGroup/members/member/callManager",
	"callManagerGroup/members/member/callManager/ports",
	"callManagerGroup/members/member/callManager/ports/ethernetPhonePort",
	"callManagerGroup/members/member/callManager/ports/sipPort",
	"callManagerGroup/members/member/callManager/ports/mgcpPorts",
	"callManagerGroup/members/member/callManager/processNodeName",
	"authenticationURL", "directoryURL", "idleURL", "informationURL", "messagesURL", "servicesURL",
)

func pathSet(root string, paths ...string) map[string]bool {
	set := map[string]bool{root: true}
	for _, p := range paths {
		set[root+"/"+p] = true
	}
	return set
}

// checkPaths fails for every element of doc outside known.
func checkPaths(t *testing.T, doc *elem, known map[string]bool) {
	t.Helper()
	doc.walk(func(e *elem) {
		if !known[e.path] {
			t.Errorf("<%s> is in no config real phones accepted nor in the schema reference (ref §2.1-§2.3)", e.path)
		}
	})
}

// checkMembers checks a <callManagerGroup>: members under members, at most
// 5, priorities 0 to 4 without repeats, the first 0 (ref §2.1 [S4][S2]);
// every callManager has ports and a processNodeName of at most 50
// characters (§2.1) — the seed's document and [S23] ("it really does need
// a <callManagerGroup><members><member><callManager> with
// <ports><ethernetPhonePort> and <processNodeName>"). portName is the port
// element each member must carry (ethernetPhonePort for SCCP and
// XMLDefault, sipPort for SIP, §2.1).
func checkMembers(t *testing.T, group *elem, portName string) []*elem {
	t.Helper()
	members := group.must(t, "members/member")
	if len(members) > 5 {
		t.Errorf("%d members; the phones take up to 5 (ref §2.1)", len(members))
	}
	seen := map[int]bool{}
	for i, m := range members {
		p, err := strconv.Atoi(m.attrs["priority"])
		if err != nil || p < 0 || p > 4 || seen[p] {
			t.Errorf("member %d: priority %q, want a distinct 0..4 (ref §2.1)", i, m.attrs["priority"])
		}
		seen[p] = true
		if i == 0 && p != 0 {
			t.Errorf("first member has priority %d; the seed page's and every source's first member is 0", p)
		}
		port := m.textOf(t, "callManager/ports/"+portName)
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			t.Errorf("member %d: <%s>%s</%s> is no port", i, portName, port, portName)
		}
		node := m.textOf(t, "callManager/processNodeName")
		if node == "" || utf8.RuneCountInString(node) > 50 {
			t.Errorf("member %d: processNodeName %q: want 1 to 50 characters (ref §2.1)", i, node)
		}
	}
	return members
}

// A 7960 on SIP 8.x reads SEP<MAC>.cnf.xml only as the UAL stub that names
// its protocol and load (ref §1.2.1, observed [S9]; §2.3 [S9][S6]); the
// same shape is in mkirbst's configs_cisco7960 (7960) and in FreePBX's
// Provisioner endpoint/cisco/sip79xx/SEP$mac.cnf.xml (7940).
func TestSourcesUALStub(t *testing.T) {
	tp := load(t, "")
	for _, name := range []string{"7960", "7940"} {
		t.Run(name, func(t *testing.T) {
			p := Phone{MAC: testMAC, Model: model(t, name), Protocol: "SIP", Load: "P0S3-8-12-00", Lines: testLines()[:1]}
			b, err := tp.DeviceConfig(testSite(), p)
			if err != nil {
				t.Fatal(err)
			}
			doc := parseTree(t, b)
			if doc.name != "device" {
				t.Fatalf("root <%s>, want <device>", doc.name)
			}
			checkPaths(t, doc, devicePaths)
			// deviceProtocol SIP: [S9] and Provisioner have it (mkirbst's
			// stub does without; when present it must say SIP).
			if got := doc.textOf(t, "deviceProtocol"); got != "SIP" {
				t.Errorf("deviceProtocol %q, want SIP", got)
			}
			// loadInformation: model="IP Phone 7960" [S9], "IP Phone 7940"
			// (Provisioner); the load ID without ".loads" (ref §1.3 [S4]):
			// the phone asked for P0S3-8-12-00.loads next (§1.2.1).
			li := doc.must(t, "loadInformation")
			if len(li) == 1 {
				if got, want := li[0].attrs["model"], "IP Phone "+name; got != want {
					t.Errorf("loadInformation model=%q, want %q", got, want)
				}
				if li[0].text != "P0S3-8-12-00" {
					t.Errorf("loadInformation %q, want the load ID P0S3-8-12-00", li[0].text)
				}
			}
			// All SIP settings are in the text files (§2.3 [S9][S6]).
			for _, path := range []string{"devicePool", "sipProfile"} {
				if len(doc.find(path)) > 0 {
					t.Errorf("the stub has <%s>", path)
				}
			}
		})
	}
}

// SCCP phones, 7940/7960 and Java, take a full <device> (ref §2.1, §2.3).
func TestSourcesSCCPDevice(t *testing.T) {
	tp := load(t, "")
	for _, c := range []struct{ model, load string }{
		{"7940", "P0030801SR02"}, {"7960", "P00308010200"}, {"7961", "SCCP41.9-4-2SR3-1S"}, {"7911", "SCCP11.9-4-2SR3-1S"},
	} {
		t.Run(c.model, func(t *testing.T) {
			p := Phone{MAC: testMAC, Model: model(t, c.model), Protocol: "SCCP", Load: c.load, Lines: testLines()[:1]}
			b, err := tp.DeviceConfig(testSite(), p)
			if err != nil {
				t.Fatal(err)
			}
			doc := parseTree(t, b)
			if doc.name != "device" {
				t.Fatalf("root <%s>, want <device>", doc.name)
			}
			checkPaths(t, doc, devicePaths)
			checkSCCPDevice(t, doc, c.load)
		})
	}
}

// checkSCCPDevice checks what chan-sccp's 7940/7960 template (the minimal
// SCCP file of ref §2.3 [S2]) has, with the values of testSite.
func checkSCCPDevice(t *testing.T, doc *elem, load string) {
	t.Helper()
	// deviceProtocol selects the protocol on UAL and Java phones (§2.1).
	if got := doc.textOf(t, "deviceProtocol"); got != "SCCP" {
		t.Errorf("deviceProtocol %q, want SCCP", got)
	}
	// dateTemplate: the forms the sources show working are D/M/Y, M/D/YA
	// (§2.1 [S4]) and D-M-YA (§2.3 [S2]); mkirbst's 7961 uses D.M.YY.
	if got := doc.textOf(t, "devicePool/dateTimeSetting/dateTemplate"); !slices.Contains([]string{"D/M/Y", "M/D/YA", "D-M-YA", "D.M.YY"}, got) {
		t.Errorf("dateTemplate %q is in no source", got)
	}
	// Europe/Vienna is "W. Europe Standard Time" in the Windows zone table
	// (CLDR windowsZones.xml); CallManager writes it
	// "W. Europe Standard/Daylight Time" (§2.1 [S4], §2.3 [S2]).
	if got := doc.textOf(t, "devicePool/dateTimeSetting/timeZone"); got != "W. Europe Standard/Daylight Time" {
		t.Errorf("timeZone %q for Europe/Vienna", got)
	}
	// ntps/ntp: name and ntpMode Unicast (§2.1 [S4][S1][S2]).
	ntps := doc.must(t, "devicePool/dateTimeSetting/ntps/ntp")
	for i, n := range ntps {
		if mode, name := n.textOf(t, "ntpMode"), n.textOf(t, "name"); mode != "Unicast" || name == "" {
			t.Errorf("ntp %d: name %q, ntpMode %q: want a name and Unicast", i, name, mode)
		}
	}
	if len(ntps) != 2 {
		t.Errorf("%d ntp servers, testSite has 2", len(ntps))
	}
	// SCCP members listen on ethernetPhonePort, 2000 when not said (§2.1,
	// §2.3 [S2]); testSite's second call manager says 2001.
	members := checkMembers(t, doc.must(t, "devicePool/callManagerGroup")[0], "ethernetPhonePort")
	if len(members) == 2 {
		for i, want := range []struct{ port, node string }{{"2000", "192.0.2.10"}, {"2001", "pbx2.example.net"}} {
			m := members[i]
			if m.textOf(t, "callManager/ports/ethernetPhonePort") != want.port || m.textOf(t, "callManager/processNodeName") != want.node {
				t.Errorf("member %d is not %s:%s", i, want.node, want.port)
			}
		}
	} else {
		t.Errorf("%d members, testSite has 2 call managers", len(members))
	}
	// SRST disabled: chan-sccp's and Wazo's SCCP templates (§2.3 [S2][S1]).
	if got := doc.textOf(t, "devicePool/srstInfo/srstOption"); got != "Disable" {
		t.Errorf("srstOption %q, want Disable", got)
	}
	// The load ID without .loads (§1.3 [S4], §2.3 [S2]).
	if got := doc.textOf(t, "loadInformation"); got != load {
		t.Errorf("loadInformation %q, want %q", got, load)
	}
	// 1 = no security: with 2 or 3 and no CTL file the phone loops asking
	// for one (§1.6 [S18][S19]).
	if got := doc.textOf(t, "deviceSecurityMode"); got != "1" {
		t.Errorf("deviceSecurityMode %q, want 1", got)
	}
	// The locale directories CME binds for German: German_Germany/… for
	// the user locale, Germany/… for the network locale (§1.2.2 [S10]);
	// the directory is the <name> (§1.2.2 [S25 chan-sccp#424], §2.1).
	if got := doc.textOf(t, "userLocale/name"); got != "German_Germany" {
		t.Errorf("userLocale name %q, want German_Germany", got)
	}
	if got := doc.textOf(t, "networkLocaleInfo/name"); got != "Germany" {
		t.Errorf("networkLocaleInfo name %q, want Germany", got)
	}
	// The rest of the blocks as chan-sccp's templates [S2] and [S4] have
	// them: userLocale uid, langCode, version and winCharSet
	// (iso-8859-1 or utf-8, [S4]); networkLocaleInfo uid and version.
	for _, path := range []string{"userLocale/uid", "userLocale/version", "networkLocaleInfo/uid", "networkLocaleInfo/version"} {
		if doc.textOf(t, path) == "" {
			t.Errorf("empty <%s>", path)
		}
	}
	doc.must(t, "userLocale/langCode")
	if got := doc.textOf(t, "userLocale/winCharSet"); got != "iso-8859-1" && got != "utf-8" {
		t.Errorf("winCharSet %q, want iso-8859-1 or utf-8 ([S4])", got)
	}
	if doc.textOf(t, "versionStamp") == "" {
		t.Error("empty versionStamp (§2.1: the change marker)")
	}
}

// 79x1 and later on SIP take the whole configuration in SEP<MAC>.cnf.xml:
// whizzy.org's minimal file tested on a 7941 (ref §2.3 [S22]), the schema
// reference (§2.1 [S4]) and mkirbst's 7961 file.
func TestSourcesJavaSIPDevice(t *testing.T) {
	tp := load(t, "")
	p := Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP", Label: "Reception", Load: "SIP41.9-4-2SR3-1S", Lines: testLines()}
	b, err := tp.DeviceConfig(testSite(), p)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseTree(t, b)
	if doc.name != "device" {
		t.Fatalf("root <%s>, want <device>", doc.name)
	}
	checkPaths(t, doc, devicePaths)
	if got := doc.textOf(t, "deviceProtocol"); got != "SIP" {
		t.Errorf("deviceProtocol %q, want SIP", got)
	}
	// The member is the SIP proxy, on sipPort (§2.1: "SIP uses sipPort";
	// §2.3 [S22]); lines with <proxy>USECALLMANAGER</proxy> register there
	// (§2.1 [S4]). testSite's proxy is 192.0.2.20, port 5060 by default.
	members := checkMembers(t, doc.must(t, "devicePool/callManagerGroup")[0], "sipPort")
	if len(members) != 1 || members[0].textOf(t, "callManager/processNodeName") != "192.0.2.20" ||
		members[0].textOf(t, "callManager/ports/sipPort") != "5060" {
		t.Errorf("members: want the SIP proxy 192.0.2.20:5060 alone")
	}
	if got := doc.textOf(t, "sipProfile/sipProxies/registerWithProxy"); got != "true" {
		t.Errorf("registerWithProxy %q, want true (§2.1, §2.3 [S22])", got)
	}
	// sipLines/line button="1".. with featureID 9 (a line), proxy
	// USECALLMANAGER, port, name, authName, authPassword (§2.1 [S4], §2.3
	// [S22]); displayName and featureLabel are in [S4] and mkirbst's file.
	lines := doc.must(t, "sipProfile/sipLines/line")
	if len(lines) != len(testLines()) {
		t.Errorf("%d lines, want %d", len(lines), len(testLines()))
	}
	for i, l := range lines {
		want := testLines()[min(i, len(testLines())-1)]
		if got := l.attrs["button"]; got != strconv.Itoa(i+1) {
			t.Errorf("line %d: button=%q", i, got)
		}
		for path, v := range map[string]string{
			"featureID": "9", "proxy": "USECALLMANAGER", "port": "5060", "name": want.Extension,
			"authPassword": want.Password,
		} {
			if got := l.textOf(t, path); got != v {
				t.Errorf("line %d: <%s>%s</%s>, want %q", i, path, got, path, v)
			}
		}
		for _, path := range []string{"authName", "displayName", "featureLabel"} {
			if l.textOf(t, path) == "" {
				t.Errorf("line %d: empty <%s>", i, path)
			}
		}
	}
	// dialTemplate names the dial plan file phoneboot serves (§2.1 [S4],
	// §3.4; mkirbst: dialplan.xml).
	if got := doc.textOf(t, "sipProfile/dialTemplate"); got != "dialplan.xml" {
		t.Errorf("dialTemplate %q, want dialplan.xml", got)
	}
	if got := doc.textOf(t, "loadInformation"); got != "SIP41.9-4-2SR3-1S" {
		t.Errorf("loadInformation %q", got)
	}
	doc.must(t, "vendorConfig") // in [S22] and in mkirbst's file
	if got := doc.textOf(t, "deviceSecurityMode"); got != "1" {
		t.Errorf("deviceSecurityMode %q, want 1 (§1.6)", got)
	}
	// What the configs real 79x1 phones ran on carry besides whizzy's
	// minimum ([S4], mkirbst's 7961, buba0's 79x1 file): the SIP stack's
	// timers, the call features, the phone's own SIP port, the media port
	// range, the common profile.
	for _, path := range []string{"sipProfile/sipStack", "sipProfile/sipCallFeatures", "commonProfile"} {
		if e := doc.must(t, path); len(e) == 1 && len(e[0].kids) == 0 {
			t.Errorf("<%s> is empty", path)
		}
	}
	// The registrar is the member (USECALLMANAGER); every other proxy
	// is blank, as in mkirbst's file, so none is left from before.
	for _, p := range []string{"backupProxy", "emergencyProxy", "outboundProxy"} {
		if got := doc.textOf(t, "sipProfile/sipProxies/"+p); got != "" {
			t.Errorf("%s %q, want it blank", p, got)
		}
	}
	port := func(path string) int {
		n, err := strconv.Atoi(doc.textOf(t, path))
		if err != nil || n < 1 || n > 65535 {
			t.Errorf("<%s> is no port", path)
		}
		return n
	}
	// 5060 in [S4] and mkirbst; 16384-32766 in both.
	if got := port("sipProfile/voipControlPort"); got != 5060 {
		t.Errorf("voipControlPort %d, want 5060", got)
	}
	if start, stop := port("sipProfile/startMediaPort"), port("sipProfile/stopMediaPort"); start != 16384 || stop != 32766 {
		t.Errorf("media ports %d-%d, want 16384-32766", start, stop)
	}
	// 1 TCP, 2 UDP, 3 TLS (§2.1 [S4][S22]); the 4 of other templates is
	// undocumented (uncertain), so it does not count. TCP by default:
	// [S4] "Only use 1 (TCP) or 3 (TLS), as the phone causes SIP
	// retransmit errors when using UDP" (§1.6).
	if got := doc.textOf(t, "transportLayerProtocol"); got != "1" {
		t.Errorf("transportLayerProtocol %q, want 1 (TCP)", got)
	}
	// UDP, for the site or the one phone; a configured media range.
	for _, c := range []struct {
		site, phone, want string
	}{{"UDP", "", "2"}, {"UDP", "TCP", "1"}, {"", "udp", "2"}} {
		s := testSite()
		s.SIPTransport = c.site
		s.Phones = map[phone.MAC]PhoneSettings{testMAC: {SIPTransport: c.phone}}
		s.MediaStart, s.MediaStop = 10000, 20000
		b, err := tp.DeviceConfig(s, p)
		if err != nil {
			t.Fatal(err)
		}
		d := parseTree(t, b)
		if got := d.textOf(t, "transportLayerProtocol"); got != c.want {
			t.Errorf("site %q, phone %q: transportLayerProtocol %q, want %s", c.site, c.phone, got, c.want)
		}
		if d.textOf(t, "sipProfile/startMediaPort") != "10000" || d.textOf(t, "sipProfile/stopMediaPort") != "20000" {
			t.Error("media ports not the configured 10000-20000")
		}
	}
	if doc.textOf(t, "versionStamp") == "" {
		t.Error("empty versionStamp")
	}
}

// typeCodes is the table of ref §2.2.1 (chan-sccp's sccp_enum.in [S2],
// cross-checked with its XMLDefault.cnf.xml, Teo's file [S9] and [S36]):
// the NNN of loadInformationNNN for each model.
var typeCodes = map[string][]int{
	"7910": {6}, "7960": {7}, "7940": {8}, "7935": {9}, "7941": {115}, "7971": {119},
	"7914": {124}, "7915": {227, 228}, "7916": {229, 230}, "7985": {302}, "7911": {307},
	"7961G-GE": {308}, "7941G-GE": {309}, "7931": {348}, "7921": {365}, "7906": {369},
	"7962": {404}, "7937": {431}, "7942": {434}, "7945": {435}, "7965": {436}, "7975": {437},
	"7925": {484}, "7926": {577}, "7905": {20000}, "7920": {30002}, "7970": {30006},
	"7912": {30007}, "7902": {30008}, "7961": {30018}, "7936": {30019},
}

// XMLDefault.cnf.xml: the <Default> document (ref §2.2 [S2][S23]) whose
// shape the seed page's "XML magic" shows working.
func TestSourcesXMLDefault(t *testing.T) {
	tp := load(t, "")
	check := func(t *testing.T, s Site, loads map[string]string) *elem {
		t.Helper()
		b, err := tp.DefaultConfig(s, loads)
		if err != nil {
			t.Fatal(err)
		}
		doc := parseTree(t, b)
		if doc.name != "Default" {
			t.Fatalf("root <%s>, want <Default> (seed page, §2.2)", doc.name)
		}
		// The seed's document: Default/callManagerGroup/members/member
		// priority="0"/callManager/ports/ethernetPhonePort 2000 and
		// processNodeName; [S23]: both are needed, SIP phones too.
		groups := doc.must(t, "callManagerGroup")
		if len(groups) == 1 {
			checkMembers(t, groups[0], "ethernetPhonePort")
		}
		known := map[string]bool{}
		for p := range defaultPaths {
			known[p] = true
		}
		for _, k := range doc.kids {
			if strings.HasPrefix(k.name, "loadInformation") {
				known[k.path] = true
			}
		}
		checkPaths(t, doc, known)
		return doc
	}

	// One load per model: every loadInformationNNN it gets has a code of
	// that model in §2.2.1, a model attribute naming it, and the load.
	for _, m := range phone.Models {
		if len(m.TypeCodes) == 0 {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			load := "LOAD-" + strings.ReplaceAll(m.Name, "-", "")
			doc := check(t, testSite(), map[string]string{m.Name: load})
			var codes []int
			for _, k := range doc.kids {
				code, ok := strings.CutPrefix(k.name, "loadInformation")
				if !ok {
					continue
				}
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("<%s>: want loadInformation and a number (§2.2.1)", k.name)
					continue
				}
				codes = append(codes, n)
				if k.text != load {
					t.Errorf("<%s>%s<…>, want %s", k.name, k.text, load)
				}
				// The attribute's wording varies ("IP Phone 7960" in the
				// seed, "Cisco 7960" in chan-sccp and mkirbst, "CP-7941" in
				// [S36]; §2.2: informational, the phone keys on the code,
				// inference), so only the model number is checked: every
				// source's attribute ends with it.
				if attr, ok := k.attrs["model"]; !ok || !strings.HasSuffix(attr, m.Name) {
					t.Errorf("<%s model=%q>: every source's model attribute ends with the model, %s", k.name, attr, m.Name)
				}
			}
			want, ok := typeCodes[m.Name]
			if !ok {
				t.Fatalf("model %s has codes %v but is not in §2.2.1", m.Name, m.TypeCodes)
			}
			slices.Sort(codes)
			if !slices.Equal(codes, want) {
				t.Errorf("codes %v, want %v (§2.2.1)", codes, want)
			}
		})
	}

	// The seed's own case, a 7960 named P0S3-07-2-00 in loadInformation7.
	doc := check(t, testSite(), map[string]string{"7960": "P0S3-07-2-00"})
	if li := doc.find("loadInformation7"); len(li) != 1 || li[0].text != "P0S3-07-2-00" {
		t.Errorf("loadInformation7: %d elements, want one naming P0S3-07-2-00 (seed page)", len(li))
	}
	// A SIP-only site still writes ethernetPhonePort and processNodeName:
	// [S23] "(will send SIP REGISTER there)".
	s := testSite()
	s.CallManagers = nil
	doc = check(t, s, nil)
	if got := doc.find("callManagerGroup/members/member/callManager/processNodeName"); len(got) != 1 || got[0].text != "192.0.2.20" {
		t.Errorf("SIP-only site: want the SIP proxy as the one member")
	}
}

// sipKeys are the keys of the 7940/7960 SIP text configs that real phones
// accepted: ref §3.2 (from [S9] Teo's 7960 SIP 8.12 files, [S6] FreePBX's
// Provisioner templates, [S39] funkfeuer and pro-voip), mkirbst's
// configs_cisco7960 files, and the dst_* keys of the Cisco SIP IP Phone
// 7960 Administrator Guide, "Setting the Date, Time, and Daylight Savings
// Time" (78-10497-02 p. 3-26). lineN_ keys are checked by sipLineKey.
var sipKeys = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`
		image_version
		proxy_emergency proxy_emergency_port proxy_backup proxy_backup_port
		outbound_proxy outbound_proxy_port proxy_register timer_register_expires
		nat_enable nat_address voip_control_port start_media_port end_media_port nat_received_processing
		dyn_dns_addr_1 dyn_dns_addr_2 dyn_tftp_addr tftp_cfg_dir
		preferred_codec tos_media enable_vad network_media_type
		dial_template autocomplete
		cnf_join_enable semi_attended_transfer call_waiting anonymous_call_block callerid_blocking
		dnd_control remote_party_id user_info messages_uri
		dtmf_inband dtmf_outofband dtmf_db_level dtmf_avt_payload timer_t1 timer_t2 sip_retx
		sip_invite_retx timer_invite_expires
		sntp_mode sntp_server time_zone time_format_24hr date_format dst_offset dst_auto_adjust
		dst_start_month dst_start_day dst_start_day_of_week dst_start_week_of_month dst_start_time
		dst_stop_month dst_stop_day dst_stop_day_of_week dst_stop_week_of_month dst_stop_time
		phone_label logo_url services_url directory_url http_proxy_addr http_proxy_port
		telnet_level phone_prompt phone_password
		sync`) {
		sipKeys[k] = true
	}
	// proxy1..proxy6 (§3.2 shows 1-4; mkirbst's SIPDefault.cnf goes to 6).
	for i := 1; i <= 6; i++ {
		sipKeys[fmt.Sprintf("proxy%d_address", i)] = true
		sipKeys[fmt.Sprintf("proxy%d_port", i)] = true
	}
}

// sipLineKey matches the per-line keys of §3.2 [S9][S6][S39].
var sipLineKey = regexp.MustCompile(`^line([0-9]+)_(name|shortname|displayname|authname|password|contact)$`)

// sipLine is the form of a key line in the SIP text configs (ref §3.1:
// "name: value ; comment", values quoted or not [S9][S6][S39]). Only the
// forms seen in files real phones accepted pass: a quoted value (no quote
// inside: the format has no escape) may be followed by blanks and a
// "; comment" (mkirbst, Provisioner); a bare value ends the line or is
// followed by " ; comment". A bare value with trailing blanks is in no
// source: whether the phone keeps the blanks is not known (for OS79XX.TXT
// a trailing space is known to break the name, CSCdv19260, ref §3.3).
var sipLine = regexp.MustCompile(`^([a-z0-9_]+):[ \t]*("[^"]*"[ \t]*(;.*)?|[^"\s;]+([ \t]+;.*)?)$`)

// sipFile parses a SIP text config: key → value without quotes. Every
// line must be blank, a # comment (§3.1) or a key line of sipLine whose
// key phones know.
func sipFile(t *testing.T, b []byte, lines int) map[string]string {
	t.Helper()
	if !utf8.Valid(b) {
		t.Error("not UTF-8")
	}
	kv := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(line, "\r") {
			t.Errorf("line %d ends in CR: no file of the sources has CR line ends", i+1)
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sipLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d %q: not `name: \"value\"` nor `name: value` (ref §3.1)", i+1, line)
			continue
		}
		key := m[1]
		if lm := sipLineKey.FindStringSubmatch(key); lm != nil {
			// Lines 1-6 on a 7960, 1-2 on a 7940, by hardware (§3.2).
			if n, _ := strconv.Atoi(lm[1]); n < 1 || n > lines {
				t.Errorf("line %d: %s; the phone has lines 1 to %d", i+1, key, lines)
			}
		} else if !sipKeys[key] {
			t.Errorf("line %d: key %q is in no config real phones accepted (ref §3.2)", i+1, key)
		}
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			v = v[1:strings.LastIndex(v, `"`)]
		} else {
			v, _, _ = strings.Cut(v, ";")
			v = strings.TrimSpace(v)
		}
		kv[key] = v
	}
	return kv
}

// SIPDefault.cnf and SIP<MAC>.cnf, the 7940/7960 SIP text configs (ref
// §3.1, §3.2).
func TestSourcesSIPTextConfigs(t *testing.T) {
	tp := load(t, "")
	b, err := tp.SIPDefault(testSite(), "P0S3-8-12-00")
	if err != nil {
		t.Fatal(err)
	}
	def := sipFile(t, b, 6)
	for key, want := range map[string]string{
		// No extension: the phone asks for P0S3-8-12-00.loads (§1.2.1, §3.2).
		"image_version": "P0S3-8-12-00",
		// testSite's SIP proxy, on 5060 when not said (§3.2; mkirbst,
		// Provisioner, funkfeuer: proxy1_address and proxy1_port).
		"proxy1_address": "192.0.2.20", "proxy1_port": "5060",
		"proxy_register": "1", // §3.2; mkirbst, Provisioner
		// "dialplan" makes the phone fetch dialplan.xml (§1.2.1 [S9], §3.2).
		"dial_template": "dialplan",
		// "./" makes it ask for ./SIP<MAC>.cnf (§1.2.1 [S9], §3.1).
		"tftp_cfg_dir": "./",
		// sntp_server: the first NTP server of testSite.
		"sntp_server": "192.0.2.1",
		// Central Europe: mkirbst's SIPDefault.cnf ("CET", for central
		// Europe, on a 7960 that registered).
		"time_zone": "CET",
		"sync":      "2", // testSite's sync, compared with syncinfo.xml (§3.5)
	} {
		if got, ok := def[key]; !ok || got != want {
			t.Errorf("SIPDefault.cnf %s = %q (present %v), want %q", key, got, ok, want)
		}
	}
	// sntp_mode: unicast, multicast, anycast or directedbroadcast (§3.2).
	if got := def["sntp_mode"]; !slices.Contains([]string{"unicast", "multicast", "anycast", "directedbroadcast"}, got) {
		t.Errorf("sntp_mode %q", got)
	}
	// telnet_level 0, 1 or 2 (§3.2).
	if got, ok := def["telnet_level"]; ok && !slices.Contains([]string{"0", "1", "2"}, got) {
		t.Errorf("telnet_level %q", got)
	}
	// Daylight saving for Europe/Vienna: EU rule, last Sunday of March
	// 02:00 local to last Sunday of October 03:00 local (Directive
	// 2000/84/EC: 01:00 UTC), in the Cisco guide's terms (78-10497-02
	// p. 3-26): day 0 = relative, day of week "Sun" (case-sensitive) or
	// 1-7, week of month 1-6 or 8 = the last week, time hour/minute
	// "02/00". dst_start_month's valid values are on a page not retrieved
	// (Provisioner writes "April", "March", "Nov"), so the month is not
	// checked; nor is dst_offset's unit beyond Provisioner's "1".
	for key, want := range map[string]string{
		"dst_auto_adjust": "1", "dst_offset": "1",
		"dst_start_day": "0", "dst_start_day_of_week": "Sun", "dst_start_week_of_month": "8", "dst_start_time": "02/00",
		"dst_stop_day": "0", "dst_stop_day_of_week": "Sun", "dst_stop_week_of_month": "8", "dst_stop_time": "03/00",
	} {
		if got := def[key]; got != want {
			t.Errorf("SIPDefault.cnf %s = %q, want %q", key, got, want)
		}
	}

	// SIP<MAC>.cnf for a 7960 with 6 lines and a 7940 with 2 (§3.2: lines
	// 1-6 on the 7960, 1-2 on the 7940).
	for _, c := range []struct {
		model string
		lines int
	}{{"7960", 6}, {"7940", 2}} {
		t.Run(c.model, func(t *testing.T) {
			var lines []Line
			for i := range c.lines {
				lines = append(lines, Line{Extension: strconv.Itoa(201 + i), Name: fmt.Sprintf("Line %d", i+1), Password: fmt.Sprintf("pw%d", i+1)})
			}
			// A label with a space: quoted, as in every source's labels.
			p := Phone{MAC: testMAC, Model: model(t, c.model), Protocol: "SIP", Label: "Front Desk", Load: "P0S3-8-12-00", Lines: lines}
			b, err := tp.SIPConfig(testSite(), p)
			if err != nil {
				t.Fatal(err)
			}
			kv := sipFile(t, b, c.lines)
			if got := kv["image_version"]; got != "P0S3-8-12-00" {
				t.Errorf("image_version %q", got)
			}
			// phone_label: at most 11 characters ([S39]: "max 11").
			if got := kv["phone_label"]; got != "Front Desk" || utf8.RuneCountInString(got) > 11 {
				t.Errorf("phone_label %q", got)
			}
			// Each line registers with lineN_name, lineN_authname and
			// lineN_password (§3.2 [S9][S6][S39]) at its own proxy,
			// proxyN_address and proxyN_port (mkirbst's SIP….cnf,
			// Provisioner's SIP$mac.cnf: line N uses proxy N).
			for i, l := range lines {
				n := strconv.Itoa(i + 1)
				for key, want := range map[string]string{
					"line" + n + "_name": l.Extension, "line" + n + "_authname": l.Extension,
					"line" + n + "_password": l.Password, "line" + n + "_shortname": l.Name,
					"line" + n + "_displayname": l.Name,
					"proxy" + n + "_address":    "192.0.2.20", "proxy" + n + "_port": "5060",
				} {
					if got := kv[key]; got != want {
						t.Errorf("%s = %q, want %q", key, got, want)
					}
				}
			}
		})
	}

	// Phones keep in flash what a file does not mention (Cisco SIP IP
	// Phone admin guide: it "stores those parameters that differ in
	// Flash"; real-configs.md). For a phone of the inventory with one
	// line, SIP<MAC>.cnf blanks the other lines up to the model's count
	// (§3.2: "UNPROVISIONED" for unused lines), their proxies (mkirbst's
	// SIPDefault.cnf: proxy2..6_address ""), the outbound, backup and
	// emergency proxies (Provisioner: outbound_proxy "", proxy_backup "",
	// proxy_emergency "") and NAT (Provisioner: nat_enable "0",
	// nat_address ""); a phone outside the inventory keeps its own.
	for _, c := range []struct {
		model string
		lines int
	}{{"7960", 6}, {"7940", 2}} {
		p := Phone{MAC: testMAC, Model: model(t, c.model), Protocol: "SIP", Load: "P0S3-8-12-00", Lines: testLines()[:1]}
		b, err := tp.SIPConfig(testSite(), p)
		if err != nil {
			t.Fatal(err)
		}
		kv := sipFile(t, b, c.lines)
		for n := 2; n <= c.lines; n++ {
			k := strconv.Itoa(n)
			for key, want := range map[string]string{
				"line" + k + "_name": "UNPROVISIONED", "line" + k + "_password": "UNPROVISIONED",
				"line" + k + "_authname": "", "line" + k + "_shortname": "", "line" + k + "_displayname": "",
				"proxy" + k + "_address": "",
			} {
				if got, ok := kv[key]; !ok || got != want {
					t.Errorf("%s, line %d unused: %s = %q (present %v), want %q", c.model, n, key, got, ok, want)
				}
			}
		}
		for _, key := range []string{"outbound_proxy", "proxy_backup", "proxy_emergency", "nat_address"} {
			if got, ok := kv[key]; !ok || got != "" {
				t.Errorf("%s: %s = %q (present %v), want it blank", c.model, key, got, ok)
			}
		}
		if kv["nat_enable"] != "0" {
			t.Errorf("%s: nat_enable %q, want 0", c.model, kv["nat_enable"])
		}
		s := testSite()
		s.Phones = nil
		b, err = tp.SIPConfig(s, p)
		if err != nil {
			t.Fatal(err)
		}
		if kv := sipFile(t, b, c.lines); len(kv) != 8 { // image_version and line 1 with its proxy
			t.Errorf("%s outside the inventory: %d keys, want only its own:\n%s", c.model, len(kv), b)
		}
	}

	// Without proxy, NTP, a SIP time_zone value or a daylight-saving
	// rule phoneboot models, the file still has only lines of the known
	// forms, and no dst_* lines at all: dst_auto_adjust "0" would switch
	// off the phone's own rule.
	b, err = tp.SIPDefault(Site{TimeZone: "Jerusalem Standard/Daylight Time"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if kv := sipFile(t, b, 6); kv["time_zone"] != "" || strings.Contains(string(b), "dst_") {
		t.Errorf("Jerusalem: time_zone %q, dst_* lines:\n%s", kv["time_zone"], b)
	}
	// UTC+2 Europe: the EU changes at 01:00 UTC, 03:00 local standard
	// time and 04:00 local daylight time (Directive 2000/84/EC).
	b, err = tp.SIPDefault(Site{TimeZone: "Europe/Athens"}, "")
	if err != nil {
		t.Fatal(err)
	}
	kv := sipFile(t, b, 6)
	if kv["time_zone"] != "EET" || kv["dst_start_time"] != "03/00" || kv["dst_stop_time"] != "04/00" {
		t.Errorf("Athens: time_zone %q, dst %q to %q", kv["time_zone"], kv["dst_start_time"], kv["dst_stop_time"])
	}
}

// The observed boot of a 7960 on SIP 8.12 (ref §1.2.1 [S9]): after
// SEP000E84C060A6.cnf.xml it asked for P0S3-8-12-00.loads, SIPDefault.cnf,
// ./SIP000E84C060A6.cnf, RINGLIST.DAT and dialplan.xml. Each name it asked
// for must follow from what phoneboot's files say, so that a phone given
// them asks for the names phoneboot answers.
func TestSourcesObservedBoot(t *testing.T) {
	tp := load(t, "")
	mac, err := phone.ParseMAC("000E84C060A6")
	if err != nil {
		t.Fatal(err)
	}
	p := Phone{MAC: mac, Model: model(t, "7960"), Protocol: "SIP", Load: "P0S3-8-12-00", Lines: testLines()[:1]}
	s := testSite()
	dev, err := tp.DeviceConfig(s, p)
	if err != nil {
		t.Fatal(err)
	}
	def, err := tp.SIPDefault(s, "")
	if err != nil {
		t.Fatal(err)
	}
	kv := sipFile(t, def, 6)
	observed := []string{"P0S3-8-12-00.loads", "./SIP000E84C060A6.cnf", "dialplan.xml"}
	derived := []string{
		parseTree(t, dev).textOf(t, "loadInformation") + ".loads",
		kv["tftp_cfg_dir"] + "SIP" + mac.Hex() + ".cnf",
		kv["dial_template"] + ".xml",
	}
	if !slices.Equal(derived, observed) {
		t.Errorf("the files make a 7960 ask for %q; the observed one asked for %q", derived, observed)
	}
	// The file names use the MAC in upper case, as every observed request
	// does (ref §0.4 [S9][S25]).
	if got := "SEP" + mac.Hex() + ".cnf.xml"; got != "SEP000E84C060A6.cnf.xml" {
		t.Errorf("device config name %q", got)
	}
}

// OS79XX.TXT: one line, the image name without extension; for a SIP 8.x
// package the P003-… loader (ref §3.3 [S9][S37]); never a trailing space
// (Cisco bug CSCdv19260 [S15]: the phone then asks for a file that does
// not exist).
func TestSourcesOS79XX(t *testing.T) {
	for _, in := range []string{"P003-8-12-00", "P003-8-12-00 ", "P003-8-12-00\r\n", " P003-8-12-00\t\n"} {
		got := string(OS79XX(in))
		if got != "P003-8-12-00" {
			t.Errorf("OS79XX(%q) = %q, want P003-8-12-00", in, got)
		}
		if strings.ContainsAny(got, " \t\r\n") || strings.Contains(got, ".") {
			t.Errorf("OS79XX(%q) = %q: blanks or an extension", in, got)
		}
	}
}

// dialplan.xml, RINGLIST.DAT and syncinfo.xml (ref §3.4, §3.5).
func TestSourcesDialPlanRingsSync(t *testing.T) {
	tp := load(t, "")
	s := testSite()
	// <DIALTEMPLATE><TEMPLATE MATCH="…" Timeout="…"/> (§3.4 [S9][S22];
	// mkirbst's 7962 dialplan.xml: the same spelling on a 79x2). Rewrite is
	// not checked: [S4] spells the 79x1 attributes in lower case, no
	// source shows the 7940/7960 spelling.
	b, err := tp.DialPlan(s)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseTree(t, b)
	if doc.name != "DIALTEMPLATE" {
		t.Fatalf("root <%s>, want <DIALTEMPLATE>", doc.name)
	}
	tmpls := doc.must(t, "TEMPLATE")
	if len(tmpls) != len(s.DialPlan) {
		t.Errorf("%d TEMPLATEs, want %d", len(tmpls), len(s.DialPlan))
	}
	// A rewrite is digits, "." and the tokens %0 (the whole match), %1
	// to %5 (groups), %% and %. ([S4] dial-template.html); "*", "#" and
	// "+" are phoneboot's inference. No %s: the phone has no such token.
	rewrite := regexp.MustCompile(`^([0-9.*#+]|%[0-5%.])*$`)
	for i, e := range tmpls {
		if len(e.kids) > 0 || e.attrs["MATCH"] != s.DialPlan[min(i, len(s.DialPlan)-1)].Match {
			t.Errorf("TEMPLATE %d: %v", i, e.attrs)
		}
		if rw, ok := e.attrs["Rewrite"]; ok && (rw == "" || !rewrite.MatchString(rw)) {
			t.Errorf("TEMPLATE %d: Rewrite %q is not in the dial template's syntax", i, rw)
		}
		if _, err := strconv.Atoi(e.attrs["Timeout"]); err != nil {
			t.Errorf("TEMPLATE %d: Timeout %q is no number of seconds", i, e.attrs["Timeout"])
		}
	}
	for _, k := range doc.kids {
		if k.name != "TEMPLATE" {
			t.Errorf("<%s> in DIALTEMPLATE", k.name)
		}
	}
	// Without rules: one that takes any number, MATCH="*" Timeout="5", the
	// file of [S9] and mkirbst.
	s2 := s
	s2.DialPlan = nil
	b, err = tp.DialPlan(s2)
	if err != nil {
		t.Fatal(err)
	}
	if tm := parseTree(t, b).find("TEMPLATE"); len(tm) != 1 || tm[0].attrs["MATCH"] != "*" || tm[0].attrs["Timeout"] != "5" {
		t.Errorf("default dial plan %s", b)
	}

	// RINGLIST.DAT: a "DisplayName<TAB or space>file.raw" line per ring
	// (§3.4 [S9]: "Piano 1 Piano1.raw").
	b, err = tp.RingList(s)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(s.Rings) {
		t.Fatalf("%d ring lines, want %d:\n%s", len(lines), len(s.Rings), b)
	}
	for i, line := range lines {
		r := s.Rings[i]
		name, file, ok := cutLastBlank(line)
		if !ok || name != r.Name || file != r.File || !strings.HasSuffix(file, ".raw") {
			t.Errorf("ring line %q, want %q then a tab or space then %q", line, r.Name, r.File)
		}
	}

	// syncinfo.xml: <IMAGE VERSION="image_version" SYNC="n"/>, SYNC at most
	// 32 characters, "*" for any image (§3.5 [S21]). The element around it
	// is not confirmed by any source (uncertain), so only IMAGE is checked.
	for _, c := range []struct{ image, version string }{{"P0S3-8-12-00", "P0S3-8-12-00"}, {"", "*"}} {
		b, err := tp.SyncInfo(s, c.image)
		if err != nil {
			t.Fatal(err)
		}
		var images []*elem
		parseTree(t, b).walk(func(e *elem) {
			if e.name == "IMAGE" {
				images = append(images, e)
			}
		})
		if len(images) != 1 || images[0].attrs["VERSION"] != c.version || images[0].attrs["SYNC"] != "2" {
			t.Errorf("syncinfo.xml for %q: want one IMAGE VERSION=%q SYNC=\"2\":\n%s", c.image, c.version, b)
		}
	}
}

// cutLastBlank splits a ring line at its last tab or space.
func cutLastBlank(s string) (string, string, bool) {
	i := strings.LastIndexAny(s, "\t ")
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return strings.TrimRight(s[:i], "\t "), s[i+1:], true
}

// A phone whose model is not known yet, on SIP: SIP devices register over
// SIP, so its members are the SIP proxy on sipPort (§2.1: "SCCP uses
// ethernetPhonePort, SIP uses sipPort"), not SCCP call managers.
func TestSourcesUnknownModelSIPMembers(t *testing.T) {
	tp := load(t, "")
	for _, c := range []struct {
		name string
		site func(*Site)
		want []string // processNodeName of each member
	}{
		{"proxy", nil, []string{"192.0.2.20"}},
		{"no proxy", func(s *Site) { s.SIPProxy = Host{} }, []string{"192.0.2.10", "pbx2.example.net"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testSite()
			if c.site != nil {
				c.site(&s)
			}
			b, err := tp.DeviceConfig(s, Phone{MAC: testMAC, Protocol: "SIP"})
			if err != nil {
				t.Fatal(err)
			}
			doc := parseTree(t, b)
			checkPaths(t, doc, devicePaths)
			if got := doc.textOf(t, "deviceProtocol"); got != "SIP" {
				t.Errorf("deviceProtocol %q", got)
			}
			members := checkMembers(t, doc.must(t, "devicePool/callManagerGroup")[0], "sipPort")
			var nodes []string
			for _, m := range members {
				nodes = append(nodes, m.textOf(t, "callManager/processNodeName"))
				if len(m.find("callManager/ports/ethernetPhonePort")) > 0 {
					t.Error("a SIP device's member has an SCCP ethernetPhonePort")
				}
			}
			if !slices.Equal(nodes, c.want) {
				t.Errorf("members %q, want %q", nodes, c.want)
			}
		})
	}
}

// s4Zones is the timeZone list of usecallmanager.nz sepmac-cnf-xml.html
// ([S4] @7d160c3) as it stands, name and minutes from UTC.
var s4Zones = []struct {
	name   string
	offset int
}{
	{"Dateline Standard Time", -720}, {"Samoa Standard Time", -660}, {"Hawaiian Standard Time", -600},
	{"Alaskan Standard/Daylight Time", -540}, {"Pacific Standard/Daylight Time", -480},
	{"Mountain Standard/Daylight Time", -420}, {"US Mountain Standard Time", -420},
	{"Central Standard/Daylight Time", -360}, {"Mexico Standard/Daylight Time", -360},
	{"Canada Central Standard Time", -360}, {"SA Pacific Standard Time", -300},
	{"Eastern Standard/Daylight Time", -300}, {"US Eastern Standard Time", -300},
	{"Atlantic Standard/Daylight Time", -240}, {"SA Western Standard Time", -240},
	{"Pacific SA Standard Time", -240}, {"Newfoundland Standard/Daylight Time", -210},
	{"E. South America Standard/Daylight Time", -180}, {"SA Eastern Standard Time", -180},
	{"Pacific SA Daylight Time", -180}, {"Mid-Atlantic Standard/Daylight Time", -120},
	{"Azores Standard/Daylight Time", -60}, {"GMT Standard/Daylight Time", 0}, {"Greenwich Standard Time", 0},
	{"W. Europe Standard/Daylight Time", 60}, {"GTB Standard/Daylight Time", 60},
	{"Egypt Standard/Daylight Time", 60}, {"E. Europe Standard/Daylight Time", 60},
	{"Romance Standard/Daylight Time", 120}, {"Central Europe Standard/Daylight Time", 120},
	{"South Africa Standard Time", 120}, {"Jerusalem Standard/Daylight Time", 120},
	{"Saudi Arabia Standard Time", 180}, {"Russian Standard/Daylight Time", 180},
	{"Iran Standard/Daylight Time", 210}, {"Caucasus Standard/Daylight Time", 240},
	{"Arabian Standard Time", 240}, {"Afghanistan Standard Time", 270}, {"West Asia Standard Time", 300},
	{"Ekaterinburg Standard Time", 300}, {"India Standard Time", 330}, {"Central Asia Standard Time", 360},
	{"SE Asia Standard Time", 420}, {"China Standard/Daylight Time", 480}, {"Taipei Standard Time", 480},
	{"Tokyo Standard Time", 540}, {"Cen. Australia Standard/Daylight Time", 570},
	{"AUS Central Standard Time", 570}, {"E. Australia Standard Time", 600},
	{"AUS Eastern Standard/Daylight Time", 600}, {"West Pacific Standard Time", 600},
	{"Tasmania Standard/Daylight Time", 600}, {"Central Pacific Standard Time", 660},
	{"Fiji Standard Time", 720}, {"New Zealand Standard/Daylight Time", 720},
}

// s4Wrong are the rows whose [S4] offset is wrong, with the right one:
// Windows' own definitions of these CallManager names (CLDR
// windowsZones.xml), Wazo's plugins (Europe/Athens -> E. Europe,
// Europe/Paris -> Central Europe) and phones in Germany and Poland that
// ran on "Central Europe Standard/Daylight Time" (mkirbst, buba0) agree
// (timezones.tsv says more).
var s4Wrong = map[string]int{
	"GTB Standard/Daylight Time": 120, "Egypt Standard/Daylight Time": 120, "E. Europe Standard/Daylight Time": 120,
	"Romance Standard/Daylight Time": 60, "Central Europe Standard/Daylight Time": 60,
}

// The time-zone table has [S4]'s names, no others, each once, with [S4]'s
// offsets but for the five corrected ones; every name the working configs
// used is in it ("W. Europe Standard/Daylight Time" chan-sccp §2.3 [S2],
// "Central Europe Standard/Daylight Time" mkirbst and buba0, "Eastern
// Standard/Daylight Time" chan-sccp's 797x template).
func TestSourcesTimeZoneNames(t *testing.T) {
	var names []string
	for _, z := range s4Zones {
		names = append(names, z.name)
		tz, err := LookupTimeZone(z.name)
		if err != nil {
			t.Errorf("%s: %v", z.name, err)
			continue
		}
		want := z.offset
		if right, ok := s4Wrong[z.name]; ok {
			want = right
		}
		if tz.Offset != want || tz.Cisco != z.name {
			t.Errorf("%s: offset %d, name %q; want %d", z.name, tz.Offset, tz.Cisco, want)
		}
	}
	got := TimeZoneNames()
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("table names %q\nwant [S4]'s %q", got, names)
	}
}

// Every IANA name of the table has, in the Go time zone database, the
// standard offset of its Cisco zone, daylight saving exactly when the
// zone has it, and for the rules phoneboot writes into dst_* the very
// instants of this year's changes.
func TestTimeZoneTableAgainstTZData(t *testing.T) {
	year := time.Now().Year()
	for _, z := range zones {
		for _, name := range z.iana {
			loc, err := time.LoadLocation(name)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			std, dst := offsets(loc)
			if std != z.offset || dst != (z.dst != "none") {
				t.Errorf("%s: UTC%s, daylight saving %v; its row %q says UTC%s, rule %s", name, formatOffset(std), dst, z.cisco, formatOffset(z.offset), z.dst)
				continue
			}
			if !dst {
				continue
			}
			got := changes(loc, year)
			want := ruleChanges(z.dst, z.offset, year)
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("%s changes at %v; rule %s says %v", name, got, z.dst, want)
			}
		}
	}
}

// changes lists the instants of year at which loc's offset changes.
func changes(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	_, prev := t.In(loc).Zone()
	for end := t.AddDate(1, 0, 0); t.Before(end); t = t.Add(15 * time.Minute) {
		if _, off := t.In(loc).Zone(); off != prev {
			out = append(out, t)
			prev = off
		}
	}
	return out
}

// ruleChanges are the instants, in year order, at which rule changes the
// clock of a zone of standard offset std (minutes), per timezones.tsv.
func ruleChanges(rule string, std, year int) []time.Time {
	off := time.Duration(std) * time.Minute
	nth := func(month time.Month, n int) time.Time { // n-th Sunday; 0 = last
		if n == 0 {
			d := time.Date(year, month+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			for d.Weekday() != time.Sunday {
				d = d.AddDate(0, 0, -1)
			}
			return d
		}
		d := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
		for d.Weekday() != time.Sunday {
			d = d.AddDate(0, 0, 1)
		}
		return d.AddDate(0, 0, 7*(n-1))
	}
	// Local standard 02:00 is 02:00 - std in UTC.
	at2 := func(d time.Time) time.Time { return d.Add(2*time.Hour - off) }
	switch rule {
	case "us":
		return []time.Time{at2(nth(time.March, 2)), at2(nth(time.November, 1)).Add(-time.Hour)} // 02:00 daylight time
	case "eu":
		return []time.Time{nth(time.March, 0).Add(time.Hour), nth(time.October, 0).Add(time.Hour)}
	case "au":
		return []time.Time{at2(nth(time.April, 1)), at2(nth(time.October, 1))}
	case "nz":
		return []time.Time{at2(nth(time.April, 1)), at2(nth(time.September, 0))}
	}
	return nil
}

// Ringlist.xml, the ring list of SCCP and Java phones (ref §1.3 [S4]
// ring-tones.html; Provisioner's sip79x1G/ringlist.xml and buba0's
// files/ringlist.xml, both read by 79x1 phones): <CiscoIPPhoneRingList>
// with at most 50 <Ring>, each a DisplayName and a FileName of at most 25
// characters, the FileName a .raw file. The same rings as RINGLIST.DAT.
func TestSourcesRingListXML(t *testing.T) {
	tp := load(t, "")
	s := testSite()
	b, err := tp.RingListXML(s)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseTree(t, b)
	if doc.name != "CiscoIPPhoneRingList" {
		t.Fatalf("root <%s>, want <CiscoIPPhoneRingList>", doc.name)
	}
	checkPaths(t, doc, pathSet("CiscoIPPhoneRingList", "Ring", "Ring/DisplayName", "Ring/FileName"))
	rings := doc.must(t, "Ring")
	if len(rings) != len(s.Rings) || len(rings) > 50 {
		t.Fatalf("%d rings, want %d (at most 50)", len(rings), len(s.Rings))
	}
	for i, r := range rings {
		name, file := r.textOf(t, "DisplayName"), r.textOf(t, "FileName")
		if name != s.Rings[i].Name || file != s.Rings[i].File {
			t.Errorf("ring %d: %q %q, want %q %q", i, name, file, s.Rings[i].Name, s.Rings[i].File)
		}
		if utf8.RuneCountInString(name) > 25 || utf8.RuneCountInString(file) > 25 || !strings.HasSuffix(file, ".raw") {
			t.Errorf("ring %d: %q %q: names of at most 25 characters and a .raw file", i, name, file)
		}
	}
}

// chan-sccp's 7940/7960 SCCP template [S2], the only full locale blocks
// in the sources: English_United_States, uid 1, langCode en_US, version
// 7.1.0.1(1), winCharSet iso-8859-1; United_States, uid 64, the same
// version. phoneboot's defaults are those values; each is a setting.
func TestSourcesLocaleBlocks(t *testing.T) {
	tp := load(t, "")
	s := testSite()
	s.Locale = "English_United_States"
	b, err := tp.DeviceConfig(s, Phone{MAC: testMAC, Model: model(t, "7960"), Protocol: "SCCP"})
	if err != nil {
		t.Fatal(err)
	}
	doc := parseTree(t, b)
	for path, want := range map[string]string{
		"userLocale/name": "English_United_States", "userLocale/uid": "1", "userLocale/langCode": "en_US",
		"userLocale/version": "7.1.0.1(1)", "userLocale/winCharSet": "iso-8859-1",
		"networkLocale": "United_States", "networkLocaleInfo/name": "United_States",
		"networkLocaleInfo/uid": "64", "networkLocaleInfo/version": "7.1.0.1(1)",
	} {
		if got := doc.textOf(t, path); got != want {
			t.Errorf("<%s>%s</…>, want %q as in [S2]", path, got, want)
		}
	}
	// [S4] (SIP on the Java phones): utf-8.
	b, err = tp.DeviceConfig(s, Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SIP"})
	if err != nil {
		t.Fatal(err)
	}
	if got := parseTree(t, b).textOf(t, "userLocale/winCharSet"); got != "utf-8" {
		t.Errorf("79x1 winCharSet %q, want utf-8 ([S4])", got)
	}
	// Every value is a setting.
	s.LocaleInfo = LocaleInfo{Network: "New_Zealand", LangCode: "en_NZ", Version: "10.0.0.1(1)", Charset: "utf-8", UID: 3, NetworkUID: 7}
	b, err = tp.DeviceConfig(s, Phone{MAC: testMAC, Model: model(t, "7960"), Protocol: "SCCP"})
	if err != nil {
		t.Fatal(err)
	}
	doc = parseTree(t, b)
	for path, want := range map[string]string{
		"userLocale/uid": "3", "userLocale/langCode": "en_NZ", "userLocale/version": "10.0.0.1(1)",
		"userLocale/winCharSet": "utf-8", "networkLocale": "New_Zealand", "networkLocaleInfo/uid": "7",
	} {
		if got := doc.textOf(t, path); got != want {
			t.Errorf("<%s>%s</…>, want %q", path, got, want)
		}
	}
	s.LocaleInfo.Charset = "latin1"
	if _, err := tp.DeviceConfig(s, Phone{MAC: testMAC, Protocol: "SCCP"}); err == nil {
		t.Error("charset latin1 accepted")
	}
}

// Key expansion modules (ref §1.4, §2.1 [S4]): <addOnModules> with one
// <addOnModule idx="1".."3"> each (position from the phone), deviceType
// 7914, 7915 or 7916, deviceLine its line keys ([S4]: "14 Line Module",
// "24 Line Module", "24 Line Module"), loadInformation "only required for
// the 7914, 7915 and 7916" — always there, empty when no load is known.
// The lines beyond the phone's own buttons are the modules' buttons.
func TestSourcesAddOnModules(t *testing.T) {
	tp := load(t, "")
	lineKeys := map[string]string{"7914": "14", "7915": "24", "7916": "24"}
	for _, c := range []struct {
		phone, proto string
		kems         []string
		lines        int
	}{{"7961", "SIP", []string{"7914"}, 20}, {"7965", "SCCP", []string{"7916", "7916"}, 0}, {"7960", "SCCP", []string{"7914", "7914"}, 0}} {
		t.Run(c.phone, func(t *testing.T) {
			s := testSite()
			var kems []phone.Model
			for _, k := range c.kems {
				kems = append(kems, model(t, k))
			}
			s.Phones = map[phone.MAC]PhoneSettings{testMAC: {KEMs: kems}}
			s.KEMLoads = map[string]string{"7914": "S00105000400"}
			var lines []Line
			for i := range c.lines {
				lines = append(lines, Line{Extension: strconv.Itoa(200 + i), Password: "pw"})
			}
			b, err := tp.DeviceConfig(s, Phone{MAC: testMAC, Model: model(t, c.phone), Protocol: c.proto, Lines: lines})
			if err != nil {
				t.Fatal(err)
			}
			doc := parseTree(t, b)
			checkPaths(t, doc, devicePaths)
			mods := doc.must(t, "addOnModules/addOnModule")
			if len(mods) != len(c.kems) || len(mods) > 3 {
				t.Fatalf("%d modules, want %d", len(mods), len(c.kems))
			}
			for i, m := range mods {
				typ := m.textOf(t, "deviceType")
				if m.attrs["idx"] != strconv.Itoa(i+1) || typ != c.kems[i] || m.textOf(t, "deviceLine") != lineKeys[typ] {
					t.Errorf("module %d: idx %q, %s with %s lines", i, m.attrs["idx"], typ, m.textOf(t, "deviceLine"))
				}
				want := ""
				if typ == "7914" {
					want = "S00105000400"
				}
				if got := m.find("loadInformation"); len(got) != 1 || got[0].text != want {
					t.Errorf("module %d: loadInformation %v, want %q", i, got, want)
				}
			}
			if c.proto == "SIP" {
				sl := doc.must(t, "sipProfile/sipLines/line")
				if len(sl) != c.lines || sl[len(sl)-1].attrs["button"] != strconv.Itoa(c.lines) {
					t.Errorf("%d SIP lines, the last on button %q; want %d", len(sl), sl[len(sl)-1].attrs["button"], c.lines)
				}
			}
		})
	}
	// Lines beyond phone and modules, and a 7960 on SIP (lines 1-6
	// only, §3.2), are refused.
	s := testSite()
	s.Phones = map[phone.MAC]PhoneSettings{testMAC: {KEMs: []phone.Model{model(t, "7914")}}}
	many := make([]Line, 21)
	for i := range many {
		many[i] = Line{Extension: strconv.Itoa(i + 1)}
	}
	if _, err := tp.DeviceConfig(s, Phone{MAC: testMAC, Model: model(t, "7961"), Protocol: "SCCP", Lines: many}); err == nil || !strings.Contains(err.Error(), "20 line buttons, 21 lines") {
		t.Errorf("21 lines on a 7961 with a 7914: %v", err)
	}
	if _, err := tp.SIPConfig(s, Phone{MAC: testMAC, Model: model(t, "7960"), Protocol: "SIP"}); err == nil || !strings.Contains(err.Error(), "no key expansion module") {
		t.Errorf("7960 on SIP with a 7914: %v", err)
	}
}
