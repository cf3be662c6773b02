// Package nexmarkbench runs the Nexmark queries as flow jobs and measures them: events/s,
// events/s per core and end-to-end latency, reading either the generator in memory or an
// eddy stream of JSON-encoded events, as `eddy bench nexmark` prints them.
//
// The query builders (Q0 … Q12) take the event stream of a job and return the query's
// result stream, whose rows are those of package nexmark's reference queries, so a test
// can sort an engine run's rows and compare them with the brute-force answer.
//
// # The event rate
//
// The generator's event times advance by one second per Rate events. The default,
// 1 million, makes 10 million events span 10 s of event time, as the 100 million events
// of the published runs do at their 10 million a second; so windows and timers fire
// during the run, and with throughput near a million events a second event time
// advances about as fast as the wall clock, as in a live deployment.
//
// # End-to-end latency
//
// A result's latency is the wall-clock time at which it reached the sink minus the
// wall-clock time at which the sources first emitted an event whose event time is at or
// after the result's: the moment the input first held the result's time. Results made
// from one event in the source subtask that read it (q0, q1, q2) count from when that
// subtask reached their time, since nothing keeps unconnected source subtasks in step
// and the drift between them is no delay of the result. Window and timer results (q4,
// q5, q7, q11) carry the last millisecond of their window or the timer's time, so their
// latency includes waiting for the watermark to pass it: for the sources to reach an
// event time the out-of-orderness bound later. For them the report also gives the 99th
// percentile measured from when every source subtask had reached that later time, when
// the watermark could first pass: the engine's own delay. Results whose time the input
// never reaches fire when it ends and count from the end of the last source subtask.
// Event times are milliseconds, so results are charged from the first event of their
// millisecond. Processing-time results (q12) count from the wall-clock end of their
// window, and never below zero: a bounded run flushes the open windows early.
//
// The sources note, per slot of event time, when each subtask first reached it: one
// compare per event and an atomic store per slot. Sinks time one result in
// Query.sampleEvery and record it in a histogram; neither allocates.
package nexmarkbench
