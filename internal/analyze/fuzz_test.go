package analyze

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// seedFrames are frames of each protocol analyze reads, for the fuzzers.
func seedFrames(t testing.TB) [][]byte {
	c := newCapture(t)
	c.get(phoneA, 50001, server, 40001, "SEP00137F38B3DE.cnf.xml", 600, 1)
	c.notFound(phoneA, 50002, server, 40002, "P0030801SR02.loads")
	c.arp(phoneA, server.ip)
	c.tcp(phoneA, 40000, server, 6970, 1, false, false, []byte("GET /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"))
	c.tcp(server, 6970, phoneA, 40000, 1, false, true, []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
	c.udp(phoneA, 514, server, 514, []byte("<190>hello"))
	r, err := pcapgo.NewReader(bytes.NewReader(c.bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, data)
	}
}

// FuzzRead: any file is a Result or an error, never a panic, and a
// Result's counts add up.
func FuzzRead(f *testing.F) {
	// Small seeds: the fuzzer minimizes what it finds, and a big input
	// takes it long.
	for _, name := range []string{"ctl-loop-lo.pcap", "ctl-loop-lo.pcapng"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b[:min(len(b), 1200)])
		}
	}
	c := newCapture(f)
	for _, fr := range seedFrames(f)[:6] {
		c.frame(fr)
	}
	f.Add(c.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 8192 {
			return
		}
		res, err := Read(bytes.NewReader(b), Options{MaxTransfers: 50, MaxPhones: 50, MaxEvents: 50})
		if err != nil && res == nil {
			return
		}
		if res.Damage != nil && res.Damage.Packet != res.Packets+1 {
			t.Fatalf("damage at %d after %d packets", res.Damage.Packet, res.Packets)
		}
		if len(res.Phones) > 50+50 {
			t.Fatalf("%d phones past the limit", len(res.Phones))
		}
	})
}

// FuzzFrame: any sequence of Ethernet frames (the flows' reassembly of
// TFTP, HTTP, DHCP, ARP, CDP) is analysed without a panic.
func FuzzFrame(f *testing.F) {
	frames := seedFrames(f)
	for i := range frames {
		var joined []byte
		for _, fr := range frames[i:min(len(frames), i+4)] {
			joined = append(append(joined, byte(len(fr)>>8), byte(len(fr))), fr...)
		}
		f.Add(joined)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a := newAnalyzer(Options{MaxTransfers: 8, MaxPhones: 8, MaxEvents: 16})
		now := time.Unix(1e9, 0)
		for n := 1; len(b) >= 2; n++ {
			l := int(b[0])<<8 | int(b[1])
			b = b[2:]
			l = min(l, len(b))
			now = now.Add(time.Second)
			a.packet(n, layers.LinkTypeEthernet, b[:l], now)
			b = b[l:]
		}
		var res Result
		a.finish(&res)
	})
}

// TestPcapng: the same capture read as pcapng gives the same phones.
func TestPcapng(t *testing.T) {
	pcap, err := os.ReadFile(filepath.Join("testdata", "ctl-loop-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	ng, err := os.ReadFile(filepath.Join("testdata", "ctl-loop-lo.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Read(bytes.NewReader(pcap), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read(bytes.NewReader(ng), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Format != "pcapng" || len(a.Phones) != 2 || len(b.Phones) != len(a.Phones) || b.Packets != a.Packets {
		t.Fatalf("pcap %d phones %d packets, pcapng (%s) %d phones %d packets", len(a.Phones), a.Packets, b.Format, len(b.Phones), b.Packets)
	}
	for i := range a.Phones {
		if a.Phones[i].State != b.Phones[i].State || len(a.Phones[i].Events) != len(b.Phones[i].Events) || !has(rules(b.Phones[i]), "ctl-loop/info") {
			t.Errorf("%s: pcap %s %v, pcapng %s %v", a.Phones[i].MAC, a.Phones[i].State, rules(a.Phones[i]), b.Phones[i].State, rules(b.Phones[i]))
		}
	}
}

// TestWritePcapng makes testdata/ctl-loop-lo.pcapng from the pcap
// (PHONEBOOT_WRITE_TESTDATA=1), as Wireshark would save it.
func TestWritePcapng(t *testing.T) {
	if os.Getenv("PHONEBOOT_WRITE_TESTDATA") != "1" {
		t.Skip("PHONEBOOT_WRITE_TESTDATA=1 rewrites testdata/ctl-loop-lo.pcapng")
	}
	in, err := os.Open(filepath.Join("testdata", "ctl-loop-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, r.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "ctl-loop-lo.pcapng"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGzip: a pcap compressed with gzip (tcpdump -w - | gzip) is read
// as it is.
func TestGzip(t *testing.T) {
	pcap, err := os.ReadFile(filepath.Join("testdata", "ctl-loop-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(pcap)
	zw.Close()
	res, err := Read(&buf, Options{})
	if err != nil || res.Format != "pcap.gz" || len(res.Phones) != 2 {
		t.Fatalf("err %v, %+v", err, res)
	}
}
