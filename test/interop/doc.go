// Package interop runs real third-party TFTP clients (curl, tftp-hpa,
// atftp, busybox tftp) against phoneboot's TFTP server in the test process,
// over loopback sockets. A missing client skips its test on a developer
// machine and fails in CI (PHONEBOOT_REQUIRE_INTEROP=1, see
// internal/testutil).
package interop
