package streamsbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

// httpRecordBytes is the record size of the HTTP case.
const httpRecordBytes = 100

// httpCase serves eddy's HTTP API on a loopback port in this process, over the same
// streams service, and has HTTPClients clients put 500-record batches of 100-byte
// records into a fresh stream, each over its own keep-alive connection.
func (b *bench) httpCase(ctx context.Context, e *env) (Result, error) {
	dir, err := os.MkdirTemp(b.cfg.Dir, "eddy-bench-auth-")
	if err != nil {
		return Result{}, fmt.Errorf("make token dir: %w", err)
	}
	defer os.RemoveAll(dir)
	tokens, err := auth.Open(dir)
	if err != nil {
		return Result{}, fmt.Errorf("open token store: %w", err)
	}
	token, _, err := tokens.EnsureAdmin(filepath.Join(dir, auth.AdminTokenFile))
	if err != nil {
		return Result{}, fmt.Errorf("create token: %w", err)
	}
	srv := server.New(server.Options{Streams: e.svc, Auth: tokens})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, fmt.Errorf("listen on loopback: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		srv.Drain()
		_ = hs.Close()
	}()

	name := b.newStreamName("bench-http-")
	if _, err := e.svc.Create(ctx, name, streams.Config{Shards: b.cfg.Shards}); err != nil {
		return Result{}, fmt.Errorf("create stream %s: %w", name, err)
	}
	defer func() { _ = e.svc.Delete(context.WithoutCancel(ctx), name) }()

	n := b.cfg.HTTPClients
	transport := &http.Transport{
		Proxy:               nil, // loopback, whatever the environment says
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport}
	url := "http://" + ln.Addr().String() + "/v1/streams/" + name + "/records"
	data := payload(httpRecordBytes)
	clients := make([]httpClient, n)
	for i := range clients {
		if clients[i].bodies, err = b.buildBodies(i, data); err != nil {
			return Result{}, err
		}
	}

	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(b.cfg.Duration)
	for i := range clients {
		wg.Go(func() { clients[i].run(ctx, hc, url, "Bearer "+token, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	res := Result{
		Fsync: string(e.fsync), Path: PathHTTP, Mode: string(Batch), RecordBytes: httpRecordBytes,
		Concurrency: n, RecordsPerCall: streams.MaxRecordsPerPut,
	}
	ts := make([]*tally, len(clients))
	for i := range clients {
		ts[i] = &clients[i].tally
	}
	mergeTallies(&res, elapsed, ts)
	return res, nil
}

// buildBodies encodes client c's put requests, cycling through every partition key.
func (b *bench) buildBodies(c int, data []byte) ([][]byte, error) {
	calls := b.buildCalls(c, streams.MaxRecordsPerPut, data)
	bodies := make([][]byte, len(calls))
	for i, recs := range calls {
		req := wire.PutRecordsRequest{Records: make([]wire.PutRecord, len(recs))}
		for j, r := range recs {
			req.Records[j] = wire.PutRecord{PartitionKey: r.PartitionKey, Data: r.Data}
		}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("encode put request: %w", err)
		}
		bodies[i] = body
	}
	return bodies, nil
}

// httpClient is one HTTP client's prebuilt request bodies and what it measured.
type httpClient struct {
	bodies [][]byte
	resp   []byte
	tally
}

func (c *httpClient) run(ctx context.Context, hc *http.Client, url, bearer string, deadline time.Time) {
	per := int64(streams.MaxRecordsPerPut)
	for i := 0; ctx.Err() == nil; i++ {
		start := time.Now()
		if !start.Before(deadline) {
			return
		}
		failed, err := c.put(ctx, hc, url, bearer, c.bodies[i%len(c.bodies)])
		c.lat.Record(time.Since(start))
		c.ncalls++
		if err != nil {
			c.failed += per
			c.lastErr = err
			continue
		}
		if failed > 0 {
			c.lastErr = fmt.Errorf("put answered failedCount %d", failed)
		}
		c.failed += failed
		c.acked += per - failed
	}
}

// put sends one request and returns the response's failedCount.
func (c *httpClient) put(ctx context.Context, hc *http.Client, url, bearer string, body []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	c.resp, err = readAll(c.resp[:0], resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("read put response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("put answered %s: %.200s", resp.Status, c.resp)
	}
	return failedCount(c.resp)
}

func readAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// failedCount reads a put response's failedCount. The server writes it first, so the
// client need not decode 500 results, which would take CPU from the server it shares
// the machine with; any other layout is decoded in full.
func failedCount(resp []byte) (int64, error) {
	const prefix = `{"failedCount":`
	if rest, ok := bytes.CutPrefix(resp, []byte(prefix)); ok {
		if end := bytes.IndexByte(rest, ','); end > 0 {
			if n, err := strconv.ParseInt(string(rest[:end]), 10, 64); err == nil {
				return n, nil
			}
		}
	}
	var out struct {
		FailedCount *int64 `json:"failedCount"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return 0, fmt.Errorf("decode put response: %w", err)
	}
	if out.FailedCount == nil {
		return 0, errors.New("put response has no failedCount")
	}
	return *out.FailedCount, nil
}
