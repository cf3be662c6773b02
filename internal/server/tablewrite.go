package server

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// TableWriter is the tables write path the HTTP API calls. Its errors are API errors:
// DatabaseNotFound and TableNotFound (404), TooManyRecords (400), and the like. A
// record it does not store is a rejection in the result, not an error. It may keep
// anything req holds: the server never reuses that memory.
//
// With Options.TableWriter set, the server also serves:
//
//	POST /v1/databases/{db}/tables/{table}/records   write records              200 WriteRecordsResponse
//	POST /write?db=&precision=                        InfluxDB 1.x line protocol  204
//	POST /api/v2/write?bucket=&org=&precision=        InfluxDB 2.x line protocol  204
//
// # The JSON write
//
// The body (see package wire) holds up to 10,000 records and optional common
// attributes. Each record has a time, dimensions, a measure name, a version and either
// value (a single-measure record: one measure named after the record's measure name) or
// measures (a multi-measure record: an object of measure names to values). Common
// attributes are a record without time: their dimensions are added to every record's,
// and their time unit, measure name, value or measures and version fill in what a
// record leaves out.
//
//   - time is an integer in timeUnit units (MILLISECONDS by default; SECONDS,
//     MICROSECONDS, NANOSECONDS), a string of such an integer, or an RFC 3339 string,
//     which is exact to the nanosecond whatever the unit.
//   - A value is a JSON number (a double: 58 is the double 58, as in Timestream), a
//     string (a varchar), true or false (a boolean), or a typed object {"type": T,
//     "value": V} with T one of double, bigint, varchar, boolean and timestamp. A bigint
//     is an integer or a string of one (for values beyond 2^53); a timestamp is
//     nanoseconds since 1970 or an RFC 3339 string; a double may also be "NaN",
//     "Infinity" or "-Infinity".
//   - null means absent, for any field, dimension or measure.
//
// The answer is 200 whenever the request was well formed: recordsIngested counts the
// records stored (total, memoryStore, magneticStore), unchanged those identical to
// stored ones, and rejectedRecords lists the others by index with a code (RecordTooOld,
// RecordTooNew, VersionConflict with existingVersion, InvalidRecord) and a reason.
// Unlike Timestream, whose RejectedRecordsException fails the call, a rejection never
// undoes or fails the stored records. A malformed body is a 400 that writes nothing:
// MalformedJSON (JSON syntax, with a byte offset), InvalidRecord (a field of the wrong
// type or value, named like records[12].measures.usage_user), UnknownField, or
// TooManyRecords. A body over 64 MiB is 413 RequestTooLarge. Bodies may be gzipped
// (Content-Encoding: gzip).
//
// # Line protocol
//
// See lineprotocol.go.
type TableWriter interface {
	Write(ctx context.Context, db, table string, req *tables.WriteRequest) (tables.WriteResult, error)
}

// maxWriteBodyBytes bounds a table write's body, decompressed. 10,000 records with ten
// dimensions and ten measures each take about 6 MiB of JSON.
const maxWriteBodyBytes = 64 << 20

// maxPooledWriteBytes keeps the body buffer of an unusually large write out of the pool.
const maxPooledWriteBytes = 8 << 20

// tableWriteRoutes serves the table write endpoints.
type tableWriteRoutes struct {
	s *Server
	w TableWriter
	// cat, when the server has the catalog, creates the tables line protocol points
	// name (see influx.go).
	cat TablesAPI
}

// writeBuffers are what one table write reuses across requests: the body and the
// decoders' scratch space and interned names.
type writeBuffers struct {
	body []byte
	dec  writeDecoder
	lp   lineDecoder
}

var writePool = sync.Pool{New: func() any { return new(writeBuffers) }}

func (s *Server) routeTableWrites(w TableWriter) {
	tw := &tableWriteRoutes{s: s, w: w, cat: s.opts.Tables}
	s.handleLimit("POST /v1/databases/{db}/tables/{table}/records", true, maxWriteBodyBytes, tw.writeRecords)
	s.handleLimit("POST /write", false, maxWriteBodyBytes, tw.influxV1)
	s.handleLimit("POST /api/v2/write", false, maxWriteBodyBytes, tw.influxV2)
	tw.routeInflux()
}

func (tw *tableWriteRoutes) writeRecords(w http.ResponseWriter, r *http.Request) {
	buf := writePool.Get().(*writeBuffers)
	defer buf.release()
	var err error
	if buf.body, err = readWriteBody(buf.body[:0], r); err != nil {
		tw.s.writeError(w, r, err)
		return
	}
	req, err := buf.dec.decode(buf.body)
	if err != nil {
		tw.s.writeError(w, r, err)
		return
	}
	res, err := tw.w.Write(r.Context(), r.PathValue("db"), r.PathValue("table"), req)
	if err != nil {
		tw.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.WriteResponse(res))
}

func (b *writeBuffers) release() {
	if cap(b.body) > maxPooledWriteBytes {
		b.body = nil
	}
	b.dec.p, b.lp.body = nil, nil
	writePool.Put(b)
}

// readWriteBody reads a write's body onto dst, decompressing it if it is gzipped.
func readWriteBody(dst []byte, r *http.Request) ([]byte, error) {
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if r.ContentLength > maxWriteBodyBytes {
			return dst, errWriteTooLarge()
		}
		if r.ContentLength > 0 && int64(cap(dst)) < r.ContentLength+1 {
			dst = make([]byte, 0, r.ContentLength+1) // +1 so the read that sees EOF needs no growth
		}
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return dst, apierr.New(apierr.Invalid, "MalformedBody", "the body is not gzip, as Content-Encoding says: %v", err)
		}
		// The limit on r.Body bounds the compressed size; this bounds what it inflates to.
		body = io.LimitReader(gz, maxWriteBodyBytes+1)
	default:
		return dst, apierr.New(apierr.Invalid, "UnsupportedContentEncoding", "Content-Encoding %q is not supported; send gzip or an uncompressed body", enc)
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > maxWriteBodyBytes {
			return dst, errWriteTooLarge()
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return dst, errWriteTooLarge()
			}
			if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
				return dst, apierr.New(apierr.Invalid, "MalformedBody", "reading the gzipped body: %v", err)
			}
			return dst, errMalformed("reading the request body: %v", err)
		}
	}
}

func errWriteTooLarge() error {
	return apierr.New(apierr.TooLarge, "RequestTooLarge", "the request body is larger than %d MiB; split the write", maxWriteBodyBytes>>20)
}
