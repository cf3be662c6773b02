package server

import (
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

// putBuffers are the buffers one put needs, reused across requests: the body, the
// decoded records and the response.
type putBuffers struct {
	body []byte
	dec  putDecoder
	out  []byte
}

var putPool = sync.Pool{New: func() any { return new(putBuffers) }}

// maxPooledBytes keeps the buffers of an unusually large put out of the pool, so one
// big request does not pin its memory for good.
const maxPooledBytes = 2 << 20

func (s *Server) putRecords(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxBodyBytes {
		s.writeError(w, r, errRequestTooLarge())
		return
	}
	buf := putPool.Get().(*putBuffers)
	reuse := true
	defer func() {
		if reuse && cap(buf.body) <= maxPooledBytes && cap(buf.dec.arena) <= maxPooledBytes {
			putPool.Put(buf)
		}
	}()
	var err error
	if buf.body, err = readBody(buf.body[:0], r); err != nil {
		s.writeError(w, r, err)
		return
	}
	recs, err := buf.dec.decode(buf.body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	results, err := s.opts.Streams.Put(r.Context(), r.PathValue("name"), recs)
	if err != nil {
		// A put abandoned because the client went away may leave records queued in the
		// service, still pointing into the buffers: those must not be reused.
		reuse = r.Context().Err() == nil
		s.writeError(w, r, err)
		return
	}
	buf.out = appendPutResponse(buf.out[:0], results)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(buf.out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.out)
}

// readBody reads the request body onto dst.
func readBody(dst []byte, r *http.Request) ([]byte, error) {
	if r.ContentLength > 0 && int64(cap(dst)) < r.ContentLength+1 {
		dst = make([]byte, 0, r.ContentLength+1) // +1 so the read that sees EOF needs no growth
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			if tooLarge, ok := bodyTooLarge(err); ok {
				return dst, tooLarge
			}
			return dst, errMalformed("reading the request body: %v", err)
		}
	}
}

// appendPutResponse appends the JSON of a wire.PutRecordsResponse for results. It
// writes what encoding/json would, without a value per record.
func appendPutResponse(b []byte, results []streams.PutResult) []byte {
	b = append(b, `{"failedCount":`...)
	b = strconv.AppendInt(b, int64(streams.Failed(results)), 10)
	b = append(b, `,"records":[`...)
	for i := range results {
		res := &results[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if res.Shard != "" {
			b = append(b, `"shard":`...)
			b = wire.AppendString(b, res.Shard)
			b = append(b, ',')
		}
		if res.Err != nil {
			b = append(b, `"errorCode":`...)
			b = wire.AppendString(b, res.Err.Code)
			b = append(b, `,"errorMessage":`...)
			b = wire.AppendString(b, res.Err.Message)
		} else {
			b = append(b, `"sequenceNumber":"`...)
			b = strconv.AppendUint(b, uint64(res.Sequence), 10)
			b = append(b, '"')
			if res.Duplicate {
				b = append(b, `,"duplicate":true`...)
			}
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}
