package flow_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/eddy-streams/eddy/flow"
)

// TestS3CheckpointStore runs the checkpoint store against an S3-compatible server on
// loopback (gofakes3, an in-memory implementation of the S3 protocol).
func TestS3CheckpointStore(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("checkpoints"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "eddy")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "eddy-secret")
	ctx := context.Background()
	store, err := flow.OpenBlobStore(ctx, "s3://checkpoints?region=us-east-1&endpoint="+srv.URL+"&use_path_style=true&disable_https=true")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Put(ctx, "job/chk-1/op/0", []byte("state")); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Get(ctx, "job/chk-1/op/0"); err != nil || string(got) != "state" {
		t.Fatalf("get: %q %v", got, err)
	}
	if _, err := store.Get(ctx, "job/none"); !errors.Is(err, flow.ErrNotExist) {
		t.Fatalf("missing key: %v", err)
	}
	if ok, err := store.PutIfAbsent(ctx, "job/chk-1/_metadata", []byte("a")); !ok || err != nil {
		t.Fatalf("first completion: %v %v", ok, err)
	}
	if ok, err := store.PutIfAbsent(ctx, "job/chk-1/_metadata", []byte("b")); ok || err != nil {
		t.Fatalf("a second completion must be refused (If-None-Match): %v %v", ok, err)
	}
	keys, err := store.List(ctx, "job/")
	if err != nil || len(keys) != 2 {
		t.Fatalf("list: %v %v", keys, err)
	}

	// A whole job checkpoints to it and restores from it.
	const events = 20_000
	reference := &txnStore{committed: map[string][]string{}}
	if err := flow.Run(ctx, countingJob(reference, flow.JobOptions{Parallelism: 2}, events, false)); err != nil {
		t.Fatal(err)
	}
	out := &txnStore{committed: map[string][]string{}}
	opts := flow.JobOptions{Parallelism: 2, Checkpoints: &flow.CheckpointOptions{Store: store, Interval: 10 * time.Millisecond}}
	job := countingJob(out, opts, events, true)
	crashCtx, crash := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- flow.Run(crashCtx, job) }()
	for len(job.Checkpoints()) < 2 {
		time.Sleep(time.Millisecond)
	}
	crash()
	<-done
	if err := flow.Run(ctx, countingJob(out, opts, events, false)); err != nil {
		t.Fatal(err)
	}
	if got, want := out.all(), reference.all(); !slices.Equal(got, want) {
		t.Fatalf("restored from s3: %d records, want %d", len(got), len(want))
	}
}
