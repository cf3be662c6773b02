package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/connectors/eddystream"
	"github.com/eddy-streams/eddy/internal/connectors/kafka"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Builtins are the jobs every eddy binary carries.
func Builtins() []Builtin {
	return []Builtin{runningCount, runningCountKafka, windowCount, slidingCount, sessionCount, intervalJoin, streamFilter}
}

// runningCount keeps a running count per partition key and writes "<key> <count>" for
// every record: the simplest keyed running aggregate, and the job the crash tests run.
var runningCount = Builtin{
	Name:        "running-count",
	Description: "write \"<key> <n>\" for the n-th record of each partition key (a keyed running count)",
	Args: []Arg{
		argFrom,
		argTo("counts"),
		argStart("TRIM_HORIZON"),
		argParallelism("counting", "2"),
	},
	Build: func(env Env, args map[string]string) (*flow.Job, error) {
		par, err := parallelism(args)
		if err != nil {
			return nil, err
		}
		job, keys, err := streamJob(env, args, par, partitionKey)
		if err != nil {
			return nil, err
		}
		toStream(env, args, keyedCount(keys), lineRecord)
		return job, nil
	},
}

// runningCountKafka is running-count writing to a Kafka topic through the exactly-once
// Kafka sink: the job the crash tests run to check that sink.
var runningCountKafka = Builtin{
	Name:        "running-count-kafka",
	Description: "write \"<key> <n>\" for the n-th record of each partition key to a Kafka topic (a keyed running count), keyed by <key>",
	Args: []Arg{
		argFrom,
		{Name: "brokers", Help: "Kafka seed brokers, comma-separated host:port", Required: true},
		{Name: "topic", Help: "Kafka topic to write counts to (must exist; the commit log \"<topic>-commit-log\" is created if missing)", Required: true},
		argStart("TRIM_HORIZON"),
		argParallelism("counting", "2"),
	},
	Build: func(env Env, args map[string]string) (*flow.Job, error) {
		par, err := parallelism(args)
		if err != nil {
			return nil, err
		}
		var brokers []string
		for _, b := range strings.Split(args["brokers"], ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokers = append(brokers, b)
			}
		}
		if len(brokers) == 0 {
			return nil, apierr.New(apierr.Invalid, "InvalidArgument", "brokers %q names no broker", args["brokers"])
		}
		src, err := streamSource(env, args, partitionKey)
		if err != nil {
			return nil, err
		}
		job := flow.NewJob(env.JobName, env.JobOptions(par))
		keys := flow.FromSource(job, "read "+args["from"], 1, src)
		flow.SinkTo(keyedCount(keys), "write "+args["topic"], kafka.NewSink(kafka.SinkConfig[string]{
			Client: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Topic: args["topic"],
			ExactlyOnce: env.Checkpoints != nil, ID: env.JobName + "/out",
			Encode: func(line string, _ int64) (*kgo.Record, error) {
				key, _, _ := strings.Cut(line, " ")
				return &kgo.Record{Key: []byte(key), Value: []byte(line)}, nil
			},
		}))
		return job, nil
	},
}

// keyedCount is the counting of running-count: "<key> <n>" for the n-th key.
func keyedCount(keys *flow.Stream[string]) *flow.Stream[string] {
	return flow.Process(flow.KeyBy(keys, func(k string) string { return k }), "count", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, string, string] {
		n := flow.NewValueState[int64](rt, "n")
		return flow.KeyedProcessor[string, string, string]{Element: func(ctx *flow.ProcessContext[string, string], k string) {
			c, _ := n.Value()
			n.Update(c + 1)
			ctx.Emit(k + " " + strconv.FormatInt(c+1, 10))
		}}
	})
}

// windowCount counts a stream's records per partition key in tumbling windows of arrival
// time and writes one JSON record per key and window to another stream.
var windowCount = Builtin{
	Name:        "window-count",
	Description: "count records per partition key in tumbling windows of arrival time",
	Args: []Arg{
		argFrom,
		argTo("counts"),
		{Name: "window", Help: "window size", Default: "1m"},
		argStart("LATEST"),
		argParallelism("counting", "1"),
	},
	Build: func(env Env, args map[string]string) (*flow.Job, error) {
		size, err := time.ParseDuration(args["window"])
		if err != nil || size < time.Millisecond {
			return nil, apierr.New(apierr.Invalid, "InvalidArgument", "window %q is not a duration of at least 1ms", args["window"])
		}
		par, err := parallelism(args)
		if err != nil {
			return nil, err
		}
		job, keys, err := streamJob(env, args, par, partitionKey)
		if err != nil {
			return nil, err
		}
		counts := flow.WindowAggregate(flow.KeyBy(keys, func(k string) string { return k }), "count", flow.Tumbling(size), flow.Count[string]())
		toStream(env, args, counts, func(w flow.WindowResult[string, int64], _ int64) (streams.Record, error) {
			data, err := json.Marshal(map[string]any{
				"key": w.Key, "windowStart": time.UnixMilli(w.Window.Start).UTC(), "windowEnd": time.UnixMilli(w.Window.End).UTC(), "count": w.Value,
			})
			return streams.Record{PartitionKey: w.Key, Data: data}, err
		})
		return job, nil
	},
}

// WatermarkRecord is the data of a record that moves the event time of sliding-count,
// session-count and interval-join to its arrival time without being counted or joined:
// a producer that stops puts one in every shard, a window span after its last record, so
// that every window still open fires.
const WatermarkRecord = "eddy:watermark"

// arrivalIdleness is how long a shard of the arrival-time jobs may go without records
// before it stops holding back event time. It matters only for shards that get few or
// no records: arrival times are assigned by the server as records are stored, so a record
// stored after a shard was read is never older than anything read before, and none is
// late, whichever shards are idle.
const arrivalIdleness = time.Second

// arrival is a record of the arrival-time jobs, timed by its arrival: the source's
// out-of-orderness bound is 0, which loses nothing as arrival times never decrease
// within a shard and the watermark trails the smallest of the shards' latest arrivals.
// Its fields are exported as the join keeps arrivals in gob-encoded state.
type arrival struct {
	Key, Seq string
	Mark     bool // a WatermarkRecord
}

func decodeArrival(r *streams.StoredRecord) (arrival, int64, error) {
	return arrival{Key: strings.Clone(r.PartitionKey), Seq: r.Sequence.String(), Mark: string(r.Data) == WatermarkRecord}, r.ArrivalTime.UnixMilli(), nil
}

// arrivals reads stream as keyed arrivals, WatermarkRecords dropped once they have moved
// the source's watermark.
func arrivals(env Env, job *flow.Job, stream, start string) (*flow.KeyedStream[string, arrival], error) {
	src, err := newSource(env, stream, start, decodeArrival, arrivalIdleness)
	if err != nil {
		return nil, err
	}
	in := flow.Filter(flow.FromSource(job, "read "+stream, 1, src), "drop watermark records", func(a arrival) bool { return !a.Mark })
	return flow.KeyBy(in, func(a arrival) string { return a.Key }), nil
}

func durationArg(args map[string]string, name string, minimum time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(args[name])
	if err != nil || d < minimum {
		return 0, apierr.New(apierr.Invalid, "InvalidArgument", "%s %q is not a duration of at least %s", name, args[name], minimum)
	}
	return d, nil
}

// slidingCount counts records per partition key in sliding windows of arrival time.
var slidingCount = Builtin{
	Name:        "sliding-count",
	Description: "write \"<key> <windowStart> <count>\" per partition key and sliding window of arrival time (Unix ms)",
	Args: []Arg{
		argFrom,
		argTo("counts"),
		{Name: "window", Help: "window size, a multiple of slide", Default: "2s"},
		{Name: "slide", Help: "how often a window starts", Default: "500ms"},
		argStart("TRIM_HORIZON"),
		argParallelism("counting", "2"),
	},
	Build: func(env Env, args map[string]string) (*flow.Job, error) {
		size, err := durationArg(args, "window", time.Millisecond)
		if err != nil {
			return nil, err
		}
		slide, err := durationArg(args, "slide", time.Millisecond)
		if err != nil {
			return nil, err
		}
		if size%slide != 0 || size.Milliseconds()%slide.Milliseconds() != 0 {
			return nil, apierr.New(apierr.Invalid, "InvalidArgument", "window %s is not a multiple of slide %s", size, slide)
		}
		return windowedCount(env, args, flow.Sliding(size, slide), func(w flow.WindowResult[string, int64]) string {
			return fmt.Sprintf("%s %d %d", w.Key, w.Window.Start, w.Value)
		})
	},
}

// sessionCount counts records per partition key in session windows of arrival time.
var sessionCount = Builtin{
	Name:        "session-count",
	Description: "write \"<key> <sessionStart> <sessionEnd> <count>\" per partition key and session of arrival time (Unix ms; a session ends gap after its last record)",
	Args: []Arg{
		argFrom,
		argTo("counts"),
		{Name: "gap", Help: "a session ends after this long without records of its key", Default: "300ms"},
		argStart("TRIM_HORIZON"),
		argParallelism("counting", "2"),
	},
	Build: func(env Env, args map[string]string) (*flow.Job, error) {
		gap, err := durationArg(args, "gap", time.Millisecond)
		if err != nil {
			return nil, err
		}
		return windowedCount(env, args, flow.Session(gap), func(w flow.WindowResult[string, int64]) string {
			return fmt.Sprintf("%s %d %d %d", w.Key, w.Window.Start, w.Window.End, w.Value)
		})
	},
}

// windowedCount is the job of sliding-count and session-count.
func windowedCount(env Env, args map[string]string, w flow.WindowAssigner, format func(flow.WindowResult[string, int64]) string) (*flow.Job, error) {
	par, err := parallelism(args)
	if err != nil {
		return nil, err
	}
	if err := ensureStream(env, args["to"]); err != nil {
		return nil, err
	}
	job := flow.NewJob(env.JobName, env.JobOptions(par))
	keyed, err := arrivals(env, job, args["from"], args["start"])
	if err != nil {
		return nil, err
	}
	counts := flow.WindowAggregate(keyed, "count", w, flow.Count[arrival]())
	toStream(env, args, counts, func(r flow.WindowResult[string, int64], _ int64) (streams.Record, error) {
		return streams.Record{PartitionKey: r.Key, Data: []byte(format(r))}, nil
	})
	return job, nil
}

// intervalJoin pairs the records of two streams that share a partition key and arrived
// close to each other.
var intervalJoin = Builtin{
	Name:        "interval-join",
	Description: "write \"<key> <leftSeq> <rightSeq>\" for each left and right record of a partition key with right arrival in [left+lower, left+upper]",
	Args: []Arg{
		{Name: "left", Help: "left stream to read", Required: true},
		{Name: "right", Help: "right stream to read", Required: true},
		argTo("pairs"),
		{Name: "lower", Help: "lower bound of the right record's arrival, relative to the left's", Default: "-100ms"},
		{Name: "upper", Help: "upper bound of the right record's arrival, relative to the left's", Default: "100ms"},
		argStart("TRIM_HORIZON"),
		argParallelism("join", "2"),
	},
	Build: func(env Env, args map[string]string) (*flow.Job, error) {
		lower, err := time.ParseDuration(args["lower"])
		if err != nil {
			return nil, apierr.New(apierr.Invalid, "InvalidArgument", "lower %q is not a duration", args["lower"])
		}
		upper, err := time.ParseDuration(args["upper"])
		if err != nil || upper < lower {
			return nil, apierr.New(apierr.Invalid, "InvalidArgument", "upper %q is not a duration of at least lower %s", args["upper"], lower)
		}
		par, err := parallelism(args)
		if err != nil {
			return nil, err
		}
		if err := ensureStream(env, args["to"]); err != nil {
			return nil, err
		}
		job := flow.NewJob(env.JobName, env.JobOptions(par))
		left, err := arrivals(env, job, args["left"], args["start"])
		if err != nil {
			return nil, err
		}
		right, err := arrivals(env, job, args["right"], args["start"])
		if err != nil {
			return nil, err
		}
		pairs := flow.IntervalJoin(left, right, "join", lower, upper, func(a, b arrival) string {
			return a.Key + " " + a.Seq + " " + b.Seq
		})
		toStream(env, args, pairs, lineRecord)
		return job, nil
	},
}

// streamFilter copies the records whose data contains a substring to another stream.
var streamFilter = Builtin{
	Name:        "stream-filter",
	Description: "copy the records whose data contains a substring to another stream, keeping partition keys",
	Args: []Arg{
		argFrom,
		argTo("records"),
		{Name: "contains", Help: "substring a record's data must contain", Required: true},
		argStart("LATEST"),
	},
	Build: func(env Env, args map[string]string) (*flow.Job, error) {
		type rec struct {
			key  string
			data []byte
		}
		src, err := streamSource(env, args, func(r *streams.StoredRecord) (rec, int64, error) {
			return rec{key: strings.Clone(r.PartitionKey), data: append([]byte(nil), r.Data...)}, r.ArrivalTime.UnixMilli(), nil
		})
		if err != nil {
			return nil, err
		}
		if err := ensureStream(env, args["to"]); err != nil {
			return nil, err
		}
		needle := []byte(args["contains"])
		job := flow.NewJob(env.JobName, env.JobOptions(1))
		in := flow.FromSource(job, "read "+args["from"], 1, src)
		kept := flow.Filter(in, "contains", func(r rec) bool { return strings.Contains(string(r.data), string(needle)) })
		flow.SinkTo(kept, "write "+args["to"], eddystream.NewSink(eddystream.SinkConfig[rec]{
			Service: env.Streams, Stream: args["to"], ExactlyOnce: env.Checkpoints != nil, ID: env.JobName + "/out",
			Encode: func(r rec, _ int64) (streams.Record, error) {
				return streams.Record{PartitionKey: r.key, Data: r.data}, nil
			},
		}))
		return job, nil
	},
}

func parallelism(args map[string]string) (int, error) {
	var p int
	if _, err := fmt.Sscan(args["parallelism"], &p); err != nil || p < 1 || p > 128 {
		return 0, apierr.New(apierr.Invalid, "InvalidArgument", "parallelism %q must be 1..128", args["parallelism"])
	}
	return p, nil
}

// lineRecord stores a line of output keyed by its first word, the input's partition key.
func lineRecord(line string, _ int64) (streams.Record, error) {
	key, _, _ := strings.Cut(line, " ")
	return streams.Record{PartitionKey: key, Data: []byte(line)}, nil
}

// partitionKey decodes a record as its partition key, timed by its arrival.
func partitionKey(r *streams.StoredRecord) (string, int64, error) {
	return strings.Clone(r.PartitionKey), r.ArrivalTime.UnixMilli(), nil
}

// streamJob starts a job that reads args["from"] and will write args["to"] (created if
// missing): the shape every built-in job has.
func streamJob[T any](env Env, args map[string]string, parallelism int, decode func(*streams.StoredRecord) (T, int64, error)) (*flow.Job, *flow.Stream[T], error) {
	src, err := streamSource(env, args, decode)
	if err != nil {
		return nil, nil, err
	}
	if err := ensureStream(env, args["to"]); err != nil {
		return nil, nil, err
	}
	job := flow.NewJob(env.JobName, env.JobOptions(parallelism))
	return job, flow.FromSource(job, "read "+args["from"], 1, src), nil
}

// toStream writes s to args["to"], exactly-once when the server checkpoints.
func toStream[T any](env Env, args map[string]string, s *flow.Stream[T], encode func(T, int64) (streams.Record, error)) {
	flow.SinkTo(s, "write "+args["to"], eddystream.NewSink(eddystream.SinkConfig[T]{
		Service: env.Streams, Stream: args["to"], ExactlyOnce: env.Checkpoints != nil, ID: env.JobName + "/out",
		Encode: encode,
	}))
}

func streamSource[T any](env Env, args map[string]string, decode func(*streams.StoredRecord) (T, int64, error)) (*eddystream.Source[T], error) {
	return newSource(env, args["from"], args["start"], decode, 5*time.Second)
}

func newSource[T any](env Env, stream, start string, decode func(*streams.StoredRecord) (T, int64, error), idleness time.Duration) (*eddystream.Source[T], error) {
	from, err := parseStart(start)
	if err != nil {
		return nil, err
	}
	if _, err := env.Streams.Describe(context.Background(), stream); err != nil {
		return nil, err
	}
	return eddystream.NewSource(eddystream.SourceConfig[T]{
		Service: env.Streams, Stream: stream, Start: from, Decode: decode, Idleness: idleness,
	})
}

// The arguments most built-in jobs share.
var argFrom = Arg{Name: "from", Help: "stream to read", Required: true}

func argTo(what string) Arg {
	return Arg{Name: "to", Help: "stream to write " + what + " to (created if missing)", Required: true}
}

func argStart(def string) Arg {
	return Arg{Name: "start", Help: "where to start reading: TRIM_HORIZON, LATEST (recorded as the start time) or AT_TIMESTAMP:<RFC 3339 time>", Default: def}
}

func argParallelism(operator, def string) Arg {
	return Arg{Name: "parallelism", Help: "subtasks of the " + operator + " operator", Default: def}
}

// parseStart reads a start argument: TRIM_HORIZON, LATEST, or AT_TIMESTAMP:<RFC 3339>,
// which the manager records in place of LATEST when a job starts.
func parseStart(start string) (streams.Start, error) {
	switch kind := streams.StartKind(start); kind {
	case streams.TrimHorizon, streams.Latest:
		return streams.Start{Kind: kind}, nil
	}
	if at, ok := strings.CutPrefix(start, string(streams.AtTimestamp)+":"); ok {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err == nil {
			return streams.Start{Kind: streams.AtTimestamp, Timestamp: t}, nil
		}
	}
	return streams.Start{}, apierr.New(apierr.Invalid, "InvalidArgument", "start %q must be TRIM_HORIZON, LATEST or AT_TIMESTAMP:<RFC 3339 time>", start)
}

func ensureStream(env Env, name string) error {
	if _, err := env.Streams.Create(context.Background(), name, streams.Config{Shards: 1}); err != nil && apierr.CodeOf(err) != "StreamExists" {
		return err
	}
	return nil
}
