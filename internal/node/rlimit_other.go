//go:build !unix

package node

func ensureFileLimit(uint64) (string, bool) { return "", false }
