package analyze

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetSource is a pcap or pcapng reader.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// Magic numbers of the two file formats (either byte order).
const (
	pcapMicro    = 0xa1b2c3d4
	pcapNano     = 0xa1b23c4d
	pcapngHeader = 0x0a0d0d0a
)

// Damage is where a capture stops making sense: the packets before it
// were analysed, nothing after it.
type Damage struct {
	Packet int    `json:"packet"`           // the packet that could not be read (1 is the first)
	Offset int64  `json:"offset,omitempty"` // its byte offset in the file (pcap only; 0: not known)
	What   string `json:"what"`
}

func (d Damage) String() string {
	at := fmt.Sprintf("packet %d", d.Packet)
	if d.Offset > 0 {
		at += fmt.Sprintf(" (byte %d)", d.Offset)
	}
	return "the capture is damaged at " + at + ": " + d.What + "; the packets before it were analysed"
}

// open reads the file header: pcap or pcapng, by its magic number.
func open(r io.Reader) (packetSource, string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil {
		if len(head) == 0 {
			return nil, "", errors.New("the file is empty: not a capture")
		}
		return nil, "", errors.New("the file is too short for a capture header")
	}
	le, be := binary.LittleEndian.Uint32(head), binary.BigEndian.Uint32(head)
	switch {
	case le == pcapngHeader:
		// Interfaces of several link types (Ethernet, Linux cooked) in one
		// file: each packet says its own.
		src, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{SkipUnknownVersion: true, WantMixedLinkType: true})
		if err != nil {
			return nil, "", fmt.Errorf("not a readable pcapng file: %s", plainErr(err))
		}
		return src, "pcapng", nil
	case le == pcapMicro || le == pcapNano || be == pcapMicro || be == pcapNano:
		src, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("not a readable pcap file: %s", plainErr(err))
		}
		return src, "pcap", nil
	case head[0] == 0x1f && head[1] == 0x8b:
		src, err := pcapgo.NewReader(br) // gzip-compressed pcap (tcpdump -w - | gzip)
		if err != nil {
			return nil, "", fmt.Errorf("a gzip file, but not a gzip-compressed pcap: %s", plainErr(err))
		}
		return src, "pcap.gz", nil
	}
	return nil, "", fmt.Errorf("not a pcap or pcapng file (it starts with %x; write captures with tcpdump -w FILE or save them from Wireshark as pcap or pcapng)", head)
}

// plainErr words the readers' errors for people.
func plainErr(err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the file ends in the middle of a record (cut short: was the capture still being written?)"
	}
	return err.Error()
}

// pcapRecord is the size of a pcap packet record's header.
const pcapRecord = 16

// stamp is a packet's time.
func stamp(ci gopacket.CaptureInfo) time.Time { return ci.Timestamp }

// linkOf is a packet's link type: its interface's in a pcapng file of
// several, else the file's.
func linkOf(src packetSource, ci gopacket.CaptureInfo) layers.LinkType {
	if len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			return lt
		}
	}
	return src.LinkType()
}
