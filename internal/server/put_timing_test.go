package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/natslog"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

const (
	benchBatch      = 500
	benchRecordSize = 100
	benchShards     = 4
)

// benchRecords is one put's worth of records with random keys and data.
func benchRecords() []streams.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]streams.Record, benchBatch)
	for i := range recs {
		data := make([]byte, benchRecordSize)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		recs[i] = streams.Record{PartitionKey: fmt.Sprintf("device-%08x", rng.Uint32()), Data: data}
	}
	return recs
}

// BenchmarkPut puts 500-record batches of 100-byte records into a 4-shard stream
// through the HTTP handler over loopback, with each fsync mode. As the baseline it then
// makes as many puts calling the streams service directly on the same server, and
// reports both rates and their ratio: what the transport costs.
func BenchmarkPut(b *testing.B) {
	for _, fsync := range []natslog.Fsync{natslog.FsyncInterval, natslog.FsyncAlways} {
		b.Run("fsync="+string(fsync), func(b *testing.B) { benchPut(b, fsync) })
	}
}

// benchParallelism is how many puts run at once per CPU, like concurrent producers.
const benchParallelism = 8

func benchPut(b *testing.B, fsync natslog.Fsync) {
	env := servertest.StartWith(b, servertest.Options{Fsync: fsync})
	ctx := context.Background()
	for _, name := range []string{"http", "direct"} {
		if _, err := env.Streams.Create(ctx, name, streams.Config{Shards: benchShards}); err != nil {
			b.Fatal(err)
		}
	}
	recs := benchRecords()
	var req wire.PutRecordsRequest
	for _, r := range recs {
		req.Records = append(req.Records, wire.PutRecord{PartitionKey: r.PartitionKey, Data: r.Data})
	}
	body, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	url := env.URL + "/v1/streams/http/records"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetBytes(int64(len(body)))
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var resp bytes.Buffer
		for pb.Next() {
			hreq, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			hreq.Header.Set("Authorization", "Bearer "+env.Token)
			hreq.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(hreq)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Reset()
			_, err = resp.ReadFrom(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK || !bytes.HasPrefix(resp.Bytes(), []byte(`{"failedCount":0,`)) {
				b.Errorf("put: %v %d %.200s", err, res.StatusCode, resp.Bytes())
				return
			}
		}
	})
	httpRate := float64(b.N*benchBatch) / time.Since(start).Seconds()
	b.StopTimer()

	puts := make(chan struct{}, b.N)
	for range b.N {
		puts <- struct{}{}
	}
	close(puts)
	var wg sync.WaitGroup
	start = time.Now()
	for range benchParallelism * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for range puts {
				res, err := env.Streams.Put(ctx, "direct", recs)
				if err != nil || streams.Failed(res) > 0 {
					b.Error(err, res)
					return
				}
			}
		})
	}
	wg.Wait()
	directRate := float64(b.N*benchBatch) / time.Since(start).Seconds()
	b.ReportMetric(httpRate, "records/s")
	b.ReportMetric(directRate, "direct-records/s")
	b.ReportMetric(httpRate/directRate, "http/direct")
}
