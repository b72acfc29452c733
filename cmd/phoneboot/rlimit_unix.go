//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// ensureFileLimit raises the open-file limit to need when it is lower:
// every TFTP transfer holds two sockets (one when descriptors run short). Root may raise the hard limit too;
// anyone else gets a message saying how to do it.
func ensureFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // cannot tell; transfers past the limit are refused with an error
	}
	if lim.Cur >= need {
		return nil
	}
	want := lim
	want.Cur = need
	want.Max = max(lim.Max, need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return nil
	}
	want.Cur, want.Max = lim.Max, lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	return fmt.Errorf("--tftp-max-transfers wants %d open files and the limit is %d: when many transfers run, "+
		"datagrams from wrong ports are answered with ICMP instead of TFTP error 5, and near the limit new transfers are refused. "+
		"Raise it with `ulimit -n %d` before starting or LimitNOFILE=%d in the systemd unit",
		need, want.Cur, need, need)
}
