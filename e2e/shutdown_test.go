package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

// TestSIGTERMShutsDownCleanly stops a server that is taking writes with SIGTERM: it must
// answer the puts in flight, exit with status 0, and keep every acknowledged record.
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	p := startEddy(t, dataDir)
	c := p.client(t)
	if _, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: "s", Shards: 2}); err != nil {
		t.Fatal(err)
	}
	acked := make(chan int, 1)
	go func() {
		n := 0
		for i := 0; ; i++ {
			recs := []wire.PutRecord{{PartitionKey: fmt.Sprint(i), Text: fmt.Sprint(i)}}
			res, err := c.PutRecords(ctx, "s", recs)
			if err != nil || res.FailedCount > 0 {
				acked <- n
				return
			}
			n++
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("eddy did not exit 30s after SIGTERM:\n%s", p.logs)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, p.logs)
	}
	if !strings.Contains(p.logs.String(), "requests drained") {
		t.Fatalf("no drain in the logs:\n%s", p.logs)
	}
	n := <-acked
	p = startEddy(t, dataDir)
	desc, err := p.client(t).DescribeStream(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if desc.Records < uint64(n) {
		t.Fatalf("%d records acknowledged before SIGTERM, %d stored", n, desc.Records)
	}
}
