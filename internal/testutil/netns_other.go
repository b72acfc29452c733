//go:build !linux

package testutil

import "testing"

// Netns needs Linux network namespaces: elsewhere the test is skipped, or
// fails when PHONEBOOT_REQUIRE_INTEROP=1.
func Netns(t testing.TB) *Net {
	t.Helper()
	Unavailable(t, "network namespaces need Linux")
	return nil
}
