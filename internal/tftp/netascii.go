package tftp

import (
	"bytes"
	"errors"
	"io"
)

// Netascii (RFC 764) is sent converted while it is read, never converted
// whole first: LF becomes CR LF and a bare CR becomes CR NUL. A transfer
// holds a 4 KiB buffer of the file and one position per block of its
// window, whatever the file's size, as an octet transfer holds none.

// netasciiChunk is how much of the file a netascii transfer reads at once.
const netasciiChunk = 4096

// netasciiSize is the size of f in netascii, for tsize and the number of
// the last block: one pass that counts the bytes that become two.
func netasciiSize(f File) (int64, error) {
	buf := make([]byte, 32<<10)
	size := f.Size()
	for off := int64(0); off < f.Size(); {
		n, err := f.ReadAt(buf, off)
		size += int64(bytes.Count(buf[:n], []byte{'\n'}) + bytes.Count(buf[:n], []byte{'\r'}))
		off += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if n == 0 {
			return 0, io.ErrUnexpectedEOF // made shorter while counted
		}
	}
	return size, nil
}

// netasciiPos is a place in the conversion: out bytes of netascii have
// been produced from the first in bytes of the file. When split is set,
// the byte at out is the second of a pair (LF of CR LF, NUL of CR NUL)
// whose CR ended the bytes before.
type netasciiPos struct {
	out, in int64
	split   bool
	second  byte
}

// netasciiFile is src in netascii, of size bytes (counted when it was
// opened). Reads are sequential but for a retransmission, which goes back
// to the start of a block read recently: every read's start is kept in a
// ring as long as the window, so going back never converts from the
// beginning again. Not safe for concurrent use: it belongs to one transfer.
type netasciiFile struct {
	src   File
	size  int64
	at    netasciiPos   // where the next sequential read starts
	marks []netasciiPos // where the latest reads started, a ring
	mark  int           // the ring's next slot
	buf   [netasciiChunk]byte
	bufAt int64 // file offset of buf[0]
	bufN  int   // bytes of buf holding the file
}

// newNetascii converts src for a transfer of size netascii bytes that
// sends window blocks before waiting.
func newNetascii(src File, size int64, window int) *netasciiFile {
	return &netasciiFile{src: src, size: size, marks: make([]netasciiPos, window+1)}
}

func (f *netasciiFile) Size() int64  { return f.size }
func (f *netasciiFile) Close() error { return f.src.Close() }

// ReadAt implements io.ReaderAt. It never reads past size, even if the
// file grew; if it shrank, the read ends early with io.EOF.
func (f *netasciiFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("tftp: negative offset")
	}
	if off >= f.size {
		return 0, io.EOF
	}
	if off < f.at.out {
		f.rewind(off)
	}
	var skip [512]byte
	for f.at.out < off {
		if _, err := f.convert(skip[:min(int64(len(skip)), off-f.at.out)]); err != nil {
			return 0, err
		}
	}
	f.marks[f.mark] = f.at
	f.mark = (f.mark + 1) % len(f.marks)
	want := len(p)
	p = p[:min(int64(len(p)), f.size-off)]
	n, err := f.convert(p)
	if err == nil && n < want {
		err = io.EOF
	}
	return n, err
}

// rewind goes back to the latest kept read start at or before off (the
// file's beginning if none is).
func (f *netasciiFile) rewind(off int64) {
	best := netasciiPos{}
	for _, m := range f.marks {
		if m.out <= off && m.out > best.out {
			best = m
		}
	}
	f.at = best
}

// convert fills p with netascii from f.at on and advances f.at. It returns
// io.EOF if the file ends first.
func (f *netasciiFile) convert(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if f.at.split {
			p[n] = f.at.second
			n++
			f.at.out++
			f.at.split = false
			continue
		}
		i := f.at.in - f.bufAt
		if i < 0 || i >= int64(f.bufN) {
			if err := f.load(f.at.in); err != nil {
				return n, err
			}
			i = 0
		}
		chunk := f.buf[i:f.bufN]
		// Copy the run of bytes that stay as they are.
		run := bytes.IndexAny(chunk, "\r\n")
		if run < 0 {
			run = len(chunk)
		}
		k := copy(p[n:], chunk[:run])
		n += k
		f.at.in += int64(k)
		f.at.out += int64(k)
		if n == len(p) || run == len(chunk) {
			continue // p is full, or the chunk is used up
		}
		f.at.second = 0
		if chunk[run] == '\n' {
			f.at.second = '\n'
		}
		p[n] = '\r'
		n++
		f.at.in++
		f.at.out++
		f.at.split = true
	}
	return n, nil
}

// load reads the file's bytes from off into buf.
func (f *netasciiFile) load(off int64) error {
	n, err := f.src.ReadAt(f.buf[:], off)
	f.bufAt, f.bufN = off, n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.EOF
	}
	return err
}

// netasciiUpload undoes netascii on the way in: CR LF becomes LF and CR NUL
// becomes CR. A CR at the end of one block is held until the next.
type netasciiUpload struct {
	Upload
	cr  bool // the previous byte was a CR not yet written
	out bytes.Buffer
}

func (u *netasciiUpload) Write(p []byte) (int, error) {
	u.out.Reset()
	for _, c := range p {
		if u.cr {
			u.cr = false
			switch c {
			case '\n':
				u.out.WriteByte('\n')
				continue
			case 0:
				u.out.WriteByte('\r')
				continue
			default:
				u.out.WriteByte('\r')
			}
		}
		if c == '\r' {
			u.cr = true
			continue
		}
		u.out.WriteByte(c)
	}
	if _, err := u.Upload.Write(u.out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (u *netasciiUpload) Commit() error {
	if u.cr {
		if _, err := u.Upload.Write([]byte{'\r'}); err != nil {
			return err
		}
	}
	return u.Upload.Commit()
}
