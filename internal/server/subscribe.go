package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

// keepaliveEvery is how long a quiet subscription goes without writing anything; a
// write this often keeps proxies from closing the connection as idle.
const keepaliveEvery = 15 * time.Second

// subscribeReadLimit is the most records one read of a subscription takes.
const subscribeReadLimit = 1000

// subscribe tails a stream (or one shard) until the client goes away or the server
// drains.
//
// As server-sent events (the default), each record is one event whose data is the
// record's JSON. The last event of every read also carries an id: the iterator to resume
// from, which an EventSource sends back as Last-Event-ID when it reconnects; a resume
// may therefore repeat the records of one read. An idle subscription gets a
// ": keepalive" comment every 15 s. The subscription ends with an "end" event when a
// closed shard has been read to its end, and with an "error" event when it fails; both
// carry a wire.SubscriptionEnd.
//
// As newline-delimited JSON (Accept: application/x-ndjson or ?format=ndjson), each line
// is a record, the keepalive is an empty line, and the last line of a subscription that
// ended from the server's side is a wire.SubscriptionEnd.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	var ndjson bool
	switch f := q.Get("format"); f {
	case "ndjson":
		ndjson = true
	case "sse":
	case "":
		ndjson = strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
	default:
		s.writeError(w, r, errParam("format", "%q is neither sse nor ndjson", f))
		return
	}
	cur, err := s.subscriptionStart(r, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	rc := http.NewResponseController(w)
	// A subscription outlives any write timeout the http.Server sets.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	if ndjson {
		h.Set("Content-Type", "application/x-ndjson")
	} else {
		h.Set("Content-Type", "text/event-stream")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell nginx not to buffer the stream
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}

	ctx, cancel := s.untilDrain(r.Context())
	defer cancel()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for {
		res, err := s.opts.Streams.Read(ctx, cur, subscribeReadLimit, keepaliveEvery)
		if r.Context().Err() != nil {
			return
		}
		buf.Reset()
		var end *wire.SubscriptionEnd
		switch {
		case s.stop.Err() != nil:
			end = &wire.SubscriptionEnd{Error: ptr(errorBody(errShuttingDown()))}
		case err != nil:
			e, ok := apierr.As(err)
			if !ok {
				s.log.Error("subscription read failed", "stream", name, "err", err)
				e = &apierr.Error{Code: "InternalFailure", Message: err.Error()}
			}
			end = &wire.SubscriptionEnd{Error: ptr(errorBody(e))}
		}
		if end == nil {
			for i := range res.Records {
				if !ndjson {
					if i == len(res.Records)-1 {
						buf.WriteString("id: ")
						buf.WriteString(res.Next.Token())
						buf.WriteByte('\n')
					}
					buf.WriteString("data: ")
				}
				_ = enc.Encode(wireRecord(&res.Records[i])) // wire types always encode
				if !ndjson {
					buf.WriteByte('\n')
				}
			}
			if len(res.Records) == 0 && !res.ShardEnded {
				if ndjson {
					buf.WriteByte('\n')
				} else {
					buf.WriteString(": keepalive\n\n")
				}
			}
			if res.ShardEnded {
				end = &wire.SubscriptionEnd{ShardEnded: true}
			}
		}
		if end != nil {
			if !ndjson {
				if end.Error != nil {
					buf.WriteString("event: error\ndata: ")
				} else {
					buf.WriteString("event: end\ndata: ")
				}
			}
			_ = enc.Encode(end)
			if !ndjson {
				buf.WriteByte('\n')
			}
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if err := rc.Flush(); err != nil || end != nil {
			return
		}
		cur = res.Next
	}
}

// subscriptionStart resolves where a subscription starts: at the iterator it resumes
// (Last-Event-ID or ?iterator=), or at the start the query describes, LATEST by default.
func (s *Server) subscriptionStart(r *http.Request, name string) (streams.Cursor, error) {
	q := r.URL.Query()
	token := q.Get("iterator")
	if token == "" {
		token = r.Header.Get("Last-Event-ID")
	}
	if token != "" {
		cur, err := streams.ParseCursor(token)
		if err != nil {
			return streams.Cursor{}, err
		}
		if cur.Stream != name {
			return streams.Cursor{}, apierr.New(apierr.Invalid, "InvalidIterator", "the iterator reads stream %q, not %q", cur.Stream, name)
		}
		return cur, nil
	}
	typ := q.Get("type")
	if typ == "" {
		typ = wire.Latest
	}
	var ts time.Time
	if v := q.Get("timestamp"); v != "" {
		var err error
		if ts, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return streams.Cursor{}, errParam("timestamp", "%q is not an RFC 3339 time such as 2025-01-02T15:04:05Z", v)
		}
	}
	start, err := parseStart(typ, q.Get("sequenceNumber"), ts)
	if err != nil {
		return streams.Cursor{}, err
	}
	return s.opts.Streams.Cursor(r.Context(), name, q.Get("shard"), start)
}

func ptr[T any](v T) *T { return &v }
