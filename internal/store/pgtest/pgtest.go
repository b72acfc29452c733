// Package pgtest gives tests a PostgreSQL database of their own: in the
// server PHONEBOOT_TEST_POSTGRES names (a postgres:// URL, as .ci/run
// exports), or else in a throwaway cluster it starts itself when
// PostgreSQL is installed (initdb found), listening on a Unix socket in a
// temporary directory only. Without either, tests that need it skip, or
// fail under PHONEBOOT_REQUIRE_INTEROP=1. A package using it runs its
// tests through Main, which stops the cluster at the end.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Env names the server tests use instead of starting their own.
const Env = "PHONEBOOT_TEST_POSTGRES"

var (
	mu      sync.Mutex
	base    string   // URL of the server's "postgres" database; "" not yet
	why     string   // why there is none, once tried
	cluster string   // directory of the cluster started here
	pgctl   []string // runs pg_ctl on it (as postgres when root), for Stop and Start
	opts    string   // of the server, as start gave them
	stopped bool     // by Stop, not started again yet
)

// Main runs m's tests, then stops the cluster they started, if any.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if cluster != "" {
		stop(cluster)
		cluster = ""
	}
	return code
}

// URL returns the URL of a new, empty database, dropped when t ends; or
// skips t (fails it under PHONEBOOT_REQUIRE_INTEROP=1) when no PostgreSQL
// is at hand.
func URL(t testing.TB) string {
	t.Helper()
	return newDB(t, false)
}

// OwnURL is URL on the cluster pgtest starts itself, even when
// PHONEBOOT_TEST_POSTGRES names a server: for tests that stop and start
// the server (Stop), which must not stop a server they were lent.
func OwnURL(t testing.TB) string {
	t.Helper()
	return newDB(t, true)
}

func newDB(t testing.TB, own bool) string {
	t.Helper()
	b, err := server(own)
	if err != nil {
		if os.Getenv("PHONEBOOT_REQUIRE_INTEROP") == "1" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL: %v", err)
	}
	u, err := url.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	name := fmt.Sprintf("pbtest_%d_%d", os.Getpid(), rand.Uint32())
	admin := open(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("PostgreSQL: creating a test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a connection the test left open does not keep it.
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("PostgreSQL: dropping test database %s: %v", name, err)
		}
		admin.Close()
	})
	u.Path = "/" + name
	return u.String()
}

func open(t testing.TB, u string) *sql.DB {
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// server is the URL of the server's maintenance database, starting a
// cluster the first time if the environment names none.
func server(own bool) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if u := os.Getenv(Env); u != "" && !own {
		return u, nil
	}
	if base == "" && why == "" {
		dir, err := start()
		if err != nil {
			why = err.Error()
		} else {
			cluster = dir
			base = (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
				RawQuery: url.Values{"host": {dir}}.Encode()}).String()
		}
	}
	if why != "" {
		if own {
			return "", fmt.Errorf("%s (install postgresql: this test stops and starts its server)", why)
		}
		return "", fmt.Errorf("%s (set %s to a postgres:// URL, or install postgresql)", why, Env)
	}
	return base, nil
}

// bin finds PostgreSQL's programs: beside initdb on the PATH, or in
// Debian's /usr/lib/postgresql/VERSION/bin.
func bin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", fmt.Errorf("initdb not found")
	}
	return filepath.Dir(found[len(found)-1]), nil
}

// start makes and starts a cluster in a new temporary directory, where
// its socket also is: no TCP port at all. PostgreSQL refuses to run as
// root, so as root it runs as the user postgres.
func start() (string, error) {
	dir, err := bin()
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return "", err
	}
	var prefix []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("running as root and there is no user postgres to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(tmp, uid, gid); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
		prefix = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args = append(prefix, args...)
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", filepath.Base(args[len(prefix)]), err, out)
		}
		return nil
	}
	data := filepath.Join(tmp, "data")
	if err := run(filepath.Join(dir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	// No TCP (listen_addresses empty), the socket in tmp, no fsync: a
	// test cluster's data is thrown away.
	opts = strings.Join([]string{"-k", tmp, "-c", "listen_addresses=", "-F"}, " ")
	pgctl = append(append([]string{}, prefix...), filepath.Join(dir, "pg_ctl"), "-D", data)
	if err := startServer(); err != nil {
		stop(tmp)
		return "", err
	}
	watchdog(tmp, prefix, filepath.Join(dir, "pg_ctl"))
	return tmp, nil
}

// watchdog stops the cluster in dir once this process has ended, however
// it ended: a test binary killed at its timeout never runs Main's stop.
// It is a shell loop in a session of its own, so that a signal to the
// tests' process group does not end it too; it polls once a second, and
// ends when this process has.
func watchdog(dir string, prefix []string, pgctl string) {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	stopCmd := q(pgctl) + " -D " + q(filepath.Join(dir, "data")) + " -m immediate -w -t 30 stop"
	for i := len(prefix) - 1; i >= 0; i-- {
		stopCmd = q(prefix[i]) + " " + stopCmd
	}
	script := fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done
if [ -d %s ]; then %s >/dev/null 2>&1; rm -rf %s; fi`, os.Getpid(), q(dir), stopCmd, q(dir))
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		cmd.Process.Release()
	}
}

// stop stops the cluster in dir, if it runs, and removes dir.
func stop(dir string) {
	data := filepath.Join(dir, "data")
	if b, err := bin(); err == nil {
		args := []string{filepath.Join(b, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "-t", "30", "stop"}
		if os.Geteuid() == 0 {
			args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		exec.CommandContext(ctx, args[0], args[1:]...).Run()
		cancel()
	}
	os.RemoveAll(dir)
}

// Stop stops the cluster pgtest started, as an administrator restarting
// it would (pg_ctl stop -m fast: sessions are ended, transactions in
// flight rolled back), and starts it again when t ends if t has not
// (Start). The database must come from OwnURL (which starts the cluster):
// a server PHONEBOOT_TEST_POSTGRES names is never stopped. A test that
// stops the server must not run in parallel with others using it.
func Stop(t testing.TB) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if cluster == "" {
		t.Fatal("pgtest.Stop: no cluster of pgtest's own runs (take the database from OwnURL)")
	}
	if stopped {
		return
	}
	if err := pgCtl("-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		t.Fatalf("PostgreSQL: stopping: %v", err)
	}
	stopped = true
	t.Cleanup(func() {
		if err := Start(); err != nil {
			t.Errorf("PostgreSQL: starting again: %v", err)
		}
	})
}

// Start starts the cluster Stop stopped again; nothing when it runs.
func Start() error {
	mu.Lock()
	defer mu.Unlock()
	if cluster == "" || !stopped {
		return nil
	}
	if err := startServer(); err != nil {
		return err
	}
	stopped = false
	return nil
}

// startServer starts the server of the cluster, waiting until it
// accepts connections.
func startServer() error {
	dir := filepath.Dir(pgctl[len(pgctl)-1]) // DATA's parent: the cluster's directory
	return pgCtl("-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start")
}

func pgCtl(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append(append([]string{}, pgctl...), args...)
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl: %v\n%s", err, out)
	}
	return nil
}
