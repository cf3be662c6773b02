// Package servertest starts a real eddy API server for tests: an embedded JetStream in
// a temporary directory, the streams service over it, a token store holding an admin
// token, and the HTTP API on a loopback port.
package servertest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/natslog"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Options adjust the server a test starts.
type Options struct {
	// Fsync is the embedded store's durability; the default, interval, keeps tests fast.
	Fsync natslog.Fsync
	// MaxStore limits the embedded store, in bytes; 0 means 4 GiB.
	MaxStore int64
	// Streams configures the streams service.
	Streams streams.Options
	// Query is the SQL engine of the query endpoints; nil leaves them out.
	Query server.QueryAPI
}

// Env is a running server and what a test needs to call it.
type Env struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234.
	URL string
	// Token is a valid admin bearer token.
	Token string
	// DataDir holds the token store and the admin token file (auth.AdminTokenFile).
	DataDir  string
	Streams  *streams.Service
	Server   *server.Server
	Registry *prometheus.Registry
}

// Start starts a server with default options; it stops when the test ends.
func Start(tb testing.TB) *Env { return StartWith(tb, Options{}) }

// StartWith starts a server with the given options; it stops when the test ends.
func StartWith(tb testing.TB, opts Options) *Env {
	tb.Helper()
	if opts.Fsync == "" {
		opts.Fsync = natslog.FsyncInterval
	}
	if opts.MaxStore == 0 {
		opts.MaxStore = 4 << 30
	}
	dir := tb.TempDir()
	log, err := natslog.Open(natslog.Options{Dir: dir + "/nats", Fsync: opts.Fsync, FsyncInterval: time.Second, MaxStore: opts.MaxStore, MaxMemory: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	sopts := opts.Streams
	sopts.Registerer = reg
	svc, err := streams.Open(log.Conn, sopts)
	if err != nil {
		_ = log.Close()
		tb.Fatal(err)
	}
	tokens, err := auth.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	token, _, err := tokens.EnsureAdmin(dir + "/" + auth.AdminTokenFile)
	if err != nil {
		tb.Fatal(err)
	}
	srv := server.New(server.Options{Streams: svc, Query: opts.Query, Auth: tokens, Registerer: reg, Gatherer: reg})
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		srv.Drain()
		hs.Close()
		svc.Close()
		_ = log.Close()
	})
	return &Env{URL: hs.URL, Token: token, DataDir: dir, Streams: svc, Server: srv, Registry: reg}
}
