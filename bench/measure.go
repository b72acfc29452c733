package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is USER_HZ, the unit of the CPU times in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports.
const clockTick = 100

// cgroup is a cgroup v2 directory holding one server and everything it
// forks. Its cpu.stat counts the CPU of children that the server never
// reaps (tftp-hpa forks one per transfer), which /proc cannot see.
type cgroup struct {
	dir string
	fd  *os.File // the directory, for CLONE_INTO_CGROUP
}

// cgroup2Base is where this process's cgroup v2 directory is, or "" when
// there is no usable cgroup2 mount.
func cgroup2Base() string {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	mnt := ""
	for line := range strings.SplitSeq(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "cgroup2" {
			mnt = f[1]
			break
		}
	}
	if mnt == "" {
		return ""
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(self), "\n") {
		if rel, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(mnt, rel)
		}
	}
	return ""
}

func newCgroup(base, name string) (*cgroup, error) {
	if base == "" {
		return nil, errors.New("no cgroup v2 mount")
	}
	dir := filepath.Join(base, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := readCgroupCPU(dir); err != nil {
		os.Remove(dir)
		return nil, err
	}
	fd, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	return &cgroup{dir: dir, fd: fd}, nil
}

func (g *cgroup) cpu() (time.Duration, error) { return readCgroupCPU(g.dir) }

func readCgroupCPU(dir string) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return time.Duration(n) * time.Microsecond, err
		}
	}
	return 0, errors.New("cpu.stat has no usage_usec")
}

// memPeak is memory.peak, which needs the memory controller on the v2
// hierarchy; ok is false where it is not (hybrid v1/v2 hosts).
func (g *cgroup) memPeak() (int64, bool) {
	b, err := os.ReadFile(filepath.Join(g.dir, "memory.peak"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

func (g *cgroup) pids() []int {
	b, err := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// kill ends every process in the cgroup, forked children included.
func (g *cgroup) kill() {
	os.WriteFile(filepath.Join(g.dir, "cgroup.kill"), []byte("1"), 0)
}

// remove deletes the cgroup once its processes are gone, for a bounded time.
func (g *cgroup) remove() error {
	g.fd.Close()
	var err error
	for range 50 {
		if err = os.Remove(g.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		g.kill()
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// removeStaleCgroups deletes empty cgroups left by an earlier run that was
// killed before it could clean up.
func removeStaleCgroups(base string) {
	if base == "" {
		return
	}
	old, _ := filepath.Glob(filepath.Join(base, "phoneboot-bench-*"))
	for _, d := range old {
		os.Remove(d) // fails, harmlessly, while processes remain
	}
}

// procCPU is utime+stime+cutime+cstime of pid: the process, its threads and
// the children it waited for.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'. Field 14 (utime) is then the 12th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, errors.New("short /proc stat")
	}
	var ticks int64
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// procStatus returns a field of /proc/PID/status in bytes (VmHWM, VmRSS).
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			n, _ := strconv.ParseInt(v, 10, 64)
			return n << 10
		}
	}
	return 0
}

// rssOf is the resident set of pid from /proc/PID/statm, in bytes.
func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n * int64(os.Getpagesize())
}

// pssOf is the proportional set size of pid: its RSS with each shared page
// divided among the processes that map it, so that summing over a forking
// server's processes counts its shared pages once.
func pssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			n, _ := strconv.ParseInt(v, 10, 64)
			return n << 10
		}
	}
	return 0
}

// rssSampler tracks the largest memory of a server's processes: RSS for a
// single process, the summed PSS of all of them for a server that forks.
// The kernel keeps a peak (VmHWM) only per process, so the sum can only be
// sampled. Sampling backs off when there are many processes so that it does
// not load the machine it measures.
type rssSampler struct {
	mu   sync.Mutex
	peak int64
	stop chan struct{}
	done chan struct{}
}

func startRSSSampler(pids func() []int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		interval := 100 * time.Millisecond
		for {
			t0 := time.Now()
			var sum int64
			if ps := pids(); len(ps) == 1 {
				sum = rssOf(ps[0])
			} else {
				for _, p := range ps {
					sum += pssOf(p)
				}
			}
			s.mu.Lock()
			s.peak = max(s.peak, sum)
			s.mu.Unlock()
			interval = max(100*time.Millisecond, 20*time.Since(t0))
			select {
			case <-s.stop:
				return
			case <-time.After(interval):
			}
		}
	}()
	return s
}

func (s *rssSampler) finish() int64 {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
