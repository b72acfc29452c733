package stale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// Mark is what ends the label of every address phoneboot adds: the
// interface's name, then ":pb" ("eth0:pb"). `ip addr show label eth0:pb`
// lists them; at start, any left behind (a crash, a kill -9) are removed.
const Mark = ":pb"

// maxLabel is the longest address label the kernel keeps (IFNAMSIZ-1).
const maxLabel = 15

// Addrs adds and removes phoneboot's addresses on one interface with
// iproute2's `ip`, rather than hand-packed netlink messages: each step is
// the command an admin would type to see or undo it (logged as such), the
// kernel's refusals come back in iproute2's words, and the code stays a
// few lines. iproute2 is on every Linux machine phoneboot is meant for;
// without it --answer-stale says so and the rest of phoneboot runs.
type Addrs struct {
	Iface string
	IP    string // path of `ip`
}

// NewAddrs finds `ip` and checks that iface's name leaves room for the mark.
func NewAddrs(iface string) (*Addrs, error) {
	if len(iface)+len(Mark) > maxLabel {
		return nil, fmt.Errorf("interface name %q is too long to mark phoneboot's addresses (at most %d characters)", iface, maxLabel-len(Mark))
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return nil, errors.New("iproute2's ip command is not installed (apt-get install iproute2)")
	}
	return &Addrs{Iface: iface, IP: ip}, nil
}

// Label is the label of phoneboot's addresses on the interface.
func (a *Addrs) Label() string { return a.Iface + Mark }

// Entry is one address on the interface: Local, and Peer when it was added
// with a peer (a host route to Peer through the interface, which goes
// away with the address).
type Entry struct {
	Local netip.Addr
	Peer  netip.Addr // invalid: none
	Label string
}

func (e Entry) prefix() []string {
	args := []string{netip.PrefixFrom(e.Local, 32).String()}
	if e.Peer.IsValid() {
		args = append(args, "peer", netip.PrefixFrom(e.Peer, 32).String())
	}
	return args
}

// Add puts e on the interface with phoneboot's label.
func (a *Addrs) Add(ctx context.Context, e Entry) error {
	return a.run(ctx, append(append([]string{"addr", "add"}, e.prefix()...), "dev", a.Iface, "label", a.Label())...)
}

// Del removes e from the interface.
func (a *Addrs) Del(ctx context.Context, e Entry) error {
	return a.run(ctx, append(append([]string{"addr", "del"}, e.prefix()...), "dev", a.Iface)...)
}

// List returns the interface's IPv4 addresses.
func (a *Addrs) List(ctx context.Context) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, a.IP, "-j", "-4", "addr", "show", "dev", a.Iface).Output()
	if err != nil {
		return nil, a.explain([]string{"-j", "-4", "addr", "show", "dev", a.Iface}, fmt.Errorf("%w", err))
	}
	var links []struct {
		AddrInfo []struct {
			Local   string `json:"local"`
			Address string `json:"address"`
			Label   string `json:"label"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("reading `ip -j addr show dev %s`: %w", a.Iface, err)
	}
	var es []Entry
	for _, l := range links {
		for _, ai := range l.AddrInfo {
			local, err := netip.ParseAddr(ai.Local)
			if err != nil {
				continue
			}
			e := Entry{Local: local, Label: ai.Label}
			if p, err := netip.ParseAddr(ai.Address); err == nil && p != local {
				e.Peer = p
			}
			es = append(es, e)
		}
	}
	return es, nil
}

// Leftovers removes every address carrying phoneboot's mark and returns
// them.
func (a *Addrs) Leftovers(ctx context.Context) ([]Entry, error) {
	es, err := a.List(ctx)
	if err != nil {
		return nil, err
	}
	var gone []Entry
	for _, e := range es {
		if e.Label != a.Label() {
			continue
		}
		if err := a.Del(ctx, e); err != nil {
			return gone, err
		}
		gone = append(gone, e)
	}
	return gone, nil
}

func (a *Addrs) run(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, a.IP, args...).CombinedOutput(); err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "Operation not permitted") {
			return fmt.Errorf("`ip %s`: %w", strings.Join(args, " "), ErrNoPermission)
		}
		return a.explain(args, errors.New(msg))
	}
	return nil
}

func (a *Addrs) explain(args []string, err error) error {
	return fmt.Errorf("`ip %s` failed: %w", strings.Join(args, " "), err)
}
