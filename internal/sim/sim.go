// Package sim simulates Cisco 79xx phones booting against a TFTP server.
// A simulated phone asks for the files a real one asks for, in the order
// cisco-79xx.md §1 documents, over real UDP (tftptest.Client), acts on
// what it gets (configs name loads, loads list components, new loads mean
// a reboot) and reports every request and where it ended up.
//
// It is a test tool for the server side, not an emulation of firmware:
// it follows the reference, and the few places where the reference is
// silent and the model had to choose say "inference".
package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/firmware"
	"phoneboot/internal/phone"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// Phone is one simulated phone and the state it starts in.
type Phone struct {
	MAC      phone.MAC
	Model    phone.Model
	Load     string // running load ID
	Protocol string // running protocol, derived from Load when empty
	// Quirks reproduce the seed page's loops when given what triggers
	// them. They act on classic UAL boots only ("having successfully
	// loaded the Universal Application Loader, our phone promptly went
	// into a loop"), and once the phone got past one it does not come
	// back in the same Boot (inference: the page reports no relapse).
	//
	// CTLLoop: right after the UAL loads, re-asks CTLSEP<MAC>.tlv while
	// it gets "file not found"; moves on once it receives a file (even
	// an empty one).
	CTLLoop bool
	// CTLLoopEmpty is the Feb-2005 variation: also keeps re-fetching an
	// EMPTY CTL file, and moves on only when the file is gone again (not
	// found) after it had been served.
	CTLLoopEmpty bool
	// FactoryReset (Java phones): the boot starts with
	// termNN.default.loads and its components (§1.3, §7).
	FactoryReset bool
}

// Options are the settings of a boot.
type Options struct {
	Server netip.AddrPort
	// Local is the source address. Run gives each phone its own, counting
	// up from this one (tests use 127.0.0.2, 127.0.0.3 …).
	Local netip.Addr
	// Retry is the pause between re-requests in a loop. Real phones wait
	// seconds; 0 means 3s. Tests use a few milliseconds.
	Retry time.Duration
	// MaxRequests bounds the TFTP requests of one Boot; a phone that has
	// not come up by then is "stuck". 0 means 200.
	MaxRequests int
	// MaxReboots bounds upgrade reboots. 0 means 10.
	MaxReboots int
	// Timeout bounds a whole Boot. 0 means 60s.
	Timeout time.Duration
	// Log, if set, receives a line per request and per reboot. Run calls
	// it from several goroutines at once.
	Log func(string)
}

// Request is one TFTP read request a phone made.
type Request struct {
	Name   string // as sent, "./SIP000E84C060A6.cnf" included
	Result string // "ok", "not found", "error: …"
	Size   int64  // bytes received
	SHA256 string // hex digest of what was received, "" unless ok
}

// Report is what became of one phone.
type Report struct {
	MAC                       phone.MAC
	Model                     string
	StartLoad, Load, Protocol string
	Requests                  []Request
	Reboots                   int
	// Configs holds the last bytes received for every file that is not
	// firmware (SEP….cnf.xml, SIPDefault.cnf, OS79XX.TXT, …), by the
	// name requested.
	Configs map[string][]byte
	// State is "up" when the phone reached the call-control stage (§1.1
	// stage 7), or "stuck: <why>".
	State string
}

// Boot boots the phone once, through every upgrade reboot, until it comes
// up or gets stuck.
func (p Phone) Boot(ctx context.Context, o Options) Report {
	if o.Retry <= 0 {
		o.Retry = 3 * time.Second
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 200
	}
	if o.MaxReboots <= 0 {
		o.MaxReboots = 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	b := &booter{
		ctx: ctx, p: p, o: o,
		client: tftptest.Client{Server: o.Server, Local: o.Local},
		r: Report{
			MAC: p.MAC, Model: p.Model.Name, StartLoad: p.Load,
			Configs: map[string][]byte{},
		},
		mac: p.MAC.Hex(),
	}
	b.setLoad(p.Load)
	if p.Protocol != "" {
		b.proto = p.Protocol
	}
	err := b.run()
	b.r.Load, b.r.Protocol = b.load, b.proto
	b.r.State = b.state(err)
	return b.r
}

// Run boots phones concurrently, each from its own source address when
// o.Local is set (o.Local, o.Local+1, …), and returns their reports in
// the order of phones.
func Run(ctx context.Context, phones []Phone, o Options) []Report {
	reports := make([]Report, len(phones))
	var wg sync.WaitGroup
	local := o.Local
	for i, p := range phones {
		po := o
		po.Local = local
		if local.IsValid() {
			local = local.Next()
		}
		wg.Go(func() { reports[i] = p.Boot(ctx, po) })
	}
	wg.Wait()
	return reports
}

// booter is the state of one Boot.
type booter struct {
	ctx    context.Context
	p      Phone
	o      Options
	client tftptest.Client
	r      Report
	mac    string // upper-case hex, as in every file name (§0.4)

	load  string       // running load
	id    phone.LoadID // load parsed; zero when it does not parse
	proto string       // running protocol
	// ctlPassed: a CTL quirk has let the phone go (see Phone).
	ctlPassed bool
	// installed holds the components flashed from termNN.default.loads,
	// so the load that names the same ones is not fetched again.
	installed map[string]bool
}

// stuckError is why a phone did not come up.
type stuckError struct{ why string }

func (e *stuckError) Error() string { return e.why }

func stuck(format string, a ...any) error {
	return &stuckError{fmt.Sprintf(format, a...)}
}

// errBound is returned by get once MaxRequests requests were made; the
// loops turn it into a "stuck: … loop" of their own.
var errBound = errors.New("request bound reached")

func (b *booter) state(err error) string {
	var s *stuckError
	switch {
	case err == nil:
		return "up"
	case errors.As(err, &s):
		return "stuck: " + s.why
	case errors.Is(err, errBound):
		return fmt.Sprintf("stuck: not up after %d requests", b.o.MaxRequests)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("stuck: not up after %v", b.o.Timeout)
	}
	return "stuck: " + err.Error()
}

func (b *booter) logf(format string, a ...any) {
	if b.o.Log != nil {
		b.o.Log(b.mac + " " + fmt.Sprintf(format, a...))
	}
}

// setLoad makes load the running one. A load of no protocol (the bare
// UAL, a term load) leaves the protocol as it was.
func (b *booter) setLoad(load string) {
	b.load = load
	b.id, _ = phone.ParseLoadID(load)
	if b.id.Protocol != "" {
		b.proto = b.id.Protocol
	}
}

// run boots until the phone is up or stuck. Each boot function returns
// the load to reboot into, or "" when the phone came up.
func (b *booter) run() error {
	family := b.p.Model.Family
	if family != phone.FamilyClassic && family != phone.FamilyJava {
		return stuck("%s phones (%s) are not simulated", b.p.Model.Name, family)
	}
	if b.p.FactoryReset && family == phone.FamilyJava {
		if err := b.factoryReset(); err != nil {
			return err
		}
	}
	for {
		var next string
		var err error
		switch {
		case family == phone.FamilyJava:
			next, err = b.bootJava()
		case b.id.UAL():
			next, err = b.bootUAL()
		default:
			// Old loads, and loads that do not parse: an unknown 7940/7960
			// image is most likely an old one.
			next, err = b.bootOld()
		}
		if err != nil || next == "" {
			return err
		}
		if err := b.reboot(next); err != nil {
			return err
		}
	}
}

func (b *booter) reboot(load string) error {
	if b.r.Reboots >= b.o.MaxReboots {
		return stuck("reboot loop: %d reboots, next into %s", b.r.Reboots, load)
	}
	b.r.Reboots++
	b.logf("reboot: %s -> %s", b.load, load)
	b.setLoad(load)
	return nil
}

// get reads a file. "not found" (TFTP error 1) is an answer, not an
// error: phones move on to the next candidate (§0.5). Any other failure
// is tried once more, then the phone is stuck.
func (b *booter) get(name string) (data []byte, found bool, err error) {
	for try := 0; ; try++ {
		if len(b.r.Requests) >= b.o.MaxRequests {
			return nil, false, errBound
		}
		var buf bytes.Buffer
		_, err := b.client.Get(b.ctx, name, &buf)
		req := Request{Name: name}
		var te *tftptest.Error
		switch {
		case err == nil:
			sum := sha256.Sum256(buf.Bytes())
			req.Result, req.Size, req.SHA256 = "ok", int64(buf.Len()), hex.EncodeToString(sum[:])
		case errors.As(err, &te) && te.Code == tftp.ErrFileNotFound:
			req.Result = "not found"
		default:
			req.Result = "error: " + err.Error()
		}
		b.r.Requests = append(b.r.Requests, req)
		b.logf("%s: %s (%d bytes)", name, req.Result, req.Size)
		switch {
		case err == nil:
			if !isFirmware(name) {
				b.r.Configs[name] = buf.Bytes()
			}
			return buf.Bytes(), true, nil
		case te != nil && te.Code == tftp.ErrFileNotFound:
			return nil, false, nil
		case b.ctx.Err() != nil:
			return nil, false, b.ctx.Err()
		case try > 0:
			return nil, false, stuck("TFTP error on %s: %v", name, err)
		}
		if err := b.pause(); err != nil {
			return nil, false, err
		}
	}
}

// pause waits Retry before a phone asks again.
func (b *booter) pause() error {
	t := time.NewTimer(b.o.Retry)
	defer t.Stop()
	select {
	case <-b.ctx.Done():
		return b.ctx.Err()
	case <-t.C:
		return nil
	}
}

func isFirmware(name string) bool {
	switch phone.ParseName(name).Kind {
	case phone.KindLoadList, phone.KindTermDefault, phone.KindImage:
		return true
	}
	return false
}

// fetchLoads reads <load>.loads and the components it lists (§4.2, §4.3).
func (b *booter) fetchLoads(load string) (firmware.Loads, bool, error) {
	name := load + ".loads"
	data, found, err := b.get(name)
	if err != nil || !found {
		return firmware.Loads{}, found, err
	}
	l, err := parseLoads(name, data)
	return l, true, err
}

func parseLoads(name string, data []byte) (firmware.Loads, error) {
	l, err := firmware.ParseLoads(data)
	if err != nil {
		// §1.5: a .loads the phone cannot read fails authentication.
		return l, stuck("%s: %v", name, err)
	}
	return l, nil
}

// flash fetches components in the order listed. A missing one stops the
// upgrade with the status "File not found" (§8); the old load stays.
func (b *booter) flash(components []string) error {
	for _, c := range components {
		_, found, err := b.get(c)
		if err != nil {
			return err
		}
		if !found {
			return stuck("File not found %s", c)
		}
	}
	return nil
}

// upgrade fetches load's .loads and components, for a reboot into it.
func (b *booter) upgrade(load string) (string, error) {
	l, found, err := b.fetchLoads(load)
	if err != nil {
		return "", err
	}
	if !found {
		return "", stuck("File not found %s.loads", load)
	}
	return b.flashLoads(load, l)
}

// flashLoads installs the components of load's .loads. After a factory
// reset the same components may already be in flash, from
// termNN.default.loads; then the phone only takes note of the load's
// name (inference: §1.3 says the term file has the body of the package's
// .loads, and nothing says the phone flashes identical images twice).
func (b *booter) flashLoads(load string, l firmware.Loads) (string, error) {
	if b.installed != nil {
		all := true
		for _, c := range l.Components {
			all = all && b.installed[c]
		}
		if all {
			b.logf("%s: components already installed", load)
			b.setLoad(load)
			return "", nil
		}
	}
	if err := b.flash(l.Components); err != nil {
		return "", err
	}
	return load, nil
}

// protocolOf tells a Java load's protocol from its jar/cvm component names
// (jar41sip…, cvm41sccp…), which is all a term file says (inference).
func protocolOf(components []string) string {
	for _, c := range components {
		lc := strings.ToLower(c)
		if !strings.HasPrefix(lc, "jar") && !strings.HasPrefix(lc, "cvm") {
			continue
		}
		switch {
		case strings.Contains(lc, "sccp"):
			return "SCCP"
		case strings.Contains(lc, "sip"):
			return "SIP"
		}
	}
	return ""
}

// TypicalLoad is a load a phone of model m may well run today: a dry run's
// default.
func TypicalLoad(m phone.Model) string {
	if m.Family == phone.FamilyJava {
		return "SCCP" + m.LoadPrefix + ".8-3-2S"
	}
	return "P0S3-8-12-00"
}
