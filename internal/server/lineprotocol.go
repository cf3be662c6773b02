package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// InfluxDB line protocol, for Telegraf and the InfluxDB client libraries:
//
//	POST /write?db=<db>&precision=ns|us|ms|s|m|h          (InfluxDB 1.x; rp, u and consistency are ignored)
//	POST /api/v2/write?bucket=<db>&org=<any>&precision=ns|us|ms|s   (InfluxDB 2.x; bucket "db/rp" means db)
//
// Each point becomes a multi-measure record of table <measurement> in database db: its
// tags are the dimensions, its fields the measures, and the measurement also names the
// measure set. A float field is a double, an integer (5i) or unsigned (5u, at most
// 2^63-1) field a bigint, a string a varchar, a boolean a boolean. The time is in the
// precision given (nanoseconds by default); a point without one gets the server's time.
// Points are grouped by measurement into writes of up to 10,000 records.
//
// The answer is 204 when every point was stored (or found identical), as InfluxDB
// answers. A malformed point fails the whole request before anything is written: 400
// InvalidLineProtocol with its line and column, like InfluxDB's first parse error. A
// point a table rejects does not stop the others: the answer is then 400 PartialWrite
// (InfluxDB's "partial write"), whose message counts the rejected points and names the
// first few by their position in the body (point 1 is the first). A table that does not
// exist is created (see influx.go); without the catalog, or when its database does not
// exist, it rejects all its points with TableNotFound or DatabaseNotFound, unless no point
// could be written at all, which is that error itself (404).
//
// Credentials are an eddy token, given as InfluxDB clients give theirs:
// "Authorization: Token <token>" (2.x), "Authorization: Bearer <token>", basic auth with
// the token as password, or ?p=<token> (1.x). Error bodies are {"code", "message"} as in
// InfluxDB 2.x, plus "error" on /write, which 1.x clients print.

// maxLineBatch is the most records of one write the line protocol endpoints send.
const maxLineBatch = tables.MaxRecordsPerWrite

// partialWriteListed is how many rejected points a PartialWrite message names.
const partialWriteListed = 5

func (tw *tableWriteRoutes) influxV1(w http.ResponseWriter, r *http.Request) {
	tw.lineProtocol(w, r, true)
}

func (tw *tableWriteRoutes) influxV2(w http.ResponseWriter, r *http.Request) {
	tw.lineProtocol(w, r, false)
}

func (tw *tableWriteRoutes) lineProtocol(w http.ResponseWriter, r *http.Request, v1 bool) {
	if err := tw.influxAuth(r); err != nil {
		writeInfluxError(w, err, v1)
		return
	}
	q := r.URL.Query()
	db := q.Get("db")
	if !v1 {
		// InfluxDB 1.8's 2.x endpoint takes "database/retention-policy" buckets.
		db, _, _ = strings.Cut(q.Get("bucket"), "/")
	}
	if db == "" {
		param := "bucket"
		if v1 {
			param = "db"
		}
		writeInfluxError(w, errMissing(param, "the eddy database to write to"), v1)
		return
	}
	prec, err := precision(q.Get("precision"))
	if err != nil {
		writeInfluxError(w, err, v1)
		return
	}
	buf := writePool.Get().(*writeBuffers)
	defer buf.release()
	if buf.body, err = readWriteBody(buf.body[:0], r); err != nil {
		writeInfluxError(w, err, v1)
		return
	}
	batches, err := buf.lp.decode(buf.body, prec, time.Now())
	if err != nil {
		writeInfluxError(w, err, v1)
		return
	}
	var (
		rejected []string
		nRej     int
		written  bool
		firstErr error
	)
	for _, b := range batches {
		res, err := tw.w.Write(r.Context(), db, b.table, &b.req)
		if err != nil {
			retry, why := tw.createOnWrite(db, b.table, err)
			if retry {
				if res, err = tw.w.Write(r.Context(), db, b.table, &b.req); isCode(err, tables.CodeTableNotFound) {
					err = why
				}
			} else {
				err = why
			}
		}
		if err != nil {
			e, ok := apierr.As(err)
			if !ok || !tableError(e) {
				// An outage, or an error for every table: stop. Retrying the request is
				// safe, as writing a record again with the same values changes nothing.
				if !ok {
					tw.s.log.Error("line protocol write failed", "db", db, "table", b.table, "err", err)
				}
				writeInfluxError(w, err, v1)
				return
			}
			if firstErr == nil {
				firstErr = err
			}
			for _, p := range b.points {
				if nRej++; len(rejected) < partialWriteListed {
					rejected = append(rejected, fmt.Sprintf("point %d (table %s): %s: %s", p, b.table, e.Code, e.Message))
				}
			}
			continue
		}
		written = true
		for _, rej := range res.Rejected {
			if nRej++; len(rejected) < partialWriteListed {
				rejected = append(rejected, fmt.Sprintf("point %d (table %s): %s: %s", b.points[rej.Index], b.table, rej.Code, rej.Reason))
			}
		}
	}
	if !written && firstErr != nil {
		writeInfluxError(w, firstErr, v1)
		return
	}
	if nRej == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	msg := fmt.Sprintf("partial write: %d of %d points were not stored (the others were): %s", nRej, buf.lp.points, strings.Join(rejected, "; "))
	if nRej > len(rejected) {
		msg += fmt.Sprintf("; and %d more", nRej-len(rejected))
	}
	writeInfluxError(w, apierr.New(apierr.Invalid, "PartialWrite", "%s", msg), v1)
}

// tableError reports whether a write's error concerns its table only (the table does not
// exist, or rejects the whole request), so the other tables' points may still be written.
func tableError(e *apierr.Error) bool {
	return e.Code == "TableNotFound" || e.Kind == apierr.Invalid || e.Kind == apierr.Conflict || e.Kind == apierr.TooLarge
}

// influxAuth checks the token in any of the forms InfluxDB clients send credentials.
func (tw *tableWriteRoutes) influxAuth(r *http.Request) error {
	var token string
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case h == "":
		token = r.URL.Query().Get("p")
	case strings.EqualFold(scheme, "Bearer"):
		token = rest
	case strings.EqualFold(scheme, "Token"):
		// InfluxDB 1.8 takes "Token user:password" on its 2.x endpoint; eddy tokens have no ':'.
		token = rest[strings.LastIndexByte(rest, ':')+1:]
	case strings.EqualFold(scheme, "Basic"):
		_, token, _ = r.BasicAuth()
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return apierr.New(apierr.Unauthenticated, "Unauthenticated",
			"this call needs an eddy token: \"Authorization: Token <token>\", \"Authorization: Bearer <token>\", basic auth with the token as password, or ?p=<token>")
	}
	if _, ok := tw.s.opts.Auth.Verify(token); !ok {
		return apierr.New(apierr.Unauthenticated, "Unauthenticated", "the token is not valid (revoked, or from another eddy data dir)")
	}
	return nil
}

// influxError is the error body of the line protocol endpoints: wire.Error, which is
// also InfluxDB 2.x's shape, and for 1.x clients the message again as "error".
type influxError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

func writeInfluxError(w http.ResponseWriter, err error, v1 bool) {
	e, ok := apierr.As(err)
	if !ok {
		e = &apierr.Error{Code: "InternalFailure", Message: err.Error()}
	}
	body := influxError{Code: e.Code, Message: e.Message}
	if v1 {
		body.Error = e.Message
	}
	status := http.StatusInternalServerError
	if ok {
		status = wire.Status(e.Kind)
	}
	writeJSON(w, status, body)
}

// precision parses the precision parameter of both InfluxDB versions.
func precision(p string) (time.Duration, error) {
	switch p {
	case "", "n", "ns":
		return time.Nanosecond, nil
	case "u", "us", "µ", "µs":
		return time.Microsecond, nil
	case "ms":
		return time.Millisecond, nil
	case "s":
		return time.Second, nil
	case "m":
		return time.Minute, nil
	case "h":
		return time.Hour, nil
	}
	return 0, errParam("precision", "%q is not one of ns, us, ms, s, m and h", p)
}

// lineBatch is one write the line protocol endpoints send: records of one table.
type lineBatch struct {
	table string
	req   tables.WriteRequest
	// points holds each record's position in the body, counted from 1.
	points []int
}

// lineDecoder turns a line protocol body into writes. It is reused across requests;
// the records it makes are the writer's to keep (see recordMemory).
type lineDecoder struct {
	body                 []byte
	mem                  recordMemory
	tagNames, fieldNames nameCache
	batches              []*lineBatch
	open                 map[string]*lineBatch // the batch taking each table's next points
	points               int
}

// decode parses body into writes of up to maxLineBatch records per table, in the order
// of each write's first point. Times are in units of prec; now is the time of points
// without one.
func (d *lineDecoder) decode(body []byte, prec time.Duration, now time.Time) ([]*lineBatch, error) {
	d.body, d.batches, d.points = body, nil, 0
	d.tagNames.reset()
	d.fieldNames.reset()
	clear(d.open)
	if d.open == nil {
		d.open = map[string]*lineBatch{}
	}
	dec := lineprotocol.NewDecoderWithBytes(body)
	for dec.Next() {
		d.points++
		if err := d.point(dec, prec, now); err != nil {
			var de *lineprotocol.DecodeError
			if errors.As(err, &de) {
				return nil, apierr.New(apierr.Invalid, "InvalidLineProtocol", "line %d, column %d: %v", de.Line, de.Column, de.Err)
			}
			return nil, err
		}
	}
	return d.batches, nil
}

func (d *lineDecoder) point(dec *lineprotocol.Decoder, prec time.Duration, now time.Time) error {
	m, err := dec.Measurement()
	if err != nil {
		return err
	}
	table := d.mem.name(m)
	d.mem.beginRecord()
	same := true
	for j := 0; ; j++ {
		k, v, err := dec.NextTag()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		var name string
		var dup bool
		if name, same, dup = d.tagNames.name(&d.mem, j, k, same); dup {
			return d.invalid("tag %q appears twice", name)
		}
		d.mem.dims.add(tables.Dimension{Name: name, Value: d.tagNames.value(&d.mem, j, v)})
	}
	same = true
	for j := 0; ; j++ {
		k, v, err := dec.NextField()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		var name string
		var dup bool
		if name, same, dup = d.fieldNames.name(&d.mem, j, k, same); dup {
			return d.invalid("field %q appears twice", name)
		}
		var val tables.Value
		switch v.Kind() {
		case lineprotocol.Float:
			val = tables.DoubleValue(v.FloatV())
		case lineprotocol.Int:
			val = tables.BigIntValue(v.IntV())
		case lineprotocol.Uint:
			u := v.UintV()
			if u > math.MaxInt64 {
				return d.invalid("field %q: %du is beyond a bigint (at most %d)", name, u, int64(math.MaxInt64))
			}
			val = tables.BigIntValue(int64(u))
		case lineprotocol.String:
			val = tables.VarcharValue(d.mem.str(v.BytesV()))
		case lineprotocol.Bool:
			val = tables.BooleanValue(v.BoolV())
		}
		d.mem.measures.add(tables.Measure{Name: name, Value: val})
	}
	if d.mem.measures.count() == 0 {
		return d.invalid("a point needs at least one field")
	}
	tb, err := dec.TimeBytes()
	if err != nil {
		return err
	}
	ns := now.UnixNano()
	if tb != nil {
		t, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(tb), len(tb)), 10, 64)
		if err != nil || t > math.MaxInt64/int64(prec) || t < math.MinInt64/int64(prec) {
			return d.invalid("timestamp %s is not an integer that fits in 64 bits of nanoseconds", tb)
		}
		ns = t * int64(prec)
	}

	b := d.open[table]
	if b == nil || len(b.req.Records) == maxLineBatch {
		b = &lineBatch{table: table, req: tables.WriteRequest{Common: tables.Record{TimeUnit: tables.Nanoseconds, MeasureName: table}}}
		d.batches = append(d.batches, b)
		d.open[table] = b
	}
	b.req.Records = append(b.req.Records, tables.Record{
		Time:       ns,
		Dimensions: d.mem.dims.record(),
		Measures:   d.mem.measures.record(),
	})
	b.points = append(b.points, d.points)
	return nil
}

// invalid reports a point that parses but cannot be written.
func (d *lineDecoder) invalid(format string, args ...any) error {
	return apierr.New(apierr.Invalid, "InvalidLineProtocol", "point %d: %s", d.points, fmt.Sprintf(format, args...))
}
