// Package config holds the eddy server's settings and loads them from
// command-line flags, EDDY_* environment variables, a YAML file and defaults,
// in that order of precedence.
//
// One table (settings.go) defines every setting's name, help and default, so
// the flags, the environment variable names, the config file keys and the
// README's configuration reference cannot drift apart.
package config

import (
	"time"
)

// Values accepted by Config.Fsync.
const (
	// FsyncAlways syncs every write to disk before acknowledging it.
	FsyncAlways = "always"
	// FsyncEveryInterval syncs on a timer (Config.FsyncInterval), trading the
	// last interval of writes on power loss for throughput.
	FsyncEveryInterval = "interval"
)

// Config is every setting of the eddy server. Its zero value is not useful;
// start from Default or Load.
type Config struct {
	// DataDir is where eddy stores everything: streams, state, tokens.
	DataDir string
	// HTTPAddr is the listen address of the HTTP API.
	HTTPAddr string
	// PGAddr is the listen address of the PostgreSQL wire protocol; empty serves none.
	PGAddr string
	// NATSURL is empty to run NATS JetStream embedded, otherwise the
	// comma-separated URLs of an external NATS cluster.
	NATSURL string
	// NATSCreds is an optional credentials file for the external cluster.
	NATSCreds string
	// Fsync is FsyncAlways or FsyncEveryInterval.
	Fsync string
	// FsyncInterval is how often to sync when Fsync is FsyncEveryInterval.
	FsyncInterval time.Duration
	// MaxStore limits the JetStream file store; 0 means StoreLimit decides
	// from the free disk space at start.
	MaxStore ByteSize
	// MaxMemory limits the JetStream memory store.
	MaxMemory ByteSize
	// Replicas is how many replicas each stream has on an external cluster.
	Replicas int
	// DedupeWindow is how long producer record ids are remembered.
	DedupeWindow time.Duration
	// DedupeMaxIDs caps the remembered record ids per stream.
	DedupeMaxIDs int
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string
	// ShutdownTimeout bounds how long a graceful shutdown may take.
	ShutdownTimeout time.Duration
	// CheckpointURL is where jobs keep checkpoints; empty means a directory in DataDir.
	CheckpointURL string
	// CheckpointInterval is how often jobs checkpoint.
	CheckpointInterval time.Duration
	// RestartStrategy and RestartDelay decide how a failed job starts again.
	RestartStrategy string
	RestartDelay    time.Duration
	// StateBackend is where hosted jobs keep keyed state: heap or pebble.
	StateBackend string
	// TablesMagneticURL is the bucket of the tables' magnetic tier; empty means a
	// directory in DataDir.
	TablesMagneticURL string
	// TieringInterval is how often tables move aged rows to the magnetic tier, drop
	// expired partitions and compact.
	TieringInterval time.Duration
	// SQLMemoryLimit bounds DuckDB's memory; 0 leaves DuckDB's default.
	SQLMemoryLimit ByteSize
	// QueryMaxTimeout caps the timeout a SQL query may ask for.
	QueryMaxTimeout time.Duration
}

// Default returns the settings eddy uses when nothing overrides them.
func Default() Config {
	return Config{
		DataDir:            "./eddy-data",
		HTTPAddr:           "127.0.0.1:7070",
		Fsync:              FsyncAlways,
		FsyncInterval:      time.Second,
		MaxMemory:          256 << 20,
		Replicas:           1,
		DedupeWindow:       2 * time.Minute,
		DedupeMaxIDs:       1_000_000,
		LogLevel:           "info",
		LogFormat:          "text",
		ShutdownTimeout:    30 * time.Second,
		CheckpointInterval: 10 * time.Second,
		RestartStrategy:    "exponential-backoff",
		RestartDelay:       time.Second,
		StateBackend:       "heap",
		TieringInterval:    time.Minute,
		QueryMaxTimeout:    10 * time.Minute,
	}
}

// Embedded reports whether eddy runs NATS JetStream in-process rather than
// connecting to an external cluster.
func (c Config) Embedded() bool { return c.NATSURL == "" }
