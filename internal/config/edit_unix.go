//go:build unix && !aix

package config

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock on f without waiting; false when
// another open file holds it (flock locks are per open file, so this
// also keeps goroutines of one process apart).
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		}
		return false, err
	}
}

// keepOwner gives f old's owner and group. Root can; another user only
// when the owner is itself and the group one of its own. Otherwise the
// edit is refused (*ownerError): renaming a copy owned by whoever ran
// phones add over the file would hand them, or take from its owner, a
// file with SIP passwords.
func keepOwner(f *os.File, old fs.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	uid, gid := int(st.Uid), int(st.Gid)
	if mine, err := f.Stat(); err == nil {
		if s, ok := mine.Sys().(*syscall.Stat_t); ok && int(s.Uid) == uid && int(s.Gid) == gid {
			return nil
		}
	}
	if f.Chown(uid, gid) != nil {
		return &ownerError{old: owner(uid, gid), us: owner(os.Geteuid(), os.Getegid())}
	}
	return nil
}

// owner is "user:group" by name where known, else by number.
func owner(uid, gid int) string {
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return u + ":" + g
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
