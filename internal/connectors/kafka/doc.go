// Package kafka connects jobs to Kafka topics through franz-go: a checkpointed source
// that assigns partitions to subtasks directly (no consumer group), with per-partition
// watermarks and a dead-letter topic for records it cannot decode, and a sink that is
// at-least-once or exactly-once.
//
// # Source positions
//
// Subtask i of p reads partitions i, i+p, ... of the partitions the topic has when the
// job starts. A checkpoint holds, per partition, the next offset to read. Restore is
// given the positions of every subtask of the run that wrote the checkpoint, so a job
// restored at another parallelism picks up each partition where its old owner stopped.
// Start positions (earliest or latest) are resolved to concrete offsets when a subtask
// starts, so a checkpoint taken before the first record still pins the position.
// The source reads with isolation level read_committed.
//
// # Exactly-once sink
//
// franz-go cannot resume a pending Kafka transaction after the process that opened it
// dies, so the sink never keeps a Kafka transaction open across a checkpoint. Instead:
//
//  1. Write stages encoded records in memory.
//  2. PreCommit moves the staged records into the transaction bytes that flow saves in
//     the checkpoint; nothing is sent to Kafka yet.
//  3. Commit, called once the checkpoint completes (and again for the restored
//     checkpoint's transactions after a crash), opens a Kafka transaction with the
//     transactional id "eddy-<sink id>-<subtask>", produces the records together with a
//     marker record to the commit-log topic (key "<sink id>/<subtask>", value the
//     checkpoint id), and commits.
//  4. Before that, Commit reads the commit-log topic (read_committed) up to its last
//     stable offset and skips the transaction if a marker for the same key already holds
//     a checkpoint id ≥ this one. Records and marker commit atomically, so a repeated
//     Commit is a no-op however long after the crash it comes: there is no dedupe window.
//
// Output becomes visible to read_committed consumers one checkpoint interval late.
// Checkpoint ids grow across restores, which is what makes the comparison sound. The
// transaction flow commits when a bounded input ends has no checkpoint id; it takes the
// next id after the last one the writer pre-committed or restored (or after the latest
// marker of its key if it has seen none), so a subtask that ends, crashes and replays
// from the same checkpoint commits the same id twice and the second is skipped.
// Limitation: after a restore at a different parallelism, a subtask that restored no
// transaction and ends before any checkpoint, then crashes and replays, can commit its
// final transaction twice.
//
// Without ExactlyOnce the sink produces on every flush and is at-least-once.
//
// # Dead letters
//
// A record the decoder rejects is produced to the dead-letter topic as a JSON
// DeadLetter with the reason. Dead letters are flushed before a checkpoint's positions
// are taken, so none is lost; a record replayed after a restore can be dead-lettered
// twice (at-least-once).
package kafka
