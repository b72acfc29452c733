package store

// Written is how many events the Writer has stored.
func (w *Writer) Written() uint64 { return w.written.Load() }

// Lost is how many events were in batches the store refused (the error
// is logged); they are neither Written nor Dropped.
func (w *Writer) Lost() uint64 { return w.lost.Load() }

// WriterStats are a Writer's counters.
type WriterStats struct {
	Written uint64 // stored
	Dropped uint64 // the queue was full (or the Writer closed)
	Limited uint64 // over the per-phone rate limit
	Lost    uint64 // in a batch the store refused
	Outage  uint64 // no room in the queue while the store was unreachable
	Down    bool   // the store cannot be reached now
}

// Stats returns the Writer's counters now.
func (w *Writer) Stats() WriterStats {
	return WriterStats{Written: w.Written(), Dropped: w.Dropped(), Limited: w.Limited(), Lost: w.Lost(),
		Outage: w.Outage(), Down: w.Down()}
}
