package tablesbench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/bench/tsbs"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/tables"
)

// httpRun is one timed load through eddy's HTTP API into a fresh Service: the server
// runs in this process on a loopback port, and n clients, one per split, send each
// batch as the JSON write body client.WriteRecords encodes, each over its own
// keep-alive connection. Clients and server share the cores, as TSBS's loader and the
// databases it measured did.
func (b *bench) httpRun(ctx context.Context, u UseCase, tcfg tsbs.Config, n int) (IngestRun, error) {
	e, err := b.openEnv(ctx, u, tcfg)
	if err != nil {
		return IngestRun{}, err
	}
	defer e.close()
	tokens, err := auth.Open(e.dir)
	if err != nil {
		return IngestRun{}, fmt.Errorf("open token store: %w", err)
	}
	token, _, err := tokens.EnsureAdmin(filepath.Join(e.dir, auth.AdminTokenFile))
	if err != nil {
		return IngestRun{}, fmt.Errorf("create token: %w", err)
	}
	srv := server.New(server.Options{Tables: e.svc, TableWriter: e.svc, Auth: tokens})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return IngestRun{}, fmt.Errorf("listen on loopback: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		srv.Drain()
		_ = hs.Close()
	}()
	transport := &http.Transport{
		Proxy:               nil, // loopback, whatever the environment says
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	c := client.New("http://"+ln.Addr().String(), token, &http.Client{Transport: transport})
	write := writeFunc(func(ctx context.Context, table string, req *tables.WriteRequest) (tables.WriteResult, error) {
		return c.WriteRecords(ctx, Database, table, req)
	})

	ls, err := b.newLoaders(u, tcfg, n)
	if err != nil {
		return IngestRun{}, err
	}
	return b.timedRun(ctx, e, ls, func(int) writeFunc { return write })
}
