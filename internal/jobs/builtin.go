package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/connectors/eddystream"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Builtins are the jobs every eddy binary carries.
func Builtins() []Builtin {
	return []Builtin{runningCount, windowCount, streamFilter}
}

// runningCount keeps a running count per partition key and writes "<key> <count>" for
// every record: the simplest keyed running aggregate, and the job the crash tests run.
var runningCount = Builtin{
	Name:        "running-count",
	Description: "write \"<key> <n>\" for the n-th record of each partition key (a keyed running count)",
	Args: []Arg{
		{Name: "from", Help: "stream to read", Required: true},
		{Name: "to", Help: "stream to write counts to (created if missing)", Required: true},
		{Name: "start", Help: "where to start reading: TRIM_HORIZON or LATEST", Default: "TRIM_HORIZON"},
		{Name: "parallelism", Help: "subtasks of the counting operator", Default: "2"},
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
		counts := flow.Process(flow.KeyBy(keys, func(k string) string { return k }), "count", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, string, string] {
			n := flow.NewValueState[int64](rt, "n")
			return flow.KeyedProcessor[string, string, string]{Element: func(ctx *flow.ProcessContext[string, string], k string) {
				c, _ := n.Value()
				n.Update(c + 1)
				ctx.Emit(k + " " + strconv.FormatInt(c+1, 10))
			}}
		})
		toStream(env, args, counts, func(line string, _ int64) (streams.Record, error) {
			key, _, _ := strings.Cut(line, " ")
			return streams.Record{PartitionKey: key, Data: []byte(line)}, nil
		})
		return job, nil
	},
}

// windowCount counts a stream's records per partition key in tumbling windows of arrival
// time and writes one JSON record per key and window to another stream.
var windowCount = Builtin{
	Name:        "window-count",
	Description: "count records per partition key in tumbling windows of arrival time",
	Args: []Arg{
		{Name: "from", Help: "stream to read", Required: true},
		{Name: "to", Help: "stream to write counts to (created if missing)", Required: true},
		{Name: "window", Help: "window size", Default: "1m"},
		{Name: "start", Help: "where to start reading: TRIM_HORIZON or LATEST", Default: "LATEST"},
		{Name: "parallelism", Help: "subtasks of the counting operator", Default: "1"},
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

// streamFilter copies the records whose data contains a substring to another stream.
var streamFilter = Builtin{
	Name:        "stream-filter",
	Description: "copy the records whose data contains a substring to another stream, keeping partition keys",
	Args: []Arg{
		{Name: "from", Help: "stream to read", Required: true},
		{Name: "to", Help: "stream to write to (created if missing)", Required: true},
		{Name: "contains", Help: "substring a record's data must contain", Required: true},
		{Name: "start", Help: "where to start reading: TRIM_HORIZON or LATEST", Default: "LATEST"},
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
	start := streams.StartKind(args["start"])
	if start != streams.TrimHorizon && start != streams.Latest {
		return nil, apierr.New(apierr.Invalid, "InvalidArgument", "start %q must be TRIM_HORIZON or LATEST", args["start"])
	}
	if _, err := env.Streams.Describe(context.Background(), args["from"]); err != nil {
		return nil, err
	}
	return eddystream.NewSource(eddystream.SourceConfig[T]{
		Service: env.Streams, Stream: args["from"], Start: streams.Start{Kind: start}, Decode: decode, Idleness: 5 * time.Second,
	})
}

func ensureStream(env Env, name string) error {
	if _, err := env.Streams.Create(context.Background(), name, streams.Config{Shards: 1}); err != nil && apierr.CodeOf(err) != "StreamExists" {
		return err
	}
	return nil
}
