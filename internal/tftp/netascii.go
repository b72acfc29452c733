package tftp

import (
	"bytes"
	"io"
	"phoneboot/internal/files"
)

// maxNetascii bounds the files converted to netascii in memory. Phones
// fetch their files in octet mode; netascii is for people with old clients.
const maxNetascii = 16 << 20

// toNetascii converts f to netascii (RFC 764): LF becomes CR LF and a bare
// CR becomes CR NUL. The result is in memory so that its size is known for
// tsize before the first block.
func toNetascii(f File) (File, error) {
	if f.Size() > maxNetascii {
		return nil, Errorf(ErrUndefined, "file too large for netascii mode (%d bytes, limit %d): use octet (binary) mode", f.Size(), maxNetascii)
	}
	raw, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(raw)+len(raw)/16)
	for _, c := range raw {
		switch c {
		case '\n':
			out = append(out, '\r', '\n')
		case '\r':
			out = append(out, '\r', 0)
		default:
			out = append(out, c)
		}
	}
	return files.Bytes(out), nil
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
