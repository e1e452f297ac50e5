package signal

// tracing reports whether Options.Trace is set. Callers whose trace arguments cost something to
// build (String() of URIs, boxing into ...any) check it first: the plain path then builds nothing.
func (s *Server) tracing() bool { return s.opts.Trace != nil }
