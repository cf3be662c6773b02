package streams

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// Record is one entry of a stream.
type Record struct {
	// PartitionKey picks the shard: one key always lands in one shard, in order.
	PartitionKey string
	// Data is the record's payload; eddy does not look inside it.
	Data []byte
	// ProducerID optionally names the record for idempotent puts: a repeat inside the
	// dedupe window is stored once and reported as a duplicate.
	ProducerID string
	// EventTime is when the event happened, if the producer knows; zero when absent.
	EventTime time.Time
}

// StoredRecord is a record read back from a shard.
type StoredRecord struct {
	Record
	Shard    string
	Sequence SequenceNumber
	// ArrivalTime is when the stream stored the record; retention counts from it.
	ArrivalTime time.Time
}

// Limits of the put API.
const (
	MaxRecordsPerPut   = 500
	MaxRecordBytes     = 1 << 20
	MaxPutBytes        = 5 << 20
	MaxPartitionKeyLen = 256
	MaxProducerIDLen   = 256
	MinShards          = 1
	MaxShards          = 1024
	MinRetention       = 24 * time.Hour
	MaxRetention       = 8760 * time.Hour
	DefaultRetention   = 24 * time.Hour
)

// maxRecordsPerMessage bounds a batch so a record's index fits the low bits of its
// sequence number.
const maxRecordsPerMessage = 1<<seqIndexBits - 1

// seqIndexBits is how many low bits of a sequence number hold the record's index in its
// batch; the high bits hold the batch's JetStream sequence.
const seqIndexBits = 16

// SequenceNumber identifies a record in its shard. Sequence numbers increase in the
// order records were stored in the shard; they are not contiguous.
type SequenceNumber uint64

func newSequence(msgSeq uint64, index int) SequenceNumber {
	return SequenceNumber(msgSeq<<seqIndexBits | uint64(index))
}

func (s SequenceNumber) messageSeq() uint64 { return uint64(s) >> seqIndexBits }
func (s SequenceNumber) index() int         { return int(uint64(s) & maxRecordsPerMessage) }

func (s SequenceNumber) String() string { return strconv.FormatUint(uint64(s), 10) }

// ParseSequenceNumber parses the decimal form String produces.
func ParseSequenceNumber(s string) (SequenceNumber, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, apierr.New(apierr.Invalid, "InvalidSequenceNumber", "sequence number %q is not an unsigned decimal integer", s)
	}
	return SequenceNumber(n), nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidateName checks a stream name: 1 to 128 letters, digits, '_' or '-', starting
// with a letter or digit. Dots and wildcards are excluded because the name becomes part
// of NATS subjects.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return apierr.New(apierr.Invalid, "InvalidStreamName",
			"stream name %q is invalid: use 1 to 128 letters, digits, '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// validateRecords checks a put request as a whole before anything is written, so a bad
// request writes nothing.
func validateRecords(recs []Record) error {
	if len(recs) == 0 {
		return apierr.New(apierr.Invalid, "EmptyPut", "a put needs at least one record")
	}
	if len(recs) > MaxRecordsPerPut {
		return apierr.New(apierr.TooLarge, "TooManyRecords", "a put holds at most %d records, got %d", MaxRecordsPerPut, len(recs))
	}
	total := 0
	for i := range recs {
		r := &recs[i]
		if len(r.PartitionKey) == 0 {
			return apierr.New(apierr.Invalid, "InvalidPartitionKey", "record %d: partition key is empty", i)
		}
		if len(r.PartitionKey) > MaxPartitionKeyLen {
			return apierr.New(apierr.Invalid, "InvalidPartitionKey", "record %d: partition key is %d bytes, limit %d", i, len(r.PartitionKey), MaxPartitionKeyLen)
		}
		if len(r.ProducerID) > MaxProducerIDLen {
			return apierr.New(apierr.Invalid, "InvalidProducerID", "record %d: producer record id is %d bytes, limit %d", i, len(r.ProducerID), MaxProducerIDLen)
		}
		if len(r.Data) > MaxRecordBytes {
			return apierr.New(apierr.TooLarge, "RecordTooLarge", "record %d: data is %d bytes, limit %d", i, len(r.Data), MaxRecordBytes)
		}
		total += len(r.Data) + len(r.PartitionKey)
	}
	if total > MaxPutBytes {
		return apierr.New(apierr.TooLarge, "PutTooLarge", "a put holds at most %d bytes of keys and data, got %d", MaxPutBytes, total)
	}
	return nil
}

func validateShardCount(n int) error {
	if n < MinShards || n > MaxShards {
		return apierr.New(apierr.Invalid, "InvalidShardCount", "shard count must be %d..%d, got %d", MinShards, MaxShards, n)
	}
	return nil
}

func (s *Service) validateRetention(d time.Duration) error {
	if d < s.opts.MinRetention || d > MaxRetention || d%time.Hour != 0 && s.opts.MinRetention >= time.Hour {
		return apierr.New(apierr.Invalid, "InvalidRetention", "retention must be whole hours from %s to %s, got %s",
			fmtHours(s.opts.MinRetention), fmtHours(MaxRetention), d)
	}
	return nil
}

func fmtHours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
