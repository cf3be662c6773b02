package engine

// Kind says what a message on an edge carries.
type Kind uint8

const (
	// Data carries a batch of records.
	Data Kind = iota
	// Watermark carries the sender's watermark.
	Watermark
	// Idle says the sender has no records for now and must not hold event time back.
	Idle
	// End says the sender has finished: no more messages from it.
	End
	// Barrier separates the records before checkpoint Checkpoint from those after it
	// (asynchronous barrier snapshotting, Carbone et al. 2015).
	Barrier
)

// Record is one element with its event time (Unix milliseconds; MinWatermark when it has
// none).
type Record[T any] struct {
	Value T
	Time  int64
}

// Message is what travels on an edge between subtasks. Edges carry batches of records so
// that channel operations, not records, are amortised.
type Message[T any] struct {
	Kind Kind
	// From is the sending subtask, for per-input watermarks and end tracking.
	From      int
	Records   []Record[T]
	Watermark int64
	// Checkpoint is the barrier's checkpoint id.
	Checkpoint int64
}
