package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ErrNoCapability is what Listen returns (wrapped) when the process may
// not open raw sockets.
var ErrNoCapability = errors.New("needs the CAP_NET_RAW capability: run phoneboot as root, or give it that once: sudo setcap cap_net_raw+ep $(command -v phoneboot)")

// Conn is an interface opened for CDP and LLDP: an AF_PACKET socket that
// has joined both multicast groups (no promiscuous mode) and lets only
// frames to those groups through (a BPF filter: the kernel drops the
// rest of the interface's traffic before phoneboot sees it).
type Conn struct {
	Iface *net.Interface
	c     *packet.Conn
}

// Listen opens ifname for CDP and LLDP.
func Listen(ifname string) (*Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("interface %q: no such interface (ip link shows them)", ifname)
	}
	// ETH_P_ALL, not ETH_P_LLDP: CDP is 802.3 length-framed, with no
	// EtherType to ask for.
	c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("opening %s for CDP/LLDP %w", ifname, ErrNoCapability)
		}
		return nil, fmt.Errorf("opening %s for CDP/LLDP: %v", ifname, err)
	}
	conn := &Conn{Iface: ifi, c: c}
	if err := conn.setup(); err != nil {
		c.Close()
		return nil, fmt.Errorf("opening %s for CDP/LLDP: %v", ifname, err)
	}
	return conn, nil
}

func (c *Conn) setup() error {
	prog, err := bpf.Assemble(groupFilter())
	if err != nil {
		return err
	}
	if err := c.c.SetBPF(prog); err != nil {
		return fmt.Errorf("setting the frame filter: %w", err)
	}
	for _, g := range [][6]byte{CDPGroup, LLDPGroup} {
		if err := c.c.JoinGroup(net.HardwareAddr(g[:])); err != nil {
			return fmt.Errorf("joining multicast group %s: %w", net.HardwareAddr(g[:]), err)
		}
	}
	return nil
}

// groupFilter accepts a frame whose destination is the CDP or the LLDP
// group, up to 1600 bytes of it, unless this host sent it (an AF_PACKET
// socket sees outgoing frames too: the announcer's, a test's).
func groupFilter() []bpf.Instruction {
	const outgoing = 4 // PACKET_OUTGOING
	return []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: outgoing, SkipTrue: 8},
		bpf.LoadAbsolute{Off: 0, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x01000ccc, SkipFalse: 2},
		bpf.LoadAbsolute{Off: 4, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xcccc, SkipTrue: 3, SkipFalse: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0180c200, SkipFalse: 3},
		bpf.LoadAbsolute{Off: 4, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x000e, SkipFalse: 1},
		bpf.RetConstant{Val: 1600},
		bpf.RetConstant{Val: 0},
	}
}

// Deaf makes the kernel keep no frame for c: a socket that only sends
// must not fill its receive buffer with what it never reads.
func (c *Conn) Deaf() error {
	prog, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return err
	}
	return c.c.SetBPF(prog)
}

// Close leaves the groups and closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// Frame is one frame heard, at Time.
type Frame struct {
	Time time.Time
	Data []byte
}

// Read returns the next frame to the groups, until ctx is done. Frames
// the host itself sent (the announcer's) are skipped: an AF_PACKET
// socket sees outgoing frames too.
func (c *Conn) Read(ctx context.Context, buf []byte) (Frame, error) {
	stop := context.AfterFunc(ctx, func() { c.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		n, _, err := c.c.ReadFrom(buf)
		if ctx.Err() != nil {
			return Frame{}, ctx.Err()
		}
		if err != nil {
			return Frame{}, err
		}
		if n >= 12 && string(buf[6:12]) == string(c.Iface.HardwareAddr) {
			continue
		}
		return Frame{Time: time.Now(), Data: buf[:n]}, nil
	}
}

// Send writes frame (built by EncodeCDP or EncodeLLDP) to its group.
func (c *Conn) Send(frame []byte) error {
	if len(frame) < 14 {
		return errors.New("frame too short")
	}
	c.c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := c.c.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(frame[0:6])})
	return err
}
