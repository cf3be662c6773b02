package verify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// commitLog is the topic of the Kafka sink's commit markers (its default for the
// output topic outputStream).
const commitLog = outputStream + "-commit-log"

// kafkaOutput is the Kafka side of a RunningCountKafka run: an in-process Kafka cluster
// the job writes its counts to, and a read_committed reader of the output topic and of
// the sink's commit log. The cluster lives in the verify process, so it survives the
// kills of the server.
type kafkaOutput struct {
	cluster *kfake.Cluster
	reader  *kgo.Client
	adm     *kadm.Client
	// next is, per topic, the offset of partition 0 read up to.
	next map[string]int64
	// lines are the values of the committed output records read so far.
	lines []string
	// markers are the committed commit-log records read so far.
	markers []kafkaMarker
}

// kafkaMarker is a commit-log record: the sink committed checkpoint's transaction of
// one subtask at time.
type kafkaMarker struct {
	checkpoint int64
	time       time.Time
}

// startKafka starts a one-broker cluster on 127.0.0.1 with the output topic and the
// commit log, one partition each: the sink writes every record to partition 0.
func startKafka() (*kafkaOutput, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, outputStream, commitLog))
	if err != nil {
		return nil, fmt.Errorf("start kafka cluster: %w", err)
	}
	reader, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			outputStream: {0: kgo.NewOffset().AtStart()},
			commitLog:    {0: kgo.NewOffset().AtStart()},
		}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records move the read position past each transaction's end marker,
		// up to the last stable offset.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kafka reader: %w", err)
	}
	return &kafkaOutput{cluster: c, reader: reader, adm: kadm.NewClient(reader), next: map[string]int64{}}, nil
}

func (k *kafkaOutput) brokers() []string { return k.cluster.ListenAddrs() }

// close stops the reader and the cluster.
func (k *kafkaOutput) close() {
	k.reader.Close()
	k.cluster.Close()
}

// readCommitted reads the output topic and the commit log up to their last stable
// offsets and returns how many output records are committed.
func (k *kafkaOutput) readCommitted(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ends, err := k.adm.ListCommittedOffsets(ctx, outputStream, commitLog)
	if err != nil {
		return len(k.lines), fmt.Errorf("kafka: list last stable offsets: %w", err)
	}
	for _, topic := range []string{outputStream, commitLog} {
		end, ok := ends.Lookup(topic, 0)
		if !ok || end.Err != nil {
			return len(k.lines), fmt.Errorf("kafka: no last stable offset of %s: %v", topic, end.Err)
		}
		for k.next[topic] < end.Offset {
			fetches := k.reader.PollFetches(ctx)
			if err := fetches.Err(); err != nil {
				return len(k.lines), fmt.Errorf("kafka: read %s: %w", topic, err)
			}
			fetches.EachRecord(k.add)
		}
	}
	return len(k.lines), nil
}

func (k *kafkaOutput) add(r *kgo.Record) {
	k.next[r.Topic] = r.Offset + 1
	if r.Attrs.IsControl() {
		return
	}
	if r.Topic == outputStream {
		k.lines = append(k.lines, string(r.Value))
		return
	}
	if id, err := strconv.ParseInt(string(r.Value), 10, 64); err == nil {
		k.markers = append(k.markers, kafkaMarker{checkpoint: id, time: r.Timestamp})
	}
}

// markKafkaCommits sets BeforeCommit of the AfterCheckpoint kills from the commit log:
// the sink's transactions of a checkpoint committed after the kill when every marker
// of that checkpoint was produced after it. Kafka timestamps are whole milliseconds,
// so a commit in the millisecond of the kill counts as made before it.
func markKafkaCommits(kills []Kill, markers []kafkaMarker) {
	for i, k := range kills {
		if k.Timing != AfterCheckpoint {
			continue
		}
		var ts []time.Time
		for _, m := range markers {
			if m.checkpoint == k.Checkpoint {
				ts = append(ts, m.time)
			}
		}
		kills[i].BeforeCommit = len(ts) > 0 && !slices.ContainsFunc(ts, func(t time.Time) bool { return t.Before(k.Time) })
	}
}
