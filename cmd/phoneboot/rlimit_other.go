//go:build !unix

package main

func ensureFileLimit(uint64) error { return nil }
