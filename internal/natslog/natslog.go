// Package natslog opens the JetStream log that eddy's streams are stored in:
// an embedded NATS server by default, or an external NATS cluster by URL.
//
// The embedded server never listens on a network port; eddy talks to it over
// an in-process connection, so a default install exposes nothing but eddy's
// own HTTP API.
package natslog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Fsync says when the embedded JetStream store forces written records to stable storage.
type Fsync string

const (
	// FsyncAlways fsyncs every stored message before it is acknowledged: an acknowledged
	// record survives power loss.
	FsyncAlways Fsync = "always"
	// FsyncInterval writes every message to the operating system before it is
	// acknowledged and fsyncs on an interval: an acknowledged record survives a crash of
	// the eddy process, but power loss may lose the last interval.
	FsyncInterval Fsync = "interval"
)

// Options configure Open.
type Options struct {
	// URL of an external NATS cluster; empty runs JetStream embedded.
	URL string
	// Credentials is an optional NATS credentials file for the external cluster.
	Credentials string
	// Dir holds the embedded server's JetStream store.
	Dir string
	// Fsync and FsyncInterval set the embedded store's durability.
	Fsync         Fsync
	FsyncInterval time.Duration
	// MaxStore and MaxMemory are the embedded server's explicit JetStream limits in bytes.
	MaxStore  int64
	MaxMemory int64
	// MaxPayload is the largest message the embedded server accepts. A stream message
	// carries a batch of records, so it must exceed the largest record plus framing.
	MaxPayload int32
	Logger     *slog.Logger
}

// DefaultMaxPayload admits one 1 MiB record with its framing, or a coalesced batch of
// smaller ones, with room to spare.
const DefaultMaxPayload = 8 << 20

// Log is an open connection to JetStream, and the embedded server when there is one.
type Log struct {
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	server    *server.Server
	external  bool
}

// Open starts the embedded server or connects to the external cluster.
func Open(opts Options) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.URL != "" {
		return connectExternal(opts)
	}
	return startEmbedded(opts)
}

func connectExternal(opts Options) (*Log, error) {
	nopts := []nats.Option{
		nats.Name("eddy"),
		errorHandler(opts.Logger),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if opts.Credentials != "" {
		nopts = append(nopts, nats.UserCredentials(opts.Credentials))
	}
	nc, err := nats.Connect(opts.URL, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", opts.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open JetStream at %s: %w", opts.URL, err)
	}
	return &Log{Conn: nc, JetStream: js, external: true}, nil
}

func startEmbedded(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded NATS needs a store directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create JetStream store dir: %w", err)
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	sopts := &server.Options{
		ServerName:         "eddy",
		DontListen:         true,
		JetStream:          true,
		StoreDir:           filepath.Clean(opts.Dir),
		JetStreamMaxStore:  opts.MaxStore,
		JetStreamMaxMemory: opts.MaxMemory,
		MaxPayload:         opts.MaxPayload,
		NoSigs:             true,
	}
	switch opts.Fsync {
	case FsyncAlways, "":
		sopts.SyncAlways = true
	case FsyncInterval:
		if opts.FsyncInterval <= 0 {
			return nil, fmt.Errorf("fsync interval must be positive, got %s", opts.FsyncInterval)
		}
		sopts.SyncInterval = opts.FsyncInterval
	default:
		return nil, fmt.Errorf("unknown fsync mode %q (want always or interval)", opts.Fsync)
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS: %w", err)
	}
	ns.SetLoggerV2(slogAdapter{opts.Logger.With("component", "nats")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS did not become ready in 30s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("eddy"), errorHandler(opts.Logger))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, fmt.Errorf("open embedded JetStream: %w", err)
	}
	return &Log{Conn: nc, JetStream: js, server: ns}, nil
}

// Embedded reports whether the log runs in this process.
func (l *Log) Embedded() bool { return !l.external }

// Close drains the connection and stops the embedded server, which flushes its store.
func (l *Log) Close() error {
	err := l.Conn.Drain()
	if err != nil {
		l.Conn.Close()
	}
	if l.server != nil {
		l.server.Shutdown()
		l.server.WaitForShutdown()
	}
	return err
}

// errorHandler logs asynchronous connection errors instead of letting the client print
// them to stderr.
func errorHandler(l *slog.Logger) nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		if sub != nil {
			l.Warn("NATS subscription error", "subject", sub.Subject, "err", err)
			return
		}
		l.Warn("NATS connection error", "err", err)
	})
}

// slogAdapter sends the embedded server's log lines to eddy's structured logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  {}
