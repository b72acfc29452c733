// Package testutil holds helpers shared by phoneboot's tests.
package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// RequireInterop reports whether interop tests must run: CI sets
// PHONEBOOT_REQUIRE_INTEROP=1 so that a missing third-party tool fails the
// run instead of silently skipping the test.
func RequireInterop() bool { return os.Getenv("PHONEBOOT_REQUIRE_INTEROP") == "1" }

// Tool returns the path of a third-party program a test talks to. When it
// is missing the test is skipped on a developer machine and fails in CI.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if RequireInterop() {
		t.Fatalf("%s is not installed and PHONEBOOT_REQUIRE_INTEROP=1 (install it as .ci/run does)", name)
	}
	t.Skipf("%s is not installed; skipping (set PHONEBOOT_REQUIRE_INTEROP=1 to make this a failure)", name)
	return ""
}

// ToolAt is Tool for a program outside PATH (tftpd-hpa is unpacked under
// /opt because its package conflicts with atftpd's).
func ToolAt(t testing.TB, path string) string {
	t.Helper()
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return path
	}
	if RequireInterop() {
		t.Fatalf("%s is missing and PHONEBOOT_REQUIRE_INTEROP=1 (install it as .ci/run does)", path)
	}
	t.Skipf("%s is missing; skipping (set PHONEBOOT_REQUIRE_INTEROP=1 to make this a failure)", path)
	return ""
}

// Unavailable says that something a test needs is missing: the test is
// skipped on a developer machine and fails when PHONEBOOT_REQUIRE_INTEROP=1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if RequireInterop() {
		t.Fatalf("%s and PHONEBOOT_REQUIRE_INTEROP=1", why)
	}
	t.Skipf("%s; skipping (set PHONEBOOT_REQUIRE_INTEROP=1 to make this a failure)", why)
}

// IPv6Loopback makes sure ::1 can be used: without it the test is
// skipped, or fails when PHONEBOOT_REQUIRE_INTEROP=1.
func IPv6Loopback(t testing.TB) {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		Unavailable(t, "IPv6 loopback ::1 is not available (%v)", err)
		return
	}
	c.Close()
}
