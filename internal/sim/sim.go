// Package sim simulates Cisco 79xx phones booting against a TFTP server.
// A simulated phone asks for the files a real one asks for, in the order
// cisco-79xx.md §1 documents, over real UDP (tftptest.Client), acts on
// what it gets (configs name loads, loads list components, new loads mean
// a reboot) and reports every request and where it ended up.
//
// It is a test tool for the server side, not an emulation of firmware:
// it follows the reference, and the few places where the reference is
// silent and the model had to choose say "inference". Where the sources
// are unsure, it is the harshest phone they allow ("harsh reading"):
// it refuses what it may refuse, and bricks on what may brick it.
//
// It shares no code with the server for the facts it tests: load names,
// versions, the Universal Application Loader, signing, the upgrade chain,
// .loads files and its table of models are its own (loads.go, rules.go,
// models.go), read from cisco-79xx.md. Of internal/phone it takes only
// phone.MAC and the name of the phone.Model to simulate.
package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// Phone is one simulated phone and the state it starts in.
type Phone struct {
	MAC phone.MAC
	// Model names the model to simulate; only its Name is read, to find
	// the model in the simulator's own table (models.go).
	Model    phone.Model
	Load     string // running load ID
	Protocol string // running protocol, derived from Load when empty
	// Quirks reproduce the seed page's loops when given what triggers
	// them. They act on classic UAL boots only ("having successfully
	// loaded the Universal Application Loader, our phone promptly went
	// into a loop"), and once the phone got past one it does not come
	// back in the same Boot (inference: the page reports no relapse),
	// unless CTLLoopAgain says it does.
	//
	// CTLLoop: right after the UAL loads, re-asks CTLSEP<MAC>.tlv while
	// it gets "file not found"; moves on once it receives a file (even
	// an empty one).
	CTLLoop bool
	// CTLLoopEmpty is the Feb-2005 variation: also keeps re-fetching an
	// EMPTY CTL file, and moves on only when the file is gone again (not
	// found) after it had been served.
	CTLLoopEmpty bool
	// CTLLoopAgain makes the CTL quirk (CTLLoopEmpty's when set, else
	// CTLLoop's) come back on every UAL boot, after each upgrade reboot
	// too, so a server's remedy has to work again and again. Harsh
	// reading of the seed page, which tells of one upgrade and says
	// nothing of the boots after it.
	CTLLoopAgain bool
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
	// TFTPTimeout is how long the phone waits for a TFTP packet before
	// sending its last one again; 0 means 1s (tftptest's default).
	TFTPTimeout time.Duration
	// Loss is the fraction (0..1) of TFTP DATA packets the phone throws
	// away and of ACKs it does not send, drawn from Seed: a lossy
	// network (tftptest.Client's Loss), for a soak where tc netem is
	// not there.
	Loss float64
	Seed int64
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
	// Reboots counts every reboot: into a flashed load (the one that
	// bricks a phone included) and after a factory reset's flash.
	Reboots int
	// Refused says, one sentence each, the loads the phone was told to
	// run and would not install (see refusal in rules.go).
	Refused []string
	// Configs holds the last bytes received for every file that is not
	// firmware (SEP….cnf.xml, SIPDefault.cnf, OS79XX.TXT, …), by the
	// name requested.
	Configs map[string][]byte
	// State is "up" when the phone reached the call-control stage (§1.1
	// stage 7), or "stuck: <why>"; "stuck: bricked: <why>" for a phone
	// that flashed a load it cannot come back from (a real one would need
	// a factory reset).
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
		client: tftptest.Client{Server: o.Server, Local: o.Local, Timeout: o.TFTPTimeout, Loss: o.Loss, Seed: o.Seed},
		r: Report{
			MAC: p.MAC, Model: p.Model.Name, StartLoad: p.Load,
			Configs: map[string][]byte{},
		},
		mac: p.MAC.Hex(),
	}
	b.m, b.known = modelOf(p.Model)
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
	m      simModel
	known  bool // m was found

	load  string   // running load
	id    loadName // load read; valid when idOK
	idOK  bool
	proto string // running protocol
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
	id, ok := readLoad(load)
	b.setLoadAs(load, id, ok)
}

// setLoadAs makes load the running one, read as id.
func (b *booter) setLoadAs(load string, id loadName, ok bool) {
	b.load, b.id, b.idOK = load, id, ok
	if ok && id.proto != "" {
		b.proto = id.proto
	}
}

// run boots until the phone is up or stuck. Each boot function returns
// the load to reboot into, or "" when the phone came up.
func (b *booter) run() error {
	if !b.known {
		return stuck("%s phones are not simulated", b.p.Model.Name)
	}
	if b.p.FactoryReset && b.m.family == java {
		if err := b.factoryReset(); err != nil {
			return err
		}
	}
	for {
		var next string
		var err error
		switch {
		case b.m.family == java:
			next, err = b.bootJava()
		case b.idOK && b.id.ual():
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

// reboot restarts the phone into load, which it has just flashed.
func (b *booter) reboot(load string) error {
	id, ok := readLoad(load)
	return b.rebootAs(load, id, ok)
}

// rebootAs restarts the phone into load, read as id. A step the phone
// cannot come back from (brick, rules.go) ends the Boot there: the reboot
// happened, the phone is bricked.
func (b *booter) rebootAs(load string, id loadName, ok bool) error {
	if b.r.Reboots >= b.o.MaxReboots {
		return stuck("reboot loop: %d reboots, next into %s", b.r.Reboots, load)
	}
	b.r.Reboots++
	b.logf("reboot: %s -> %s", b.load, load)
	from, fromOK := b.id, b.idOK
	b.setLoadAs(load, id, ok)
	if b.p.CTLLoopAgain {
		b.ctlPassed = false
	}
	if fromOK && ok {
		if why := brick(b.m.family, from, id); why != "" {
			b.logf("%s", why)
			return stuck("%s", why)
		}
	}
	return nil
}

// refuse reports whether the phone will not install load (refusal in
// rules.go), and records why.
func (b *booter) refuse(load string) bool {
	to, ok := readLoad(load)
	if !ok {
		return false
	}
	why := refusal(b.m, b.id, b.idOK, to)
	if why == "" {
		return false
	}
	b.logf("%s", why)
	if !slices.Contains(b.r.Refused, why) {
		b.r.Refused = append(b.r.Refused, why)
	}
	return true
}

// get reads a file. "not found" (TFTP error 1) is an answer, not an
// error: phones move on to the next candidate (§0.5). Any other failure
// is tried once more, then the phone is stuck with §8's "TFTP error"
// (inference: no source says how often a phone retries a transfer).
func (b *booter) get(name string) (data []byte, found bool, err error) {
	for try := 0; ; try++ {
		if len(b.r.Requests) >= b.o.MaxRequests {
			return nil, false, errBound
		}
		var buf bytes.Buffer
		// A loss pattern of its own for every transfer: one seed for all
		// would lose the same blocks of every file.
		b.client.Seed = b.o.Seed + int64(len(b.r.Requests))*7919
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

// fetchLoads reads <load>.loads (§4.2, §4.3).
func (b *booter) fetchLoads(load string) (loadsBody, bool, error) {
	name := load + ".loads"
	data, found, err := b.get(name)
	if err != nil || !found {
		return loadsBody{}, found, err
	}
	l, err := parseLoads(name, data)
	return l, true, err
}

func parseLoads(name string, data []byte) (loadsBody, error) {
	l, err := readLoads(data)
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
func (b *booter) flashLoads(load string, l loadsBody) (string, error) {
	if b.installed != nil {
		all := true
		for _, c := range l.components {
			all = all && b.installed[c]
		}
		if all {
			b.logf("%s: components already installed", load)
			b.setLoad(load)
			return "", nil
		}
	}
	if err := b.flash(l.components); err != nil {
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
// default. For Java phones it is an 8.3(2) load, below the 8.3(3) from
// which the way to 9.x must pass 8.5(2) (§4.4 [S1]).
func TypicalLoad(m phone.Model) string {
	if sm, ok := modelOf(m); ok && sm.family == java {
		return "SCCP" + sm.prefix + ".8-3-2S"
	}
	return "P0S3-8-12-00"
}
