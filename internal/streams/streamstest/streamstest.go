// Package streamstest starts a real streams service on an embedded JetStream for tests
// of the packages built on it.
package streamstest

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/natslog"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Start runs an embedded JetStream in a temporary directory (fsync on an interval, as
// durability is not what these tests check) and a streams service over it; both stop
// when the test ends.
func Start(tb testing.TB, opts streams.Options) *streams.Service {
	tb.Helper()
	log, err := natslog.Open(natslog.Options{Dir: tb.TempDir(), Fsync: natslog.FsyncInterval, FsyncInterval: time.Second, MaxStore: 1 << 30, MaxMemory: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := streams.Open(log.Conn, opts)
	if err != nil {
		_ = log.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		svc.Close()
		_ = log.Close()
	})
	return svc
}
