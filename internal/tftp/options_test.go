package tftp

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestNegotiate(t *testing.T) {
	lim := Limits{MaxBlksize: 1468, MaxWindowsize: 64, MaxUpload: 1000}
	rrq := func(opts ...Option) Packet { return Packet{Op: OpRRQ, Filename: "f", Mode: ModeOctet, Options: opts} }
	tests := []struct {
		name                string
		req                 Packet
		wantBlk, wantWindow int
		wantTimeout         time.Duration
		wantOACK            []Option
		wantNotes           int
	}{
		{"no options: plain RFC 1350", rrq(), 512, 1, 0, nil, 0},
		{"blksize accepted", rrq(Option{"blksize", "1428"}), 1428, 1, 0, []Option{{"blksize", "1428"}}, 0},
		{"blksize above the cap is lowered (RFC 2348)", rrq(Option{"blksize", "65464"}), 1468, 1, 0, []Option{{"blksize", "1468"}}, 1},
		{"20-digit blksize (tftp-hpa CVE-2011-2199) is lowered, not overflowed", rrq(Option{"blksize", "99999999999999999999"}), 1468, 1, 0, []Option{{"blksize", "1468"}}, 1},
		{"blksize 7 dropped", rrq(Option{"blksize", "7"}), 512, 1, 0, nil, 1},
		{"blksize 0 dropped", rrq(Option{"blksize", "0"}), 512, 1, 0, nil, 1},
		{"blksize not a number dropped", rrq(Option{"blksize", "-5"}), 512, 1, 0, nil, 1},
		{"option names are case-insensitive", rrq(Option{"BlkSize", "1024"}), 1024, 1, 0, []Option{{"BlkSize", "1024"}}, 0},
		{"repeated option: first wins", rrq(Option{"blksize", "1024"}, Option{"BLKSIZE", "8"}), 1024, 1, 0, []Option{{"blksize", "1024"}}, 1},
		{"windowsize capped", rrq(Option{"windowsize", "65535"}), 512, 64, 0, []Option{{"windowsize", "64"}}, 1},
		{"windowsize 0 dropped", rrq(Option{"windowsize", "0"}), 512, 1, 0, nil, 1},
		{"windowsize 65536 capped", rrq(Option{"windowsize", "65536"}), 512, 64, 0, []Option{{"windowsize", "64"}}, 1},
		{"timeout echoed exactly (RFC 2349)", rrq(Option{"timeout", "3"}), 512, 1, 3 * time.Second, []Option{{"timeout", "3"}}, 0},
		{"timeout 0 dropped", rrq(Option{"timeout", "0"}), 512, 1, 0, nil, 1},
		{"timeout 256 dropped", rrq(Option{"timeout", "256"}), 512, 1, 0, nil, 1},
		{"tsize answered with the size", rrq(Option{"tsize", "0"}), 512, 1, 0, []Option{{"tsize", "4242"}}, 0},
		{"tsize 'enable' (atftp) treated as 0", rrq(Option{"tsize", "enable"}), 512, 1, 0, []Option{{"tsize", "4242"}}, 1},
		{"unknown option omitted and noted (RFC 2347)", rrq(Option{"utimeout", "100"}, Option{"blksize", "1024"}), 1024, 1, 0, []Option{{"blksize", "1024"}}, 1},
		{"all options together with blksize 8 (atftpd CVE-2021-41054)",
			rrq(Option{"blksize", "8"}, Option{"tsize", "0"}, Option{"timeout", "3"}, Option{"windowsize", "16"}),
			8, 16, 3 * time.Second, []Option{{"blksize", "8"}, {"tsize", "4242"}, {"timeout", "3"}, {"windowsize", "16"}}, 0},
		{"truncated last option dropped", Packet{Op: OpRRQ, Options: []Option{{"blksize", "1024"}, {"tsize", ""}}, Truncated: true},
			1024, 1, 0, []Option{{"blksize", "1024"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Negotiate(tt.req, 4242, lim)
			if err != nil {
				t.Fatal(err)
			}
			if p.Blksize != tt.wantBlk || p.Windowsize != tt.wantWindow || p.Timeout != tt.wantTimeout {
				t.Errorf("params = blksize %d window %d timeout %v", p.Blksize, p.Windowsize, p.Timeout)
			}
			if !equalOptions(p.OACK, tt.wantOACK) {
				t.Errorf("OACK = %v, want %v", p.OACK, tt.wantOACK)
			}
			if len(p.Notes) != tt.wantNotes {
				t.Errorf("notes = %q, want %d", p.Notes, tt.wantNotes)
			}
			// Whatever was asked, the OACK fits one datagram of the
			// smallest block size's request limit.
			if n := len(AppendOACK(nil, p.OACK)); n > 512 {
				t.Errorf("OACK is %d bytes", n)
			}
		})
	}
}

func TestNegotiateUploadLimit(t *testing.T) {
	wrq := Packet{Op: OpWRQ, Filename: "f", Mode: ModeOctet, Options: []Option{{"tsize", "5000"}}}
	_, err := Negotiate(wrq, 0, Limits{MaxUpload: 1000})
	var te *Error
	if !errors.As(err, &te) || te.Code != ErrDiskFull {
		t.Fatalf("oversized WRQ tsize: err = %v, want error 3", err)
	}
	wrq.Options[0].Value = "500"
	p, err := Negotiate(wrq, 0, Limits{MaxUpload: 1000})
	if err != nil || p.Tsize != 500 || !equalOptions(p.OACK, []Option{{"tsize", "500"}}) {
		t.Fatalf("WRQ tsize 500: %+v %v", p, err)
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1428": 1428, "99999999999999999999999": 1 << 62} {
		if got, ok := parseCount(in); !ok || got != want {
			t.Errorf("parseCount(%q) = %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-1", "1e3", " 12", "0x10", "12a"} {
		if _, ok := parseCount(in); ok {
			t.Errorf("parseCount(%q) accepted", in)
		}
	}
}

// TestNegotiateNotesBounded (issue 12, finding 11): 21,000 empty options
// make MaxNotes notes and one that counts the rest, not 21,000; so does a
// refused WRQ whose tsize comes after them.
func TestNegotiateNotesBounded(t *testing.T) {
	opts := make([]Option, 21000)
	// 21,000 notes of empty options; the RRQ's tsize makes one more.
	for op, more := range map[Opcode]int{OpRRQ: 21001 - MaxNotes, OpWRQ: 21000 - MaxNotes} {
		req := Packet{Op: op, Filename: "f", Mode: ModeOctet, Options: append(opts, Option{"tsize", "5000"})}
		p, err := Negotiate(req, 0, Limits{MaxUpload: 1000})
		if (op == OpWRQ) != (err != nil) {
			t.Errorf("%s: err = %v", op, err)
		}
		want := fmt.Sprintf("… and %d more options dropped or changed, not listed", more)
		if len(p.Notes) != MaxNotes+1 || p.Notes[MaxNotes] != want {
			t.Errorf("%s: %d notes, last %q; want %d, %q", op, len(p.Notes), p.Notes[len(p.Notes)-1], MaxNotes+1, want)
		}
	}
}

// TestClip: a logged name or error is cut on a character boundary and
// says how long it was.
func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 8, "short"},
		{"exactly8", 8, "exactly8"},
		{"0123456789", 4, "0123…[10 bytes]"},
		{"abé", 3, "ab…[4 bytes]"}, // é is 2 bytes: never half of it
	} {
		if got := clip(c.in, c.n); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
