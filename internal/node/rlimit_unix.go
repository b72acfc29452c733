//go:build unix

package node

import (
	"fmt"
	"syscall"
)

// ensureFileLimit raises the open-file limit for maxTransfers when it is
// lower: every TFTP transfer holds two sockets while descriptors are
// plentiful, one when they run short. Root may raise the hard limit too.
// It returns what to tell the admin, if anything, and whether that is a
// warning (transfers would be refused) or a note (only ERROR 5 for stray
// datagrams becomes ICMP at very high load).
func ensureFileLimit(maxTransfers uint64) (msg string, warn bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return "", false // cannot tell; transfers past the limit are refused with an error
	}
	full, least := 2*maxTransfers+256, maxTransfers+256
	if lim.Cur >= full {
		return "", false
	}
	want := syscall.Rlimit{Cur: full, Max: max(lim.Max, full)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
		return "", false
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur >= least {
		return fmt.Sprintf("open-file limit is %d: above about %d concurrent transfers, datagrams from wrong ports get ICMP instead of TFTP error 5 (raise it with `ulimit -n %d` or LimitNOFILE=%d for the full behaviour)",
			lim.Cur, (lim.Cur-256)/2, full, full), false
	}
	return fmt.Sprintf("--tftp-max-transfers %d needs at least %d open files and the limit is %d: transfers past about %d will be refused. "+
		"Raise it with `ulimit -n %d` before starting or LimitNOFILE=%d in the systemd unit, or lower --tftp-max-transfers",
		maxTransfers, least, lim.Cur, lim.Cur-256, full, full), true
}
