package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/tftp"
)

// transferIdle is how long without a packet ends a transfer as a
// timeout: phones retransmit within seconds and give up within a minute.
const transferIdle = 30 * time.Second

// captureTail: a transfer whose last packet came this close to the end
// of the capture was cut by the capture, not by the network.
const captureTail = 5 * time.Second

// transfer is one TFTP request and the packets of its transfer: the
// client keeps its port, the server answers from a port of its own
// (RFC 1350 §4), which the first answer shows.
type transfer struct {
	client   netip.AddrPort
	server   netip.AddrPort // where the request went
	tid      uint16         // the server's transfer port, 0 until it answered
	op       tftp.Opcode
	name     string
	opts     []tftp.Option
	oack     bool
	blksize  int
	tsize    int64 // from the OACK, -1 unknown
	start    time.Time
	last     time.Time
	requests int // the request sent again (no answer yet)
	// The blocks: highest seen, whether any was, and their bytes.
	block       uint16
	blocks      int // distinct blocks
	any         bool
	bytes       int64
	retransmits int
	final       bool // a block shorter than blksize was sent
	acked       bool // and acknowledged
	errCode     tftp.ErrorCode
	errMsg      string
	errBy       string // "server", "client"
	ended       bool
}

// tftpFlows follows every TFTP transfer of a capture.
type tftpFlows struct {
	a       *analyzer
	max     int
	flows   map[netip.AddrPort]*transfer // by client address and port
	dropped int
}

func newTFTPFlows(a *analyzer, max int) *tftpFlows {
	return &tftpFlows{a: a, max: max, flows: map[netip.AddrPort]*transfer{}}
}

// datagram takes a UDP datagram that may be TFTP; false: it is not.
func (f *tftpFlows) datagram(d datagram) bool {
	if len(d.payload) < 2 {
		return false
	}
	op, _ := tftp.PacketOpcode(d.payload)
	// Packets of a transfer already followed: to or from its client.
	if t := f.flows[d.src]; t != nil && t.server.Addr() == d.dst.Addr() && op != tftp.OpRRQ && op != tftp.OpWRQ {
		f.fromClient(t, d, op)
		return true
	}
	if t := f.flows[d.dst]; t != nil && t.server.Addr() == d.src.Addr() {
		f.fromServer(t, d, op)
		return true
	}
	if op != tftp.OpRRQ && op != tftp.OpWRQ {
		return false
	}
	// A request: to a TFTP port, or anywhere if it parses as one (a
	// server on another port; phones always ask 69).
	p, err := tftp.ParseRequest(d.payload)
	known := slices.Contains(f.a.o.TFTPPorts, d.dst.Port())
	if err != nil {
		if known {
			f.a.problem(d.n, "TFTP request to %v: %v", d.dst, err)
			return true
		}
		return false
	}
	if t := f.flows[d.src]; t != nil {
		if !t.any && !t.oack && t.tid == 0 && t.name == p.Filename && t.server == d.dst {
			t.requests++ // the same request again: no answer yet
			t.last = d.t
			return true
		}
		f.end(t, d.t, false) // the client reused its port
	}
	if len(f.flows) >= f.max {
		f.dropped++
		return true
	}
	t := &transfer{client: d.src, server: d.dst, op: p.Op, name: p.Filename, opts: p.Options, blksize: tftp.DefaultBlksize, tsize: -1, start: d.t, last: d.t, requests: 1}
	f.flows[d.src] = t
	f.a.served(d.dst.Addr(), "tftp", d.dst.Port(), d.src.Addr())
	f.a.phones.sawName(d.src.Addr(), p.Filename, d.t)
	return true
}

// fromServer is a packet of the server's side of t.
func (f *tftpFlows) fromServer(t *transfer, d datagram, op tftp.Opcode) {
	t.last = d.t
	if t.tid == 0 && d.src.Port() != t.server.Port() {
		t.tid = d.src.Port()
	}
	switch op {
	case tftp.OpOACK:
		t.oack = true
		if opts, err := tftp.ParseOACK(d.payload); err == nil {
			for _, o := range opts {
				switch strings.ToLower(o.Name) {
				case "blksize":
					if n, err := strconv.Atoi(o.Value); err == nil && n >= tftp.MinBlksize && n <= tftp.MaxBlksize {
						t.blksize = n
					}
				case "tsize":
					if n, err := strconv.ParseInt(o.Value, 10, 64); err == nil && n >= 0 {
						t.tsize = n
					}
				}
			}
		} else {
			f.a.problem(d.n, "TFTP OACK from %v: %v", d.src, err)
		}
	case tftp.OpDATA:
		block, data, err := tftp.ParseData(d.payload)
		if err != nil {
			f.a.problem(d.n, "TFTP DATA from %v: %v", d.src, err)
			return
		}
		f.data(t, block, len(data))
	case tftp.OpACK:
		// A write request: the server acknowledges the client's blocks.
		if block, err := tftp.ParseAck(d.payload); err == nil && t.final && block == t.block {
			t.acked = true
			f.end(t, d.t, true)
		}
	case tftp.OpERROR:
		code, msg, err := tftp.ParseErrorPacket(d.payload)
		if err != nil {
			f.a.problem(d.n, "TFTP ERROR from %v: %v", d.src, err)
		}
		t.errCode, t.errMsg, t.errBy = code, msg, "server"
		f.end(t, d.t, true)
	default:
		f.a.problem(d.n, "TFTP: unknown opcode %d from server %v", op, d.src)
	}
}

// fromClient is a packet of the client's side of t (after its request).
func (f *tftpFlows) fromClient(t *transfer, d datagram, op tftp.Opcode) {
	t.last = d.t
	switch op {
	case tftp.OpACK:
		block, err := tftp.ParseAck(d.payload)
		if err != nil {
			f.a.problem(d.n, "TFTP ACK from %v: %v", d.src, err)
			return
		}
		if t.op == tftp.OpRRQ && t.final && block == t.block {
			t.acked = true
			f.end(t, d.t, true)
		}
	case tftp.OpDATA:
		block, data, err := tftp.ParseData(d.payload)
		if err != nil {
			f.a.problem(d.n, "TFTP DATA from %v: %v", d.src, err)
			return
		}
		f.data(t, block, len(data)) // an upload
	case tftp.OpERROR:
		code, msg, _ := tftp.ParseErrorPacket(d.payload)
		t.errCode, t.errMsg, t.errBy = code, msg, "client"
		f.end(t, d.t, true)
	default:
		f.a.problem(d.n, "TFTP: unknown opcode %d from client %v", op, d.src)
	}
}

// data counts a DATA block: a new one, or one sent again.
func (f *tftpFlows) data(t *transfer, block uint16, n int) {
	switch {
	case !t.any && block == 1, t.any && block == t.block+1:
		t.any, t.block = true, block
		t.blocks++
		t.bytes += int64(n)
		if n < t.blksize {
			t.final = true
		}
	case t.any && t.block-block < 64: // this block or one of the window before it, again
		t.retransmits++
	default:
		// A block out of order: the capture missed packets. Take it.
		t.any, t.block = true, block
		t.blocks++
		t.bytes += int64(n)
		t.final = n < t.blksize
	}
}

// sweep ends the transfers idle for transferIdle (all, at the end).
func (f *tftpFlows) sweep(now time.Time, all bool) {
	for _, t := range f.flows {
		if all || now.Sub(t.last) > transferIdle {
			f.end(t, now, false)
		}
	}
}

// end turns a transfer into its event.
func (f *tftpFlows) end(t *transfer, now time.Time, closed bool) {
	if t.ended {
		return
	}
	t.ended = true
	delete(f.flows, t.client)
	ev := event.Event{Time: t.start, IP: t.client.Addr(), Source: event.TFTP, Kind: event.Request, File: t.name,
		Bytes: t.bytes, Duration: t.last.Sub(t.start), Facts: event.Facts{Retransmits: t.retransmits, Server: t.server.Addr()}}
	var why []string
	switch {
	case t.errBy == "server":
		ev.Outcome = serverError(t.errCode)
		why = append(why, fmt.Sprintf("server sent error %d: %q", t.errCode, t.errMsg))
	case t.errBy == "client":
		ev.Outcome = event.Aborted
		if t.oack && !t.any {
			ev.Outcome = event.Probe
		}
		why = append(why, fmt.Sprintf("client sent error %d: %q", t.errCode, t.errMsg))
	case t.final:
		ev.Outcome = event.OK
	case !closed && now.Sub(t.last) < captureTail:
		// Neither ended nor timed out: no outcome, and no rule counts it
		// as cut off.
		why = append(why, "still running when the capture ended")
	case t.tid == 0 && !t.oack && !t.any:
		ev.Outcome = event.Timeout
		why = append(why, fmt.Sprintf("no answer from %v (asked %d times)", t.server, t.requests))
	default:
		ev.Outcome = event.Timeout
		why = append(why, fmt.Sprintf("stopped after block %d", t.block))
	}
	head := fmt.Sprintf("from %v", t.server)
	if t.op == tftp.OpWRQ {
		head = fmt.Sprintf("upload to %v", t.server)
	}
	switch {
	case t.blocks == 1:
		head += fmt.Sprintf(", 1 block of %d", t.blksize)
	case t.blocks > 1:
		head += fmt.Sprintf(", %d blocks of %d", t.blocks, t.blksize)
	}
	if t.tsize >= 0 {
		head += fmt.Sprintf(", tsize %d", t.tsize)
	}
	if t.retransmits > 0 {
		head += fmt.Sprintf(", %d retransmits", t.retransmits)
	}
	ev.Detail = strings.Join(append([]string{head}, why...), "; ")
	f.a.emit(ev)
}

// serverError is the outcome of a request the server answered with an
// error, as the live server records its own.
func serverError(code tftp.ErrorCode) event.Outcome {
	switch code {
	case tftp.ErrFileNotFound:
		return event.NotFound
	case tftp.ErrAccessViolation:
		return event.Denied
	case tftp.ErrIllegalOp, tftp.ErrOptionRefused:
		return event.BadRequest
	case tftp.ErrUndefined:
		return event.Refused
	}
	return event.Failed
}

// nameMAC is the MAC a requested name carries (SEP<MAC>…, CTLSEP<MAC>.tlv).
func nameMAC(name string) (phone.MAC, bool) {
	n := phone.ParseName(strings.TrimLeft(strings.ReplaceAll(name, `\`, "/"), "/"))
	return n.MAC, n.HasMAC
}
