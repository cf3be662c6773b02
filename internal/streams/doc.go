// Package streams is eddy's streams service: durable, sharded, replayable streams of
// records with a retention window, stored in NATS JetStream.
//
// The record, not the JetStream message, is the unit of the API. Each eddy stream is one
// JetStream stream; each shard is one subject in it. A shard's writer coalesces the
// records of concurrent puts into one message (a record batch, see docs/formats.md), so
// one fsync covers many records. A record's sequence number combines the message's
// JetStream sequence with the record's index in the batch, which keeps sequence numbers
// increasing within a shard and lets a reader seek to any record with one lookup.
// Retention is JetStream's MaxAge; records of one batch arrive, and expire, together.
package streams
