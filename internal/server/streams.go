package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

func (s *Server) createStream(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateStreamRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	retention, err := hours(req.RetentionHours)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	info, err := s.opts.Streams.Create(r.Context(), req.Name, streams.Config{Shards: req.Shards, Retention: retention})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/streams/"+info.Name)
	writeJSON(w, http.StatusCreated, description(info))
}

// hours converts retentionHours, refusing values so large the duration would overflow
// (the service judges the rest).
func hours(h int) (time.Duration, error) {
	if max := int(streams.MaxRetention / time.Hour); h > max {
		return 0, apierr.New(apierr.Invalid, "InvalidRetention", "retentionHours must be at most %d, got %d", max, h)
	}
	return time.Duration(h) * time.Hour, nil
}

func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) {
	list, err := s.opts.Streams.List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := wire.ListStreamsResponse{Streams: make([]wire.StreamSummary, len(list))}
	for i, st := range list {
		out.Streams[i] = wire.StreamSummary{Name: st.Name, OpenShards: st.OpenShards, RetentionHours: int(st.Retention / time.Hour), Created: st.Created}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) describeStream(w http.ResponseWriter, r *http.Request) {
	info, err := s.opts.Streams.Describe(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, description(info))
}

func (s *Server) updateStream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req wire.UpdateStreamRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.RetentionHours == nil && req.Shards == nil {
		s.writeError(w, r, apierr.New(apierr.Invalid, "EmptyUpdate", "give retentionHours, shards or both"))
		return
	}
	var info streams.Info
	if req.RetentionHours != nil {
		retention, err := hours(*req.RetentionHours)
		if err == nil {
			info, err = s.opts.Streams.UpdateRetention(r.Context(), name, retention)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if req.Shards != nil {
		var err error
		if info, err = s.opts.Streams.UpdateShardCount(r.Context(), name, *req.Shards); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, description(info))
}

func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request) {
	if err := s.opts.Streams.Delete(r.Context(), r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func description(info streams.Info) wire.StreamDescription {
	out := wire.StreamDescription{
		Name:           info.Name,
		RetentionHours: int(info.Retention / time.Hour),
		Created:        info.Created,
		OpenShards:     info.OpenShards,
		Records:        info.Records,
		Bytes:          info.Bytes,
		Oldest:         info.Oldest,
		Newest:         info.Newest,
		Shards:         make([]wire.Shard, len(info.Shards)),
	}
	for i, sh := range info.Shards {
		out.Shards[i] = wire.Shard{
			ID:           sh.ID,
			HashKeyStart: strconv.FormatUint(sh.HashKeyStart, 10),
			HashKeyEnd:   strconv.FormatUint(sh.HashKeyEnd, 10),
			Parents:      sh.Parents,
			Closed:       sh.Closed,
			Records:      sh.Records,
			Oldest:       sh.Oldest,
			Newest:       sh.Newest,
		}
	}
	return out
}

func (s *Server) getIterator(w http.ResponseWriter, r *http.Request) {
	var req wire.GetIteratorRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	start, err := parseStart(req.Type, req.SequenceNumber, req.Timestamp)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cur, err := s.opts.Streams.Cursor(r.Context(), r.PathValue("name"), req.Shard, start)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.GetIteratorResponse{Iterator: cur.Token()})
}

// parseStart checks that a starting point has what its type needs and nothing else.
func parseStart(typ, seq string, ts time.Time) (streams.Start, error) {
	switch typ {
	case "", wire.TrimHorizon, wire.Latest, wire.AtSequence, wire.AfterSequence, wire.AtTimestamp:
	default:
		return streams.Start{}, apierr.New(apierr.Invalid, "InvalidStart", "unknown type %q: use TRIM_HORIZON, LATEST, AT_SEQUENCE, AFTER_SEQUENCE or AT_TIMESTAMP", typ)
	}
	atSeq := typ == wire.AtSequence || typ == wire.AfterSequence
	atTime := typ == wire.AtTimestamp
	switch {
	case atSeq && seq == "":
		return streams.Start{}, errMissing("sequenceNumber", "type "+typ+" starts at a record's sequence number")
	case !atSeq && seq != "":
		return streams.Start{}, errParam("sequenceNumber", "only AT_SEQUENCE and AFTER_SEQUENCE take a sequence number, not type %q", typ)
	case atTime && ts.IsZero():
		return streams.Start{}, errMissing("timestamp", "type AT_TIMESTAMP starts at a time (RFC 3339)")
	case !atTime && !ts.IsZero():
		return streams.Start{}, errParam("timestamp", "only AT_TIMESTAMP takes a timestamp, not type %q", typ)
	}
	start := streams.Start{Kind: streams.StartKind(typ), Timestamp: ts}
	if atSeq {
		n, err := streams.ParseSequenceNumber(seq)
		if err != nil {
			return streams.Start{}, err
		}
		start.Sequence = n
	}
	return start, nil
}

func (s *Server) getRecords(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	token := q.Get("iterator")
	if token == "" {
		s.writeError(w, r, errMissing("iterator", "get one from POST /v1/streams/"+name+"/iterators"))
		return
	}
	cur, err := streams.ParseCursor(token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if cur.Stream != name {
		s.writeError(w, r, apierr.New(apierr.Invalid, "InvalidIterator", "the iterator reads stream %q, not %q", cur.Stream, name))
		return
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 {
			s.writeError(w, r, errParam("limit", "%q is not a positive whole number", v))
			return
		}
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil {
			s.writeError(w, r, errParam("wait", "%q is not a duration such as 5s or 500ms", v))
			return
		}
	}
	if wait > 0 {
		// A long poll may outlast the server's write timeout.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + 30*time.Second))
	}
	ctx, cancel := s.untilDrain(r.Context())
	defer cancel()
	res, err := s.opts.Streams.Read(ctx, cur, limit, wait)
	if err != nil {
		if s.stop.Err() != nil {
			err = errShuttingDown()
		}
		s.writeError(w, r, err)
		return
	}
	out := wire.GetRecordsResponse{
		Records:            make([]wire.Record, len(res.Records)),
		NextIterator:       res.Next.Token(),
		MillisBehindLatest: res.BehindLatest.Milliseconds(),
		ShardEnded:         res.ShardEnded,
	}
	for i := range res.Records {
		out.Records[i] = wireRecord(&res.Records[i])
	}
	writeJSON(w, http.StatusOK, out)
}

func wireRecord(r *streams.StoredRecord) wire.Record {
	data := r.Data
	if data == nil {
		data = []byte{}
	}
	return wire.Record{
		Shard:          r.Shard,
		SequenceNumber: r.Sequence.String(),
		PartitionKey:   r.PartitionKey,
		Data:           data,
		ProducerID:     r.ProducerID,
		EventTime:      r.EventTime,
		ArrivalTime:    r.ArrivalTime,
	}
}

// untilDrain returns a context that ends with the request or when Drain is called.
func (s *Server) untilDrain(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.stop, cancel)
	return ctx, func() { stop(); cancel() }
}

func errShuttingDown() *apierr.Error {
	return apierr.New(apierr.Unavailable, "ShuttingDown", "the server is shutting down; retry against it once it is back")
}
