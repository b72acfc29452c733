// Package testutil holds helpers shared by phoneboot's tests.
package testutil

import (
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
