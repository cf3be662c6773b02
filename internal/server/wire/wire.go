// Package wire defines the JSON bodies of eddy's HTTP API, shared by the server and the
// Go client so the two cannot disagree about a field.
//
// Conventions: field names are camelCase; times are RFC 3339 with nanoseconds; sequence
// numbers and hash keys are decimal strings, because they exceed the 2^53 that a
// JavaScript number holds exactly; retention is whole hours (retentionHours); binary
// record data is standard base64 with padding.
package wire

import (
	"net/http"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// Error is the body of every response with a status of 400 or above.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// CreateStreamRequest is the body of POST /v1/streams.
type CreateStreamRequest struct {
	Name string `json:"name"`
	// Shards defaults to 1.
	Shards int `json:"shards,omitempty"`
	// RetentionHours defaults to 24.
	RetentionHours int `json:"retentionHours,omitempty"`
}

// UpdateStreamRequest is the body of PATCH /v1/streams/{name}; each field given is applied.
type UpdateStreamRequest struct {
	RetentionHours *int `json:"retentionHours,omitempty"`
	Shards         *int `json:"shards,omitempty"`
}

// StreamSummary is one stream in a list.
type StreamSummary struct {
	Name           string    `json:"name"`
	OpenShards     int       `json:"openShards"`
	RetentionHours int       `json:"retentionHours"`
	Created        time.Time `json:"created"`
}

// ListStreamsResponse is the body of GET /v1/streams.
type ListStreamsResponse struct {
	Streams []StreamSummary `json:"streams"`
}

// StreamDescription is the body of GET /v1/streams/{name}, and of the calls that create
// or change a stream.
type StreamDescription struct {
	Name           string    `json:"name"`
	RetentionHours int       `json:"retentionHours"`
	Created        time.Time `json:"created"`
	// OpenShards is how many shards take writes; Shards also lists the closed ones.
	OpenShards int       `json:"openShards"`
	Records    uint64    `json:"records"`
	Bytes      uint64    `json:"bytes"`
	Oldest     time.Time `json:"oldest,omitzero"`
	Newest     time.Time `json:"newest,omitzero"`
	Shards     []Shard   `json:"shards"`
}

// Shard describes one shard of a stream.
type Shard struct {
	ID string `json:"id"`
	// HashKeyStart and HashKeyEnd bound, inclusively, the 64-bit hash keys of the
	// partition keys the shard holds, as decimal strings.
	HashKeyStart string `json:"hashKeyStart"`
	HashKeyEnd   string `json:"hashKeyEnd"`
	// Parents are the shards whose hash keys this one took over in a reshard.
	Parents []string  `json:"parents,omitempty"`
	Closed  bool      `json:"closed"`
	Records uint64    `json:"records"`
	Oldest  time.Time `json:"oldest,omitzero"`
	Newest  time.Time `json:"newest,omitzero"`
}

// PutRecordsRequest is the body of POST /v1/streams/{name}/records.
type PutRecordsRequest struct {
	Records []PutRecord `json:"records"`
}

// PutRecord is one record to store. Its payload is Data (base64 on the wire) or Text
// (UTF-8), never both; a record with neither has an empty payload.
type PutRecord struct {
	PartitionKey string `json:"partitionKey"`
	Data         []byte `json:"data,omitempty"`
	Text         string `json:"text,omitempty"`
	// ProducerID makes the put idempotent: a repeat inside the dedupe window is stored
	// once and reported as a duplicate.
	ProducerID string    `json:"producerId,omitempty"`
	EventTime  time.Time `json:"eventTime,omitzero"`
}

// PutRecordsResponse is the body of a put's 200 response: one result per record, in
// request order. The status is 200 even when every record failed (as in Kinesis): check
// FailedCount.
type PutRecordsResponse struct {
	FailedCount int               `json:"failedCount"`
	Records     []PutRecordResult `json:"records"`
}

// PutRecordResult is the outcome for one record: a shard and sequence number, or an
// error code and message.
type PutRecordResult struct {
	Shard          string `json:"shard,omitempty"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	// Duplicate says the record repeated a producer id; SequenceNumber is the first copy's.
	Duplicate    bool   `json:"duplicate,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// Where a reader starts, the values of GetIteratorRequest.Type and of the subscribe
// call's type parameter.
const (
	TrimHorizon   = "TRIM_HORIZON"
	Latest        = "LATEST"
	AtSequence    = "AT_SEQUENCE"
	AfterSequence = "AFTER_SEQUENCE"
	AtTimestamp   = "AT_TIMESTAMP"
)

// GetIteratorRequest is the body of POST /v1/streams/{name}/iterators.
type GetIteratorRequest struct {
	// Shard to read; empty reads the whole stream in the order records were stored.
	Shard string `json:"shard,omitempty"`
	// Type is one of TrimHorizon (the default), Latest, AtSequence, AfterSequence and
	// AtTimestamp.
	Type           string    `json:"type,omitempty"`
	SequenceNumber string    `json:"sequenceNumber,omitempty"`
	Timestamp      time.Time `json:"timestamp,omitzero"`
}

// GetIteratorResponse carries an iterator: an opaque token naming a reading position.
type GetIteratorResponse struct {
	Iterator string `json:"iterator"`
}

// Record is a stored record as reads and subscriptions return it.
type Record struct {
	Shard          string    `json:"shard"`
	SequenceNumber string    `json:"sequenceNumber"`
	PartitionKey   string    `json:"partitionKey"`
	Data           []byte    `json:"data"`
	ProducerID     string    `json:"producerId,omitempty"`
	EventTime      time.Time `json:"eventTime,omitzero"`
	ArrivalTime    time.Time `json:"arrivalTime"`
}

// GetRecordsResponse is the body of GET /v1/streams/{name}/records.
type GetRecordsResponse struct {
	Records []Record `json:"records"`
	// NextIterator continues after the records returned.
	NextIterator string `json:"nextIterator"`
	// MillisBehindLatest is how far the last record returned lags the newest one.
	MillisBehindLatest int64 `json:"millisBehindLatest"`
	// ShardEnded says the shard was closed by a reshard and has been read to its end:
	// continue with its child shards.
	ShardEnded bool `json:"shardEnded,omitempty"`
}

// statusOfKind is the HTTP status for each kind of API error.
var statusOfKind = map[apierr.Kind]int{
	apierr.Invalid:         http.StatusBadRequest,
	apierr.NotFound:        http.StatusNotFound,
	apierr.Conflict:        http.StatusConflict,
	apierr.TooLarge:        http.StatusRequestEntityTooLarge,
	apierr.Gone:            http.StatusGone,
	apierr.StorageFull:     http.StatusInsufficientStorage,
	apierr.Unavailable:     http.StatusServiceUnavailable,
	apierr.Unauthenticated: http.StatusUnauthorized,
	apierr.Forbidden:       http.StatusForbidden,
	apierr.Timeout:         http.StatusGatewayTimeout,
}

// Status is the HTTP status for an API error of kind k; 500 for an unknown kind.
func Status(k apierr.Kind) int {
	if s, ok := statusOfKind[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// KindOf is the kind of API error an HTTP status stands for, the inverse of Status. A
// status no kind maps to, such as 405 or 500, gives 0.
func KindOf(status int) apierr.Kind {
	for k, s := range statusOfKind {
		if s == status {
			return k
		}
	}
	return 0
}

// SubscriptionEnd is the last message of a subscription that the server ended: a
// closed shard read to its end, or an error. In NDJSON it is the last line; as
// server-sent events it is the data of an "end" or "error" event.
type SubscriptionEnd struct {
	ShardEnded bool   `json:"shardEnded,omitempty"`
	Error      *Error `json:"error,omitempty"`
}
