package kafka_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/flow/flowtest"
	"github.com/eddy-streams/eddy/internal/connectors/kafka"
)

// startCluster runs an in-process Kafka cluster (the real protocol, served by kfake) with
// topic "in" of four partitions, and returns client options that reach it.
func startCluster(t *testing.T) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

type event struct {
	Key  string `json:"key"`
	N    int    `json:"n"`
	Time int64  `json:"time"`
}

// produceEvents writes n events to "in", spread over its partitions by key.
func produceEvents(t *testing.T, opts []kgo.Opt, n int) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		e := event{Key: fmt.Sprintf("k%d", i%13), N: i, Time: int64(i)}
		b, _ := json.Marshal(e)
		recs[i] = &kgo.Record{Topic: "in", Key: []byte(e.Key), Value: b}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func decodeEvent(r *kgo.Record) (event, int64, error) {
	var e event
	if err := json.Unmarshal(r.Value, &e); err != nil {
		return e, 0, fmt.Errorf("not an event: %w", err)
	}
	return e, e.Time, nil
}

// committedStore is the outside world of an in-memory transactional sink.
type committedStore struct {
	mu        sync.Mutex
	committed map[string][]string
}

func newCommittedStore() *committedStore { return &committedStore{committed: map[string][]string{}} }

func (s *committedStore) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, recs := range s.committed {
		out = append(out, recs...)
	}
	slices.Sort(out)
	return out
}

type memTxn struct {
	ID      string
	Records []string
}

// memWriter commits each checkpoint's records under the checkpoint's id, so the source
// can be checked on its own: what it delivers is exactly what the store holds.
type memWriter struct {
	store   *committedStore
	subtask int
	buf     []string
}

func (w *memWriter) Write(v string, _ int64) error { w.buf = append(w.buf, v); return nil }
func (w *memWriter) Flush() error                  { return nil }
func (w *memWriter) Close() error                  { return nil }
func (w *memWriter) PreCommit(id int64) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(memTxn{ID: fmt.Sprintf("%d/%d", w.subtask, id), Records: w.buf})
	w.buf = nil
	return b.Bytes(), err
}
func (w *memWriter) Commit(data []byte) error {
	var t memTxn
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&t); err != nil {
		return err
	}
	w.store.mu.Lock()
	w.store.committed[t.ID] = t.Records
	w.store.mu.Unlock()
	return nil
}

// sourceJob reads "in" with a bounded Kafka source and commits every event it sees to
// store; slow makes the decoder pause now and then so a crash lands mid-run.
func sourceJob(t *testing.T, opts []kgo.Opt, jobOpts flow.JobOptions, store *committedStore, slow bool) *flow.Job {
	t.Helper()
	var n atomic.Int64
	src, err := kafka.NewSource(kafka.SourceConfig[event]{
		Client: opts, Topic: "in", StopAtEnd: true, OutOfOrderness: 5 * time.Millisecond,
		Decode: func(r *kgo.Record) (event, int64, error) {
			if slow && n.Add(1)%100 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
			return decodeEvent(r)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	job := flow.NewJob("kafka-source", jobOpts)
	events := flow.FromSource[event](job, "kafka", jobOpts.Parallelism, src)
	text := flow.Map(events, "format", func(e event) string { return fmt.Sprintf("%s %d", e.Key, e.N) })
	flow.SinkTo(text, "mem", func(sub, _ int) (flow.Writer[string], error) {
		return &memWriter{store: store, subtask: sub}, nil
	})
	return job
}

func TestSourceRestoresPositionsAfterCrash(t *testing.T) {
	const events = 6000
	opts := startCluster(t)
	produceEvents(t, opts, events)

	reference := newCommittedStore()
	if err := flow.Run(context.Background(), sourceJob(t, opts, flow.JobOptions{Parallelism: 2}, reference, false)); err != nil {
		t.Fatal(err)
	}
	want := reference.all()
	if len(want) != events {
		t.Fatalf("reference run delivered %d events, want %d", len(want), events)
	}

	for _, restart := range []int{2, 3, 1} {
		t.Run(fmt.Sprintf("restart-at-parallelism-%d", restart), func(t *testing.T) {
			out := newCommittedStore()
			cps := flow.NewMemStore()
			jobOpts := flow.JobOptions{Parallelism: 2, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond}}
			flowtest.CrashAfterCheckpoints(t, sourceJob(t, opts, jobOpts, out, true), 3)
			if got := len(out.all()); got >= events {
				t.Fatalf("the crash came too late to prove anything (%d of %d committed)", got, events)
			}
			jobOpts.Parallelism = restart
			if err := flow.Run(context.Background(), sourceJob(t, opts, jobOpts, out, false)); err != nil {
				t.Fatal(err)
			}
			if got := out.all(); !slices.Equal(got, want) {
				t.Fatalf("after crash and restore: %d events, want %d", len(got), len(want))
			}
		})
	}
}

func TestSourceStartsAtLatest(t *testing.T) {
	opts := startCluster(t)
	produceEvents(t, opts, 100)
	src, err := kafka.NewSource(kafka.SourceConfig[event]{Client: opts, Topic: "in", Start: kafka.Latest, StopAtEnd: true, Decode: decodeEvent})
	if err != nil {
		t.Fatal(err)
	}
	job := flow.NewJob("latest", flow.JobOptions{Parallelism: 2})
	got := flow.Collect(flow.FromSource[event](job, "kafka", 2, src))
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if n := len(got.Values()); n != 0 {
		t.Fatalf("a source starting at latest delivered %d old records", n)
	}
}

func TestDeadLetterTopicGetsUndecodableRecords(t *testing.T) {
	opts := startCluster(t)
	produceEvents(t, opts, 50)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	bad := []*kgo.Record{{Topic: "in", Key: []byte("x"), Value: []byte("not json")}, {Topic: "in", Key: []byte("y"), Value: []byte("{broken")}}
	if err := cl.ProduceSync(context.Background(), bad...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(kafka.SourceConfig[event]{Client: opts, Topic: "in", StopAtEnd: true, Decode: decodeEvent})
	if err != nil {
		t.Fatal(err)
	}
	job := flow.NewJob("dead-letters", flow.JobOptions{Parallelism: 2})
	got := flow.Collect(flow.FromSource[event](job, "kafka", 2, src))
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if n := len(got.Values()); n != 50 {
		t.Fatalf("delivered %d events, want 50", n)
	}
	var letters []kafka.DeadLetter
	for _, r := range readCommitted(t, opts, "in-dead-letter") {
		var d kafka.DeadLetter
		if err := json.Unmarshal(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		letters = append(letters, d)
	}
	slices.SortFunc(letters, func(a, b kafka.DeadLetter) int { return strings.Compare(string(a.Key), string(b.Key)) })
	if len(letters) != 2 {
		t.Fatalf("dead-letter topic holds %d records, want 2: %+v", len(letters), letters)
	}
	for i, d := range letters {
		if d.Topic != "in" || string(d.Value) != string(bad[i].Value) || !strings.Contains(d.Error, "not an event") {
			t.Errorf("dead letter %d = %+v, want the record %q with the decoder's reason", i, d, bad[i].Value)
		}
	}
}

// readCommitted reads every committed record of topic, as a read_committed consumer sees
// it.
func readCommitted(t *testing.T, opts []kgo.Opt, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	assign := map[int32]kgo.Offset{}
	remaining := 0
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		assign[o.Partition] = kgo.NewOffset().AtStart()
		if o.Offset > 0 {
			need[o.Partition] = o.Offset
			remaining++
		}
	})
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 == need[r.Partition] {
				remaining--
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// sinkJob sums a deterministic generator per key and writes every running sum to the
// Kafka topic "out" through the sink.
func sinkJob(t *testing.T, opts []kgo.Opt, jobOpts flow.JobOptions, events int, exactlyOnce, slow bool) *flow.Job {
	t.Helper()
	job := flow.NewJob("kafka-sink", jobOpts)
	src := flow.FromGenerator(job, "gen", 2, func(sub, _ int) func(*event) bool {
		i := 0
		return func(e *event) bool {
			if i == events {
				return false
			}
			if slow && i%200 == 0 {
				time.Sleep(time.Millisecond)
			}
			*e = event{Key: fmt.Sprintf("s%d-k%d", sub, i%7), N: i, Time: int64(i)}
			i++
			return true
		}
	}, flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.BoundedOutOfOrderness(5 * time.Millisecond)})
	keyed := flow.KeyBy(src, func(e event) string { return e.Key })
	sums := flow.Process(keyed, "running-sum", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, event, string] {
		sum := flow.NewValueState[int](rt, "sum")
		return flow.KeyedProcessor[string, event, string]{Element: func(ctx *flow.ProcessContext[string, string], e event) {
			s, _ := sum.Value()
			s += e.N
			sum.Update(s)
			ctx.Emit(fmt.Sprintf("%s %d", e.Key, s))
		}}
	})
	flow.SinkTo(sums, "kafka", kafka.NewSink(kafka.SinkConfig[string]{
		Client: opts, Topic: "out", ExactlyOnce: exactlyOnce, ID: "kafka-sink/sums",
		Encode: func(v string, _ int64) (*kgo.Record, error) {
			return &kgo.Record{Key: []byte(strings.Fields(v)[0]), Value: []byte(v)}, nil
		},
	}))
	return job
}

func createTopic(t *testing.T, opts []kgo.Opt, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

func values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	slices.Sort(out)
	return out
}

func TestExactlyOnceSinkAcrossCrash(t *testing.T) {
	const events = 5000
	refOpts := startCluster(t)
	createTopic(t, refOpts, "out", 3)
	if err := flow.Run(context.Background(), sinkJob(t, refOpts, flow.JobOptions{Parallelism: 2}, events, true, false)); err != nil {
		t.Fatal(err)
	}
	want := values(readCommitted(t, refOpts, "out"))
	if len(want) != 2*events {
		t.Fatalf("reference run wrote %d records, want %d", len(want), 2*events)
	}

	for _, restart := range []int{2, 3} {
		t.Run(fmt.Sprintf("restart-at-parallelism-%d", restart), func(t *testing.T) {
			opts := startCluster(t)
			createTopic(t, opts, "out", 3)
			cps := flow.NewMemStore()
			jobOpts := flow.JobOptions{Parallelism: 2, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond}}
			flowtest.CrashAfterCheckpoints(t, sinkJob(t, opts, jobOpts, events, true, true), 3)
			if got := len(readCommitted(t, opts, "out")); got >= len(want) {
				t.Fatalf("the crash came too late to prove anything (%d of %d committed)", got, len(want))
			}
			jobOpts.Parallelism = restart
			if err := flow.Run(context.Background(), sinkJob(t, opts, jobOpts, events, true, false)); err != nil {
				t.Fatal(err)
			}
			got := values(readCommitted(t, opts, "out"))
			if dups := len(got) - len(slices.Compact(slices.Clone(got))); dups > 0 {
				t.Errorf("%d duplicates in the output", dups)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("after crash and restore: %d records, want %d", len(got), len(want))
			}
		})
	}
}

func TestRepeatedCommitIsANoOp(t *testing.T) {
	opts := startCluster(t)
	createTopic(t, opts, "out", 1)
	open := kafka.NewSink(kafka.SinkConfig[string]{
		Client: opts, Topic: "out", ExactlyOnce: true, ID: "job/sink",
		Encode: func(v string, _ int64) (*kgo.Record, error) { return &kgo.Record{Value: []byte(v)}, nil },
	})
	w, err := open(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	tp := w.(flow.TwoPhaseWriter[string])
	for _, v := range []string{"a", "b"} {
		if err := tp.Write(v, 0); err != nil {
			t.Fatal(err)
		}
	}
	txn, err := tp.PreCommit(7)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Commit(txn); err != nil {
		t.Fatal(err)
	}
	// A writer of a restarted process knows nothing but what the commit log says.
	again, err := open(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.(flow.TwoPhaseWriter[string]).Commit(txn); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	_ = again.Close()
	if got := values(readCommitted(t, opts, "out")); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after committing the same transaction twice the topic holds %q", got)
	}
}

func TestAtLeastOnceSink(t *testing.T) {
	const events = 500
	opts := startCluster(t)
	createTopic(t, opts, "out", 2)
	if err := flow.Run(context.Background(), sinkJob(t, opts, flow.JobOptions{Parallelism: 2}, events, false, false)); err != nil {
		t.Fatal(err)
	}
	got := values(readCommitted(t, opts, "out"))
	if len(got) != 2*events {
		t.Fatalf("wrote %d records, want %d", len(got), 2*events)
	}
	if !strings.HasPrefix(got[0], "s0-k0 ") {
		t.Fatalf("unexpected first record %q", got[0])
	}
}

// A subtask without partitions and an unbounded source with nothing to read must both
// let checkpoint barriers through.
func TestUnboundedSourceWithSpareSubtaskCheckpoints(t *testing.T) {
	opts := startCluster(t)
	produceEvents(t, opts, 20)
	src, err := kafka.NewSource(kafka.SourceConfig[event]{Client: opts, Topic: "in", Decode: decodeEvent})
	if err != nil {
		t.Fatal(err)
	}
	job := flow.NewJob("spare", flow.JobOptions{Parallelism: 5, Checkpoints: &flow.CheckpointOptions{Store: flow.NewMemStore(), Interval: 5 * time.Millisecond}})
	flow.Collect(flow.FromSource[event](job, "kafka", 5, src))
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- flow.Run(ctx, job) }()
	for len(job.Checkpoints()) < 2 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	stop()
	<-done
	if n := len(job.Checkpoints()); n < 2 {
		t.Fatalf("%d checkpoints completed with five subtasks on four partitions, want at least 2", n)
	}
}
