package analyze

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"phoneboot/internal/tftp"
)

// writeStorm writes a boot storm of about mb megabytes as a pcap: phones
// booting at once after a power cut, each CTLSEP (not found), its
// config, the .loads and two firmware images of blocks of 512 bytes,
// every block ACKed, one in 200 sent twice, the phones' transfers
// interleaved as a server's are. It builds the frames by hand (no
// checksums): gopacket's serializer would take longer than the analysis.
func writeStorm(w io.Writer, mb int) (phones int, err error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return 0, err
	}
	const imageBlocks = 2000 // ~1 MB per image
	perPhone := 2 * imageBlocks * (14 + 20 + 8 + 4 + 512 + 16 + 14 + 20 + 8 + 4 + 16)
	phones = max(1, mb<<20/perPhone)
	now := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	frame := make([]byte, 0, 1600)
	write := func(ph int, fromPhone bool, sport, dport uint16, payload []byte) error {
		now = now.Add(2 * time.Microsecond)
		frame = frame[:0]
		pm := []byte{0x00, 0x13, 0x7f, byte(ph >> 16), byte(ph >> 8), byte(ph)}
		sm := []byte{0x52, 0x54, 0, 0, 0, 1}
		pip := []byte{10, byte(ph >> 16), byte(ph >> 8), byte(ph)}
		sip := []byte{10, 255, 255, 1}
		src, dst, srcIP, dstIP := pm, sm, pip, sip
		if !fromPhone {
			src, dst, srcIP, dstIP = sm, pm, sip, pip
		}
		frame = append(append(append(frame, dst...), src...), 0x08, 0x00)
		ipLen := 20 + 8 + len(payload)
		frame = append(frame, 0x45, 0, byte(ipLen>>8), byte(ipLen), 0, 0, 0, 0, 64, 17, 0, 0)
		frame = append(append(frame, srcIP...), dstIP...)
		frame = binary.BigEndian.AppendUint16(frame, sport)
		frame = binary.BigEndian.AppendUint16(frame, dport)
		frame = binary.BigEndian.AppendUint16(frame, uint16(8+len(payload)))
		frame = append(frame, 0, 0)
		frame = append(frame, payload...)
		return pw.WritePacket(gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(frame), Length: len(frame)}, frame)
	}
	// Each phone walks through its files; the storm takes one step of
	// every phone in turn.
	type walk struct{ file, block int }
	mac := func(ph int) string { return fmt.Sprintf("00137F%02X%02X%02X", byte(ph>>16), byte(ph>>8), byte(ph)) }
	files := func(ph int) []struct {
		name   string
		blocks int
		found  bool
	} {
		return []struct {
			name   string
			blocks int
			found  bool
		}{
			{"CTLSEP" + mac(ph) + ".tlv", 0, false}, {"SEP" + mac(ph) + ".cnf.xml", 2, true},
			{"P0S3-8-12-00.loads", 1, true}, {"P0S3-8-12-00.sbn", imageBlocks, true}, {"P0S3-8-12-00.sb2", imageBlocks, true},
		}
	}
	walks := make([]walk, phones)
	data := make([]byte, 4+512)
	for left := phones; left > 0; {
		for ph := range walks {
			wk := &walks[ph]
			fs := files(ph)
			if wk.file >= len(fs) {
				continue
			}
			f := fs[wk.file]
			cport := uint16(20000 + wk.file)
			tid := uint16(30000 + ph%30000)
			if wk.block == 0 {
				if err := write(ph, true, cport, 69, tftp.AppendRequest(nil, tftp.OpRRQ, f.name, tftp.ModeOctet, tftp.Option{Name: "blksize", Value: "512"})); err != nil {
					return 0, err
				}
				if !f.found {
					if err := write(ph, false, tid, cport, tftp.AppendError(nil, tftp.ErrFileNotFound, "file not found")); err != nil {
						return 0, err
					}
					wk.file++
					continue
				}
				wk.block = 1
				continue
			}
			n := 512
			if wk.block == f.blocks {
				n = 100
			}
			tftp.PutDataHeader(data, uint16(wk.block))
			for range 1 + btoi(wk.block%200 == 0) {
				if err := write(ph, false, tid, cport, data[:4+n]); err != nil {
					return 0, err
				}
			}
			if err := write(ph, true, cport, tid, tftp.AppendAck(nil, uint16(wk.block))); err != nil {
				return 0, err
			}
			if wk.block++; wk.block > f.blocks {
				wk.file, wk.block = wk.file+1, 0
				if wk.file == len(fs) {
					left--
				}
			}
		}
	}
	return phones, bw.Flush()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWriteStorm writes a boot storm capture for measuring `phoneboot
// analyze` on a large file (docs/benchmarks.md):
//
//	PHONEBOOT_STORM_PCAP=/tmp/storm.pcap PHONEBOOT_STORM_MB=1024 go test -run TestWriteStorm ./internal/analyze
func TestWriteStorm(t *testing.T) {
	path := os.Getenv("PHONEBOOT_STORM_PCAP")
	if path == "" {
		t.Skip("set PHONEBOOT_STORM_PCAP (and PHONEBOOT_STORM_MB, default 1024) to write a boot storm capture")
	}
	mb, _ := strconv.Atoi(os.Getenv("PHONEBOOT_STORM_MB"))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := writeStorm(f, max(mb, 1024*btoi(mb == 0)))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	t.Logf("%s: %d phones, %d MB", path, n, st.Size()>>20)
}

// TestStorm analyses a small storm: every phone up to date on its own
// files, retransmits counted, memory flat.
func TestStorm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storm.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	phones, err := writeStorm(f, 24)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	res, err := File(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Phones) != phones || res.Malformed != 0 || res.Unattributed != 0 {
		t.Fatalf("%d phones of %d, %d malformed, %d unattributed", len(res.Phones), phones, res.Malformed, res.Unattributed)
	}
	for _, v := range res.Phones {
		if len(v.Events) != 5 || v.Events[4].Outcome != "ok" || v.Events[4].Facts.Retransmits != 10 {
			t.Fatalf("%s: %+v", v.MAC, v.Events)
		}
	}
}

// BenchmarkStorm: MB/s of the analysis of a boot storm
// (PHONEBOOT_STORM_MB megabytes, default 64).
func BenchmarkStorm(b *testing.B) {
	mb, _ := strconv.Atoi(os.Getenv("PHONEBOOT_STORM_MB"))
	mb = max(mb, 64*btoi(mb == 0))
	path := filepath.Join(b.TempDir(), "storm.pcap")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := writeStorm(f, mb); err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	f.Close()
	b.SetBytes(st.Size())
	b.ResetTimer()
	for b.Loop() {
		if _, err := File(path, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "MB-heap-sys")
}
