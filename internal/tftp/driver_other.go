//go:build !linux

package tftp

func newDriver(s *Server) driver { return goroutineDriver{s: s} }
