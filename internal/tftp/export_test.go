package tftp

// UseGoroutineDriver makes s run its transfers on the portable driver (the
// one non-Linux systems use) instead of the platform's, for the external
// tests in package tftp_test.
func UseGoroutineDriver(s *Server) { s.drv = goroutineDriver{s: s} }
