// Package wal is the write-ahead log of the tables' memory tier: every accepted write to a
// table is appended here and acknowledged only once it is durable, and after a crash the
// memory tier is rebuilt by replaying it. Each table has its own log in its own directory.
//
// # Group commit
//
// Append copies the entry into a queue and waits. One writer goroutine per log takes
// everything queued, writes it with one write call, fsyncs once and releases all the
// waiters together, so the cost of an fsync is shared by every entry that arrived while
// the previous one ran. The queue is bounded (Options.MaxPending bytes): a full queue
// blocks Append, it never grows without bound.
//
// # Failures
//
// A failed write or fsync fails every Append waiting on it and every later one: the log
// refuses appends until it is reopened. After a failed fsync the kernel may have dropped
// the dirty pages and marked them clean, so a retry that "succeeds" proves nothing (the
// lesson PostgreSQL learned as "fsyncgate", 2018); only reading the files again after a
// restart tells what is really on disk.
//
// # Recovery
//
// Open finds the end of the log by reading the last segment. A torn tail there (a frame
// cut short, a checksum that does not match, zeros where a frame should start) is what a
// crash in the middle of a write leaves, and is truncated away; nothing in it was
// acknowledged, since an entry is acknowledged only after its write (and fsync) returned.
// Earlier segments were complete and synced before the next one was created, so damage in
// them is corruption: Replay reports it as a *CorruptError naming the file and offset
// rather than skip entries. Open checks the headers of earlier segments but leaves their
// frames to Replay, so recovery reads the log once.
//
// # On-disk format, version 1
//
// A log is a directory of segment files named by their number, 20 decimal digits with
// leading zeros and the suffix ".wal" (00000000000000000001.wal). Numbers start at 1 and
// are consecutive; RemoveSegmentsBefore deletes a prefix of them. Other files in the
// directory are ignored. A new segment is started once the current one has reached
// Options.SegmentSize, and the entries of one AppendBatch always share a segment, so a
// segment exceeds that size by at most one batch.
//
// A segment starts with a 12-byte header:
//
//	offset  size  field
//	0       8     magic, the ASCII bytes "EDDYWAL1"
//	8       4     format version, uint32 little-endian, 1
//
// followed by frames, one per entry, back to back up to the end of the file:
//
//	offset  size  field
//	0       4     n, the payload length in bytes, uint32 little-endian, 1 ≤ n ≤ MaxEntrySize
//	4       4     CRC-32C (Castagnoli polynomial) of the payload, uint32 little-endian
//	8       n     payload, opaque to this package
//
// There is no padding and no trailer. An entry's position (Pos) is its segment number and
// the byte offset of its frame in that file; the first frame of a segment is at offset 12.
// A length of zero is never written, so a zero-filled tail reads as torn, not as entries.
//
// A new segment is created with its header, fsynced, and the directory fsynced, before
// any frame is written to it; the previous segment is fsynced before that. Hence only the
// last segment can end in a torn frame, and a last segment no longer than a header whose
// header is torn or zeroed holds no frame and is started again.
package wal
