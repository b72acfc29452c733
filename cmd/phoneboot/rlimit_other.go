//go:build !unix

package main

func ensureFileLimit(uint64) (string, bool) { return "", false }
