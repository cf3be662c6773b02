package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

// startNATSServer runs a separate nats-server process with JetStream on a loopback port
// and returns its URL.
func startNATSServer(t *testing.T) string {
	t.Helper()
	bin := binary(t, "github.com/nats-io/nats-server/v2", "nats-server")
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "nats.conf")
	// eddy stores records of up to 1 MiB, so the payload limit must exceed NATS's 1 MB default.
	body := fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8MB\njetstream { store_dir: %q, max_file_store: 1GB, max_memory_store: 64MB }\n", port, filepath.Join(dir, "js"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "nats://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not listen on %s:\n%s", addr, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestExternalNATS runs eddy against a separate nats-server: the records live in that
// cluster, so a second eddy with its own data dir sees them, and still recognises
// producer record ids the first one stored.
func TestExternalNATS(t *testing.T) {
	ctx := context.Background()
	url := startNATSServer(t)

	first := startEddy(t, t.TempDir(), "--nats-url", url)
	c := first.client(t)
	if _, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: "fleet", Shards: 2}); err != nil {
		t.Fatal(err)
	}
	var recs []wire.PutRecord
	for i := 0; i < 100; i++ {
		recs = append(recs, wire.PutRecord{PartitionKey: fmt.Sprintf("truck-%d", i%7), Text: fmt.Sprintf("fix %d", i), ProducerID: fmt.Sprintf("fix-%d", i)})
	}
	res, err := c.PutRecords(ctx, "fleet", recs)
	if err != nil || res.FailedCount != 0 {
		t.Fatalf("put: %v %+v", err, res)
	}
	first.kill9(t)

	second := startEddy(t, t.TempDir(), "--nats-url", url)
	c = second.client(t)
	desc, err := c.DescribeStream(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	if desc.Records != 100 {
		t.Fatalf("second server sees %d records, want 100", desc.Records)
	}
	again, err := c.PutRecords(ctx, "fleet", recs[:10])
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again.Records {
		if !r.Duplicate || r.SequenceNumber != res.Records[i].SequenceNumber {
			t.Fatalf("record %d repeated through the second server: %+v, first stored as %+v", i, r, res.Records[i])
		}
	}
	it, err := c.GetIterator(ctx, "fleet", wire.GetIteratorRequest{Type: wire.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRecords(ctx, "fleet", it, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 100 {
		t.Fatalf("read %d records from the external cluster, want 100", len(got.Records))
	}
}
