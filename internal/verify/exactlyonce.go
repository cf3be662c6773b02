package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// The names of what a run creates on the server.
const (
	inputStream  = "events"
	outputStream = "counts"
	jobName      = "counter"
)

const (
	// batchSize is how many events the producer puts at once.
	batchSize = 100
	// callTimeout bounds one API call, so a call to a server being killed gives up.
	callTimeout = 10 * time.Second
	// stallTimeout is how long the output may stop growing, short of every count,
	// before the run stops waiting and reports what is missing.
	stallTimeout = 30 * time.Second
)

// Config is one ExactlyOnce run.
type Config struct {
	// Binary is the eddy executable, run as `Binary serve`.
	Binary string
	// Kills is how many times the server is killed with SIGKILL and restarted.
	Kills int
	// Events is how many records the producer puts into the job's input stream.
	Events int
	// Keys is how many partition keys the events are spread over, round robin.
	Keys int
	// CheckpointInterval is the servers' --checkpoint-interval.
	CheckpointInterval time.Duration
	// DataDir is the servers' data dir; it must not hold an earlier run. Empty means a
	// new temporary directory, removed after a PASS and kept after a FAIL.
	DataDir string
	// Log receives one line per step: server starts, kills, progress. Nil discards them.
	Log io.Writer
	// Job is the built-in job run: RunningCount (the default for ""), RunningCountKafka,
	// SlidingCount, SessionCount or IntervalJoin.
	Job string
	// Seed draws the kill schedule: which timing each kill uses and at which event it is
	// set off. 0 picks a seed at random; Report.Seed says which.
	Seed uint64
}

// DefaultConfig is the run `eddy verify exactly-once` makes without flags.
func DefaultConfig() Config {
	return Config{Kills: 10, Events: 20000, Keys: 20, CheckpointInterval: 200 * time.Millisecond, Job: RunningCount}
}

func (c Config) validate() error {
	switch {
	case c.Binary == "":
		return errors.New("no eddy binary to run")
	case c.Kills < 0:
		return fmt.Errorf("kills must be 0 or more, got %d", c.Kills)
	case c.Keys < 1:
		return fmt.Errorf("keys must be 1 or more, got %d", c.Keys)
	case c.Events < c.Keys:
		return fmt.Errorf("events (%d) must be at least keys (%d)", c.Events, c.Keys)
	case c.Job != "" && !slices.Contains(Jobs, c.Job):
		return fmt.Errorf("job %q is not one of %s", c.Job, strings.Join(Jobs, ", "))
	case c.CheckpointInterval < time.Millisecond:
		return fmt.Errorf("checkpoint interval must be at least 1ms, got %s", c.CheckpointInterval)
	}
	return nil
}

// ExactlyOnce checks that a job's output is exactly-once across crashes. It runs
// `eddy serve` with checkpoints, creates a stream and starts the built-in job
// running-count on it, and puts Events records spread over Keys partition keys. The
// producer retries a failed put with the same producer record ids, so the input holds
// each event once. While it feeds, the server is killed with SIGKILL Kills times and
// restarted on the same data dir each time; the job resumes from its latest checkpoint.
// Kills are spread evenly over the feeding, each set off at a random event of its share
// and timed as the schedule drawn from Seed says: WhileFeeding, AfterCheckpoint or
// InCheckpoint, in equal parts. Then the output must hold, for every key, the counts 1..n
// exactly once.
//
// Config.Job RunningCountKafka runs the same count with the exactly-once Kafka sink: the
// run starts an in-process Kafka cluster (kfake) on 127.0.0.1 with the output topic
// "counts", the job writes to it, and at the end the run reads the topic with a
// read_committed consumer; the cluster is stopped when ExactlyOnce returns.
//
// Config.Job runs a windowed job or a join instead, timed by the records' arrival. Once
// the events are fed, a window span later, the run puts a jobs.WatermarkRecord into
// every shard so every window closes; then it reads the input back and computes by
// brute force the lines the job must write (windows and their counts, or join pairs by
// sequence number), and the output must hold each of them exactly once and nothing else.
//
// An error means the run could not be carried out (a server did not start or exited by
// itself, ctx ended); a run that completes returns its verdict in Report.Pass. Every
// server it started has been killed when it returns.
func ExactlyOnce(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Job == "" {
		cfg.Job = RunningCount
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64() | 1
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &run{cfg: cfg, start: time.Now(), ctx: ctx, fail: cancel, rng: rand.New(rand.NewPCG(cfg.Seed, 0))}
	r.report = Report{Job: cfg.Job, Seed: cfg.Seed, Keys: cfg.Keys}
	temp := cfg.DataDir == ""
	if temp {
		dir, err := os.MkdirTemp("", "eddy-verify-")
		if err != nil {
			return r.report, err
		}
		r.cfg.DataDir = dir
	}
	if cfg.Job == RunningCountKafka {
		k, err := startKafka()
		if err != nil {
			return r.report, err
		}
		defer k.close()
		r.kafka = k
	}
	defer r.killAll() // also on a panic
	err := r.exactlyOnce()
	r.report.Events = int(r.fed.Load())
	r.report.Elapsed = time.Since(r.start)
	r.killAll()
	switch {
	case temp && err == nil && r.report.Pass:
		_ = os.RemoveAll(r.cfg.DataDir)
	default:
		r.report.DataDir = r.cfg.DataDir
	}
	return r.report, err
}

// run is the state of one ExactlyOnce run.
type run struct {
	cfg    Config
	start  time.Time
	ctx    context.Context
	fail   context.CancelCauseFunc
	rng    *rand.Rand // the kill schedule's; only the goroutine that kills uses it
	report Report
	// kafka is where RunningCountKafka writes; nil for the other jobs.
	kafka *kafkaOutput

	mu      sync.Mutex
	servers []*server // every server started, the current one last
	fed     atomic.Int64
	// highestCheckpoint is the highest checkpoint id in the store at the last kill.
	highestCheckpoint int64
	// fedAtRestart is how many events were stored when the latest server started.
	fedAtRestart int
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "%6.1fs  %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

func (r *run) exactlyOnce() error {
	srv, err := r.startServer()
	if err != nil {
		return err
	}
	c := srv.client
	for _, in := range r.inputs() {
		if err := call(r.ctx, func(ctx context.Context) error {
			_, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: in, Shards: inputShards})
			return err
		}); err != nil {
			return fmt.Errorf("create stream %s: %w", in, err)
		}
	}
	if err := call(r.ctx, func(ctx context.Context) error {
		_, err := c.StartJob(ctx, wire.StartJobRequest{Name: jobName, Builtin: r.cfg.Job, Args: r.jobArgs()})
		return err
	}); err != nil {
		return fmt.Errorf("start job %s: %w", jobName, err)
	}
	out := outputStream
	if r.kafka != nil {
		out = "the Kafka topic " + outputStream + " at " + strings.Join(r.kafka.brokers(), ",")
	}
	r.logf("job %s (%s) reads %s and writes %s; feeding %d events over %d keys, %d kills ahead (seed %d)",
		jobName, r.cfg.Job, strings.Join(r.inputs(), " and "), out, r.cfg.Events, r.cfg.Keys, r.cfg.Kills, r.cfg.Seed)

	kills := plan(r.rng, r.cfg.Kills, r.cfg.Events)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		r.produce(kills)
	}()
	for k := range kills {
		if err := r.killAndRestart(k, kills[k]); err != nil {
			r.fail(err)
			<-produced
			return err
		}
	}
	<-produced
	if r.ctx.Err() != nil {
		return context.Cause(r.ctx)
	}
	if err := r.closeWindows(); err != nil {
		return err
	}
	var wantLines []string
	expect := r.cfg.Events
	if !r.counts() {
		var err error
		if wantLines, err = r.expected(); err != nil {
			return err
		}
		expect = len(wantLines)
	}
	r.logf("fed %d events; waiting for the job to commit its %d output records", r.fed.Load(), expect)

	jobErr, err := r.awaitOutput(expect)
	if err != nil {
		return err
	}
	lines, err := r.readOutput()
	if err != nil {
		return err
	}
	if r.counts() {
		want := map[string]int{}
		for i := range r.cfg.Events {
			want[r.key(i)]++
		}
		r.report.check(want, lines)
	} else {
		r.report.checkLines(wantLines, lines)
	}
	if jobErr != "" {
		r.report.Pass = false
		r.report.Problems = append([]string{jobErr}, r.report.Problems...)
	}
	return nil
}

// key is the partition key of event i.
func (r *run) key(i int) string {
	return fmt.Sprintf("k%0*d", len(strconv.Itoa(r.cfg.Keys-1)), i%r.cfg.Keys)
}

// produce puts the events in batches, retrying each until it is stored, and holds back
// at each kill's gate until that kill is done.
func (r *run) produce(kills []plannedKill) {
	next := 0
	for i := 0; i < r.cfg.Events; i += batchSize {
		for ; next < len(kills) && i >= kills[next].gate; next++ {
			select {
			case <-kills[next].done:
			case <-r.ctx.Done():
				return
			}
		}
		batch := map[string][]wire.PutRecord{}
		end := min(i+batchSize, r.cfg.Events)
		for j := i; j < end; j++ {
			batch[r.input(j)] = append(batch[r.input(j)], wire.PutRecord{PartitionKey: r.key(j), Text: "event", ProducerID: "event-" + strconv.Itoa(j)})
		}
		for _, stream := range r.inputs() {
			for len(batch[stream]) > 0 {
				ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
				res, err := r.client().PutRecords(ctx, stream, batch[stream])
				cancel()
				if err == nil && res.FailedCount == 0 {
					break
				}
				// The server is down or restarting: the same ids again are stored once.
				if !sleep(r.ctx, 20*time.Millisecond) {
					return
				}
			}
		}
		r.fed.Store(int64(end))
		// A short pause lets kills land between puts as well as during them.
		if !sleep(r.ctx, time.Duration(rand.IntN(3))*time.Millisecond) {
			return
		}
	}
}

// awaitOutput waits until the output holds want records, and a few checkpoint intervals
// more for duplicates to land, or until it stops growing. It returns the job's error if
// the job failed.
func (r *run) awaitOutput(want int) (string, error) {
	c := r.client()
	var last uint64
	lastGrowth := time.Now()
	for {
		n, err := r.outputRecords()
		if r.ctx.Err() != nil {
			return "", context.Cause(r.ctx)
		}
		if err == nil && n > last {
			last, lastGrowth = n, time.Now()
		}
		if last >= uint64(want) {
			r.logf("the output holds %d records; waiting %s for late duplicates", last, r.settle())
			if !sleep(r.ctx, r.settle()) {
				return "", context.Cause(r.ctx)
			}
			break
		}
		if time.Since(lastGrowth) > stallTimeout {
			r.logf("the output stopped at %d of %d records", last, want)
			break
		}
		if !sleep(r.ctx, 50*time.Millisecond) {
			return "", context.Cause(r.ctx)
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	defer cancel()
	job, err := c.DescribeJob(ctx, jobName)
	if err != nil {
		return "", fmt.Errorf("describe job %s: %w", jobName, err)
	}
	if job.State == wire.JobFailed {
		return fmt.Sprintf("job %s failed: %s", jobName, job.Error), nil
	}
	return "", nil
}

// outputRecords is how many records the output holds: in the stream, or committed in
// the Kafka topic.
func (r *run) outputRecords() (uint64, error) {
	if r.kafka != nil {
		n, err := r.kafka.readCommitted(r.ctx)
		return uint64(n), err
	}
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	defer cancel()
	d, err := r.client().DescribeStream(ctx, outputStream)
	return d.Records, err
}

// readOutput reads the whole output and marks the AfterCheckpoint kills that came
// before their checkpoint's commit.
func (r *run) readOutput() ([]string, error) {
	if r.kafka != nil {
		if _, err := r.kafka.readCommitted(r.ctx); err != nil {
			return nil, err
		}
		markKafkaCommits(r.report.Kills, r.kafka.markers)
		return r.kafka.lines, nil
	}
	recs, err := r.readStream(outputStream)
	if err != nil {
		return nil, err
	}
	lines := make([]string, len(recs))
	for i, rec := range recs {
		lines[i] = string(rec.Data)
	}
	markCommits(r.report.Kills, jobName, recs)
	return lines, nil
}

// settle is how long to keep waiting once every count is out: a duplicate would come
// from a commit repeated at a later checkpoint.
func (r *run) settle() time.Duration {
	return 3*r.cfg.CheckpointInterval + 500*time.Millisecond
}

// readStream reads a whole stream.
func (r *run) readStream(stream string) ([]wire.Record, error) {
	c := r.client()
	var it string
	if err := call(r.ctx, func(ctx context.Context) (err error) {
		it, err = c.GetIterator(ctx, stream, wire.GetIteratorRequest{Type: wire.TrimHorizon})
		return err
	}); err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	var recs []wire.Record
	for {
		var res wire.GetRecordsResponse
		if err := call(r.ctx, func(ctx context.Context) (err error) {
			res, err = c.GetRecords(ctx, stream, it, 10_000, 0)
			return err
		}); err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		if len(res.Records) == 0 {
			return recs, nil
		}
		recs = append(recs, res.Records...)
		it = res.NextIterator
	}
}

// startServer starts a server on the run's data dir and makes it the current one. A
// server that exits without being killed fails the run.
func (r *run) startServer() (*server, error) {
	srv, err := startServer(r.ctx, r.cfg.Binary, r.cfg.DataDir, r.cfg.CheckpointInterval)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.servers = append(r.servers, srv)
	r.mu.Unlock()
	go func() {
		<-srv.exited
		if !srv.killed.Load() {
			r.fail(fmt.Errorf("eddy serve (pid %d) exited by itself (%v):\n%s", srv.pid(), srv.err, srv.stderr))
		}
	}()
	r.logf("eddy serve (pid %d) serving on %s", srv.pid(), srv.url)
	return srv, nil
}

func (r *run) current() *server {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.servers[len(r.servers)-1]
}

func (r *run) client() *client.Client { return r.current().client }

// killAll kills every server the run started that is still running.
func (r *run) killAll() {
	r.mu.Lock()
	servers := r.servers
	r.mu.Unlock()
	for _, s := range servers {
		s.kill()
	}
}

// call runs an API call with a timeout.
func call(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return fn(ctx)
}

// sleep waits for d or until ctx ends, and reports whether it was not cut short.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
