// Package checkpointbench measures flow's checkpoints of keyed state, with the heap or
// the Pebble state backend, as `eddy bench checkpoint` prints them: how long a checkpoint
// takes, how long it stops a subtask from processing (the pause), how many bytes it
// writes (and, after 1% of the keys changed, how few an incremental Pebble checkpoint
// writes), how much it slows the record stream down against a baseline run of the same
// job without checkpoints, and how long a new run takes to restore the latest checkpoint
// and process a record again.
//
// # The job
//
// One source subtask feeds one keyed operator holding a ValueState[[]byte] per key. The
// source first writes keys 0..N-1 once (the fill), then emits events as fast as the job
// takes them, each looking up a scattered key, with updates of 1% of the keys per second
// mixed in: a large state that changes slowly under a busy stream. The keyed operator
// makes the values itself, so the exchange carries 16-byte records whatever the value
// size.
//
// # The phases
//
// Each backend and state size runs the job three times, one after the other, so that
// only one copy of the state is ever in memory:
//
//  1. the baseline: no checkpoints. After the fill, a full GC, then the heap in use is
//     read from runtime.MemStats (the state's heap) and events are counted for Duration.
//  2. the same with checkpoints every Interval to a file:// flow.BlobStore, triggered
//     by the harness (Job.Checkpoint) once the fill was processed. After the fill, a
//     full GC, then events are counted for Duration, or longer until three
//     checkpoints have completed. Then the incremental measurement: the steady updates
//     stop (with Pebble, until the compactions they set off have ended), a checkpoint
//     is taken, and three times 1% of the keys (distinct ones) are updated and, once
//     they are processed, another checkpoint is taken. The first checkpoint after
//     the fill writes the whole state with either backend; the last writes the whole
//     state again with the heap backend, and with Pebble only the SST files written
//     since the one before (the memtable flushed at the barrier, and what compactions
//     rewrote).
//  3. a new run of the job, restoring the latest complete checkpoint: recovery is timed
//     from the call of flow.Run to the first record a keyed subtask processes, and the
//     next events check that their keys have values.
//
// flow has no way to start checkpoints part way through a job, so the baseline is a run
// of its own rather than a phase of the checkpointing run.
//
// With Pebble, each phase waits after the fill, with the steady updates paused, until
// no compaction runs (flow's status shows them): a fill at full speed leaves the
// compactions far behind, and until they catch up reads look through many files. The
// report gives that wait beside the fill time.
//
// # Memory
//
// Pebble state lives on disk, under the same directory as the checkpoints; its memory
// is a few memtables and block caches. The rest of this section is about heap state.
//
// A checkpoint of the heap state holds, while it is taken and written, about three
// times the state's heap, and with the default GOGC the runtime lets garbage grow to as
// much again. Run sets Go's soft memory limit to half of the memory available when it
// starts, and refuses a state whose live heap is not expected to fit under it.
package checkpointbench
