package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

func TestStreamLifecycle(t *testing.T) {
	env := servertest.Start(t)
	c := client.New(env.URL+"/", env.Token, nil)
	ctx := context.Background()

	d, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: "pay", Shards: 2, RetentionHours: 48})
	if err != nil || d.Name != "pay" || d.OpenShards != 2 || d.RetentionHours != 48 {
		t.Fatalf("create: %+v %v", d, err)
	}
	list, err := c.ListStreams(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "pay" {
		t.Fatalf("list: %+v %v", list, err)
	}
	shards := 3
	d, err = c.UpdateStream(ctx, "pay", wire.UpdateStreamRequest{Shards: &shards})
	if err != nil || d.OpenShards != 3 {
		t.Fatalf("update: %+v %v", d, err)
	}
	if err := c.DeleteStream(ctx, "pay"); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeStream(ctx, "pay")
	var e *apierr.Error
	if !errors.As(err, &e) || e.Code != "StreamNotFound" || e.Kind != apierr.NotFound || !strings.Contains(e.Message, "pay") {
		t.Fatalf("describe a deleted stream: %#v", err)
	}
}

func TestPutAndRead(t *testing.T) {
	env := servertest.Start(t)
	c := client.New(env.URL, env.Token, nil)
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	put, err := c.PutRecords(ctx, "s", []wire.PutRecord{{PartitionKey: "a", Data: []byte{1, 2}}, {PartitionKey: "b", Text: "two"}})
	if err != nil || put.FailedCount != 0 || len(put.Records) != 2 {
		t.Fatalf("put: %+v %v", put, err)
	}
	it, err := c.GetIterator(ctx, "s", wire.GetIteratorRequest{Shard: "shard-0000", Type: wire.AtSequence, SequenceNumber: put.Records[1].SequenceNumber})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRecords(ctx, "s", it, 10, time.Second)
	if err != nil || len(got.Records) != 1 || string(got.Records[0].Data) != "two" || got.NextIterator == "" {
		t.Fatalf("get: %+v %v", got, err)
	}

	_, err = c.PutRecords(ctx, "s", []wire.PutRecord{{PartitionKey: ""}})
	if apierr.CodeOf(err) != "InvalidPartitionKey" {
		t.Fatalf("put without a key: %v", err)
	}
	bad := client.New(env.URL, "eddy_wrong", nil)
	if _, err := bad.ListStreams(ctx); apierr.CodeOf(err) != "Unauthenticated" {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestSubscribe(t *testing.T) {
	env := servertest.Start(t)
	c := client.New(env.URL, env.Token, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: "s", Shards: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecords(ctx, "s", []wire.PutRecord{{PartitionKey: "k", Text: "old"}}); err != nil {
		t.Fatal(err)
	}
	// From TRIM_HORIZON the old record comes first; once it is seen, new ones follow.
	var seen []string
	stop := errors.New("stop")
	err := c.Subscribe(ctx, "s", client.SubscribeOptions{Type: wire.TrimHorizon}, func(r wire.Record) error {
		seen = append(seen, string(r.Data))
		if len(seen) == 1 {
			go func() { _, _ = c.PutRecords(ctx, "s", []wire.PutRecord{{PartitionKey: "x", Text: "new"}}) }()
		}
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if err != stop || strings.Join(seen, ",") != "old,new" {
		t.Fatalf("subscribe returned %v after %v", err, seen)
	}

	// Cancelling the context ends a quiet subscription with the context's error.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	err = c.Subscribe(short, "s", client.SubscribeOptions{}, func(wire.Record) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled subscription: %v", err)
	}

	err = c.Subscribe(ctx, "nope", client.SubscribeOptions{}, func(wire.Record) error { return nil })
	if apierr.CodeOf(err) != "StreamNotFound" {
		t.Fatalf("subscribe to a missing stream: %v", err)
	}
}

func TestServerNotRunning(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = client.New("http://"+addr, "eddy_x", nil).ListStreams(context.Background())
	if err == nil || !strings.Contains(err.Error(), "eddy serve") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("error %v should tell the user to start the server at %s", err, addr)
	}
}
