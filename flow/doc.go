// Package flow is eddy's API for writing stream-processing jobs in Go, after Apache
// Flink's model: sources produce records with event times and watermarks; records flow
// through operators (Map, Filter, KeyBy, keyed process functions with state and timers,
// windows) to sinks; each operator runs as one or more parallel subtasks connected by
// bounded channels, so a slow operator slows its producers down instead of growing memory.
//
// A job is built once and then run:
//
//	job := flow.NewJob("totals")
//	bids := flow.FromSlice(job, "bids", bids, flow.SourceOptions[Bid]{Timestamp: func(b Bid) int64 { return b.Time }})
//	perAuction := flow.KeyBy(bids, func(b Bid) int64 { return b.Auction })
//	counts := flow.WindowAggregate(perAuction, "count", flow.Tumbling(10*time.Second), flow.Count[Bid](), flow.WindowOptions[Bid]{})
//	out := flow.Collect(counts)
//	err := flow.Run(ctx, job)
//
// Keyed state is partitioned by key group (maxParallelism groups, 128 by default), so a
// job's state can later be restored at another parallelism.
//
// Keyed state lives in the job's state backend (JobOptions.StateBackend): the heap
// (HeapBackend, the default), or a Pebble store per keyed subtask on local disk
// (PebbleBackend) for state larger than memory, whose checkpoints upload only the SST
// files written since the previous one. The state API is the same with both.
//
// Operators chain: Map, Filter, FlatMap and sinks run in the goroutine of the operator
// that feeds them; keyed operators receive their input through a hash-partitioned
// exchange of batches.
package flow
