package verify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/jobs"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// The built-in jobs ExactlyOnce can run, and the settings it runs the windowed ones with.
const (
	RunningCount      = "running-count"
	RunningCountKafka = "running-count-kafka"
	SlidingCount      = "sliding-count"
	SessionCount      = "session-count"
	IntervalJoin      = "interval-join"

	slidingWindow = time.Second
	slidingSlide  = 250 * time.Millisecond
	sessionGap    = 300 * time.Millisecond
	joinLower     = -10 * time.Millisecond
	joinUpper     = 20 * time.Millisecond
)

// Jobs lists the jobs Config.Job may name.
var Jobs = []string{RunningCount, RunningCountKafka, SlidingCount, SessionCount, IntervalJoin}

// inputShards is how many shards each input stream has.
const inputShards = 2

// inputs are the streams the job reads: the join reads a left and a right stream.
func (r *run) inputs() []string {
	if r.cfg.Job == IntervalJoin {
		return []string{"left", "right"}
	}
	return []string{inputStream}
}

// input is the stream event i is put into: the join's events alternate between its
// streams a round of keys at a time, so every key has records on both sides.
func (r *run) input(i int) string {
	in := r.inputs()
	return in[(i/r.cfg.Keys)%len(in)]
}

// jobArgs are the arguments the job is started with.
func (r *run) jobArgs() map[string]string {
	switch r.cfg.Job {
	case SlidingCount:
		return map[string]string{"from": inputStream, "to": outputStream, "window": slidingWindow.String(), "slide": slidingSlide.String()}
	case SessionCount:
		return map[string]string{"from": inputStream, "to": outputStream, "gap": sessionGap.String()}
	case IntervalJoin:
		return map[string]string{"left": "left", "right": "right", "to": outputStream, "lower": joinLower.String(), "upper": joinUpper.String()}
	case RunningCountKafka:
		return map[string]string{"from": inputStream, "brokers": strings.Join(r.kafka.brokers(), ","), "topic": outputStream}
	}
	return map[string]string{"from": inputStream, "to": outputStream}
}

// counts says whether the job writes running counts, checked per key, rather than
// lines computed by brute force from the input.
func (r *run) counts() bool {
	return r.cfg.Job == RunningCount || r.cfg.Job == RunningCountKafka
}

// span is how long after a record its last window closes.
func (r *run) span() time.Duration {
	switch r.cfg.Job {
	case SlidingCount:
		return slidingWindow
	case SessionCount:
		return sessionGap
	}
	return 0
}

// closeWindows waits until every window of the events fed can close, then puts a
// jobs.WatermarkRecord into every shard of every input: the job drops them, but they
// move each shard's watermark to their arrival, past the end of every window. The
// join emits a pair as soon as its second record arrives and needs none.
func (r *run) closeWindows() error {
	if r.cfg.Job != SlidingCount && r.cfg.Job != SessionCount {
		return nil
	}
	if !sleep(r.ctx, r.span()+100*time.Millisecond) {
		return context.Cause(r.ctx)
	}
	for _, stream := range r.inputs() {
		shards := map[string]bool{}
		for attempt := 0; len(shards) < inputShards; attempt++ {
			if attempt == 100 {
				return fmt.Errorf("put watermark records: %d of %d shards of %s reached", len(shards), inputShards, stream)
			}
			var recs []wire.PutRecord
			for j := range 16 {
				recs = append(recs, wire.PutRecord{PartitionKey: fmt.Sprintf("watermark-%d-%d", attempt, j), Text: jobs.WatermarkRecord})
			}
			var res wire.PutRecordsResponse
			err := call(r.ctx, func(ctx context.Context) (err error) {
				res, err = r.client().PutRecords(ctx, stream, recs)
				return err
			})
			if err != nil {
				return fmt.Errorf("put watermark records into %s: %w", stream, err)
			}
			for _, rr := range res.Records {
				if rr.ErrorCode == "" {
					shards[rr.Shard] = true
				}
			}
		}
	}
	r.logf("put watermark records into every shard, %s after the last event", r.span()+100*time.Millisecond)
	return nil
}

// event is an input record as read back: its key, sequence number and arrival in Unix
// milliseconds, the job's event time.
type event struct {
	key, seq string
	t        int64
}

// readEvents reads an input stream back, without its watermark records.
func (r *run) readEvents(stream string) ([]event, error) {
	recs, err := r.readStream(stream)
	if err != nil {
		return nil, err
	}
	var out []event
	for _, rec := range recs {
		if string(rec.Data) != jobs.WatermarkRecord {
			out = append(out, event{key: rec.PartitionKey, seq: rec.SequenceNumber, t: rec.ArrivalTime.UnixMilli()})
		}
	}
	return out, nil
}

// expected computes by brute force, from the input as stored, the lines a windowed job
// or the join must write, each once.
func (r *run) expected() ([]string, error) {
	var in [][]event
	for _, s := range r.inputs() {
		evs, err := r.readEvents(s)
		if err != nil {
			return nil, err
		}
		in = append(in, evs)
	}
	switch r.cfg.Job {
	case SlidingCount:
		return expectSliding(in[0], slidingWindow.Milliseconds(), slidingSlide.Milliseconds()), nil
	case SessionCount:
		return expectSessions(in[0], sessionGap.Milliseconds()), nil
	case IntervalJoin:
		return expectJoin(in[0], in[1], joinLower.Milliseconds(), joinUpper.Milliseconds()), nil
	}
	return nil, fmt.Errorf("job %s has no brute-force expectation", r.cfg.Job)
}

// byKey groups events by key, keys sorted.
func byKey(evs []event) ([]string, map[string][]event) {
	m := map[string][]event{}
	for _, e := range evs {
		m[e.key] = append(m[e.key], e)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, m
}

// expectSliding counts, for every window [s, s+size) with s a multiple of slide, the
// events of each key in it: "<key> <s> <count>" for the windows that hold any.
func expectSliding(evs []event, size, slide int64) []string {
	var out []string
	keys, m := byKey(evs)
	for _, k := range keys {
		lo, hi := m[k][0].t, m[k][0].t
		for _, e := range m[k] {
			lo, hi = min(lo, e.t), max(hi, e.t)
		}
		first := lo - size
		first -= ((first % slide) + slide) % slide
		for s := first; s <= hi; s += slide {
			n := 0
			for _, e := range m[k] {
				if e.t >= s && e.t < s+size {
					n++
				}
			}
			if n > 0 {
				out = append(out, k+" "+strconv.FormatInt(s, 10)+" "+strconv.Itoa(n))
			}
		}
	}
	return out
}

// expectSessions splits each key's events, in time order, wherever two are more than
// gap apart: "<key> <first> <last+gap> <count>" per session. Events exactly gap apart
// share a session, as flow's session windows [t, t+gap) merge when they touch.
func expectSessions(evs []event, gap int64) []string {
	var out []string
	keys, m := byKey(evs)
	for _, k := range keys {
		ts := make([]int64, len(m[k]))
		for i, e := range m[k] {
			ts[i] = e.t
		}
		slices.Sort(ts)
		start, n := ts[0], 0
		for i, t := range ts {
			if i > 0 && t-ts[i-1] > gap {
				out = append(out, fmt.Sprintf("%s %d %d %d", k, start, ts[i-1]+gap, n))
				start, n = t, 0
			}
			n++
		}
		out = append(out, fmt.Sprintf("%s %d %d %d", k, start, ts[len(ts)-1]+gap, n))
	}
	return out
}

// expectJoin pairs every left event with every right event of its key that arrived in
// [left+lower, left+upper]: "<key> <leftSeq> <rightSeq>".
func expectJoin(left, right []event, lower, upper int64) []string {
	var out []string
	_, rm := byKey(right)
	for _, a := range left {
		for _, b := range rm[a.key] {
			if d := b.t - a.t; d >= lower && d <= upper {
				out = append(out, a.key+" "+a.seq+" "+b.seq)
			}
		}
	}
	return out
}
