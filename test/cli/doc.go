// Package cli tests the phoneboot command as a user runs it: the binary is
// built once, started as a real process, talked to over loopback TFTP, and
// stopped with real signals.
package cli
