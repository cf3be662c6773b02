package server

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// exampleWrite is the write body of the route documentation.
const exampleWrite = `{"common": {"dimensions": {"region": "eu-west"}, "timeUnit": "MILLISECONDS", "measureName": "cpu", "version": 1},
 "records": [
   {"time": 1764000000000, "dimensions": {"host": "a"}, "measureName": "cpu", "measures": {"usage_user": 58, "usage_system": 2.5}, "version": 2},
   {"time": "2026-11-25T10:00:00Z", "dimensions": {"host": "b"}, "measureName": "temperature", "value": 21.5},
   {"time": 1764000000000, "dimensions": {"host": "c"}, "measureName": "status", "value": {"type": "varchar", "value": "ok"}}
 ]}`

func dims(kv ...string) []tables.Dimension {
	var out []tables.Dimension
	for i := 0; i < len(kv); i += 2 {
		out = append(out, tables.Dimension{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestDecodeWriteAccepts(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, body string
		want       tables.WriteRequest
	}{
		{"example", exampleWrite, tables.WriteRequest{
			Common: tables.Record{Dimensions: dims("region", "eu-west"), TimeUnit: tables.Milliseconds, MeasureName: "cpu", Version: 1},
			Records: []tables.Record{
				{Time: 1764000000000, Dimensions: dims("host", "a"), MeasureName: "cpu", Version: 2, Measures: []tables.Measure{
					{Name: "usage_user", Value: tables.DoubleValue(58)}, {Name: "usage_system", Value: tables.DoubleValue(2.5)}}},
				{Time: ts.UnixNano(), TimeUnit: tables.Nanoseconds, Dimensions: dims("host", "b"), MeasureName: "temperature",
					Measures: []tables.Measure{{Name: "temperature", Value: tables.DoubleValue(21.5)}}},
				{Time: 1764000000000, Dimensions: dims("host", "c"), MeasureName: "status",
					Measures: []tables.Measure{{Name: "status", Value: tables.VarcharValue("ok")}}},
			}}},
		{"empty", ` {} `, tables.WriteRequest{}},
		{"nulls are absent", `{"common":null,"records":[{"time":5,"timeUnit":null,"dimensions":{"a":null,"b":"x"},"measures":{"m":null,"n":true},"version":null}]}`,
			tables.WriteRequest{Records: []tables.Record{{Time: 5, Dimensions: dims("b", "x"), Measures: []tables.Measure{{Name: "n", Value: tables.BooleanValue(true)}}}}}},
		{"typed values, value before type", `{"records":[{"time":"-12","timeUnit":"SECONDS","measures":{
			"big":{"value":"9223372036854775807","type":"bigint"},"neg":{"type":"bigint","value":-3},
			"ts":{"type":"timestamp","value":"2026-11-25T10:00:00.5Z"},"tsn":{"value":42,"type":"timestamp"},
			"nan":{"type":"double","value":"NaN"},"inf":{"type":"double","value":"-Infinity"},"d":{"type":"double","value":1e3},
			"b":{"type":"boolean","value":false},"s":{"type":"varchar","value":"\u00e9\n"}}}]}`,
			tables.WriteRequest{Records: []tables.Record{{Time: -12, TimeUnit: tables.Seconds, Measures: []tables.Measure{
				{Name: "big", Value: tables.BigIntValue(math.MaxInt64)}, {Name: "neg", Value: tables.BigIntValue(-3)},
				{Name: "ts", Value: tables.TimestampValue(ts.Add(500 * time.Millisecond))}, {Name: "tsn", Value: tables.Value{Type: tables.Timestamp, I: 42}},
				{Name: "nan", Value: tables.DoubleValue(math.NaN())}, {Name: "inf", Value: tables.DoubleValue(math.Inf(-1))},
				{Name: "d", Value: tables.DoubleValue(1000)}, {Name: "b", Value: tables.BooleanValue(false)}, {Name: "s", Value: tables.VarcharValue("é\n")},
			}}}}},
		{"common value, escaped names", `{"common":{"value":-0.0,"measures":null},"records":[{"time":0,"dimensions":{"h\"o\\st":"\ud83d\ude00"},"value":"v"}]}`,
			tables.WriteRequest{Common: tables.Record{Measures: []tables.Measure{{Value: tables.DoubleValue(math.Copysign(0, -1))}}},
				Records: []tables.Record{{Dimensions: dims("h\"o\\st", "😀"), Measures: []tables.Measure{{Value: tables.VarcharValue("v")}}}}}},
		{"RFC 3339 time with offset and nanoseconds", `{"records":[{"time":"2026-11-25T11:00:00.000000001+01:00","timeUnit":"SECONDS"}]}`,
			tables.WriteRequest{Records: []tables.Record{{Time: ts.UnixNano() + 1, TimeUnit: tables.Nanoseconds}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d writeDecoder
			got, err := d.decode([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffRequests(&tc.want, got); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

func TestDecodeWriteRejects(t *testing.T) {
	many := `{"records":[` + strings.Repeat(`{"time":1},`, tables.MaxRecordsPerWrite) + `{"time":1}]}`
	for _, tc := range []struct {
		body, code string
		parts      []string
	}{
		{``, "MalformedJSON", []string{"must be a JSON object"}},
		{`[]`, "MalformedJSON", []string{"must be a JSON object"}},
		{`{"records":{}}`, "MalformedJSON", []string{"records: want an array, got an object"}},
		{`{"records":[1]}`, tables.CodeInvalidRecord, []string{"records[0]: want an object, got a number"}},
		{`{"records":[{"time":1},{"time":2,"measures":{"usage_user":[1]}}]}`, tables.CodeInvalidRecord,
			[]string{"records[1].measures.usage_user: want a number, string, boolean or typed value, got an array"}},
		{`{"records":[{"dimensions":{}}]}`, tables.CodeInvalidRecord, []string{"records[0]: time is required"}},
		{`{"records":[{"time":1.5}]}`, tables.CodeInvalidRecord, []string{"records[0].time: want an integer, got 1.5"}},
		{`{"records":[{"time":true}]}`, tables.CodeInvalidRecord, []string{"records[0].time: want an integer or an RFC 3339 string, got a boolean"}},
		{`{"records":[{"time":"yesterday"}]}`, tables.CodeInvalidRecord, []string{"records[0].time", "not an RFC 3339 time"}},
		{`{"records":[{"time":"3000-01-01T00:00:00Z"}]}`, tables.CodeInvalidRecord, []string{"outside the years"}},
		{`{"records":[{"time":99999999999999999999}]}`, tables.CodeInvalidRecord, []string{"does not fit in 64 bits"}},
		{`{"records":[{"time":1,"timeUnit":"MINUTES"}]}`, tables.CodeInvalidRecord, []string{"records[0].timeUnit", `"MINUTES"`}},
		{`{"records":[{"time":1,"value":1,"measures":{}}]}`, tables.CodeInvalidRecord, []string{"records[0]: give value", "not both"}},
		{`{"records":[{"time":1,"size":3}]}`, "UnknownField", []string{`records[0]: unknown field "size"`}},
		{`{"common":{"time":1}}`, "UnknownField", []string{`common: unknown field "time"`, "each record has its own time"}},
		{`{"record":[]}`, "UnknownField", []string{`"record"`}},
		{`{"records":[{"time":1,"value":{"type":"int","value":1}}]}`, tables.CodeInvalidRecord, []string{"records[0].value", `type "int"`}},
		{`{"records":[{"time":1,"measures":{"n":{"type":"bigint","value":1.5}}}]}`, tables.CodeInvalidRecord, []string{"records[0].measures.n: want an integer, got 1.5"}},
		{`{"records":[{"time":1,"measures":{"n":{"type":"bigint","value":"9223372036854775808"}}}]}`, tables.CodeInvalidRecord, []string{"fits a bigint"}},
		{`{"records":[{"time":1,"measures":{"n":{"value":1}}}]}`, tables.CodeInvalidRecord, []string{"needs a \"type\""}},
		{`{"records":[{"time":1,"measures":{"n":{"type":"double"}}}]}`, tables.CodeInvalidRecord, []string{"needs a \"value\""}},
		{`{"records":[{"time":1,"measures":{"n":{"type":"double","value":"1"}}}]}`, tables.CodeInvalidRecord, []string{`"NaN"`}},
		{`{"records":[{"time":1,"measures":{"n":{"type":"varchar","value":1}}}]}`, tables.CodeInvalidRecord, []string{"want a string for a varchar, got a number"}},
		{`{"records":[{"time":1,"measures":{"n":{"value":[1],"type":"double"}}}]}`, tables.CodeInvalidRecord, []string{"records[0].measures.n: want a number, string or boolean"}},
		{`{"records":[{"time":1,"measures":{"a.b":1e400}}]}`, tables.CodeInvalidRecord, []string{`records[0].measures["a.b"]: 1e400 is beyond the range of a double`}},
		{`{"records":[{"time":1,"dimensions":{"port":8080}}]}`, tables.CodeInvalidRecord, []string{"records[0].dimensions.port: want a string, got a number"}},
		{`{"records":[{"time":1,"measureName":"x","measures":{"":1}}]}`, tables.CodeInvalidRecord, []string{"records[0].measures: a measure needs a name"}},
		{`{"records":[{"time":1,"dimensions":{"h":"a","h":"b"}}]}`, "MalformedJSON", []string{`dimension "h" appears twice`}},
		{`{"records":[{"time":1,"measures":{"m":1,"m":2}}]}`, "MalformedJSON", []string{`measure "m" appears twice`}},
		{`{"records":[{"time":1,"time":2}]}`, "MalformedJSON", []string{`records[0]: field "time" appears twice`}},
		{`{"records":[]} x`, "MalformedJSON", []string{"unexpected data after the JSON object"}},
		{`{"records":[{"time":1,"value":"` + "\xff" + `"}]}`, "MalformedJSON", []string{"not valid UTF-8"}},
		{`{"records":[{"time":01}]}`, "MalformedJSON", []string{"byte offset 21"}},
		{`{"records":[{"time":1,"value":-}]}`, "MalformedJSON", []string{"malformed number"}},
		{`{"records":[{"time":1,"value":1.}]}`, "MalformedJSON", []string{"a digit must follow '.'"}},
		{`{"records":[{"time":1,"value":tru}]}`, "MalformedJSON", []string{"invalid literal"}},
		{`{"records":[{"time":1,"value":"a\qb"}]}`, "MalformedJSON", []string{`invalid escape \q`}},
		{`{"records":[{"time":1`, "MalformedJSON", []string{"ends early"}},
		{many, tables.CodeTooManyRecords, []string{"at most 10000 records"}},
	} {
		var d writeDecoder
		_, err := d.decode([]byte(tc.body))
		e, ok := apierr.As(err)
		if !ok || e.Code != tc.code || e.Kind != apierr.Invalid {
			t.Errorf("%.80s: got %v, want %s", tc.body, err, tc.code)
			continue
		}
		for _, p := range tc.parts {
			if !strings.Contains(e.Message, p) {
				t.Errorf("%.80s: message %q does not say %q", tc.body, e.Message, p)
			}
		}
	}
}

// TestDecodeWriteKeepsMemory checks that a second decode leaves the first one's records
// alone: the writer may keep them.
func TestDecodeWriteKeepsMemory(t *testing.T) {
	var d writeDecoder
	first, err := d.decode([]byte(`{"records":[{"time":1,"dimensions":{"host":"a\u0062c"},"value":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.decode([]byte(`{"records":[{"time":2,"dimensions":{"host":"zzz"},"value":"yyyy"}]}`)); err != nil {
		t.Fatal(err)
	}
	if r := first.Records[0]; r.Dimensions[0].Value != "abc" || r.Measures[0].Value.S != "x" || cap(r.Dimensions) != 1 {
		t.Fatalf("the first write's record changed: %+v", r)
	}
}

// diffRequests describes how got differs from want, or returns "". Values compare with
// Value.Equal, so NaN equals NaN; an empty slice equals a nil one.
func diffRequests(want, got *tables.WriteRequest) string {
	if d := diffRecords(&want.Common, &got.Common); d != "" {
		return "common: " + d
	}
	if len(want.Records) != len(got.Records) {
		return fmt.Sprintf("%d records, want %d", len(got.Records), len(want.Records))
	}
	for i := range want.Records {
		if d := diffRecords(&want.Records[i], &got.Records[i]); d != "" {
			return fmt.Sprintf("records[%d]: %s", i, d)
		}
	}
	return ""
}

func diffRecords(want, got *tables.Record) string {
	if want.Time != got.Time || want.TimeUnit != got.TimeUnit || want.MeasureName != got.MeasureName || want.Version != got.Version ||
		len(want.Dimensions) != len(got.Dimensions) || len(want.Measures) != len(got.Measures) {
		return fmt.Sprintf("got %+v, want %+v", *got, *want)
	}
	for i := range want.Dimensions {
		if want.Dimensions[i] != got.Dimensions[i] {
			return fmt.Sprintf("dimension %d is %+v, want %+v", i, got.Dimensions[i], want.Dimensions[i])
		}
	}
	for i := range want.Measures {
		w, g := want.Measures[i], got.Measures[i]
		if w.Name != g.Name || !w.Value.Equal(g.Value) {
			return fmt.Sprintf("measure %d is %q=%v (%s), want %q=%v (%s)", i, g.Name, g.Value, g.Value.Type, w.Name, w.Value, w.Value.Type)
		}
	}
	return ""
}

// FuzzDecodeWrite checks that the decoder never panics, that what it accepts
// encoding/json accepts as JSON, and that an accepted body round-trips: encoded again by
// wire.AppendWriteRequest, the client's encoder, it decodes to the same request.
func FuzzDecodeWrite(f *testing.F) {
	f.Add([]byte(exampleWrite))
	f.Add([]byte(`{"records":[{"time":"-12","measures":{"b":{"value":"-9","type":"bigint"},"t":{"type":"timestamp","value":"2026-11-25T10:00:00.5+02:00"},"n":{"type":"double","value":"Infinity"}}}]}`))
	f.Add([]byte(`{"common":{"value":-0.0,"timeUnit":"SECONDS"},"records":[{"time":0,"dimensions":{"h\"o\\st":"\ud83d\ude00\ud800"},"value":"v"},{"time":1,"value":false}]}`))
	f.Add([]byte(`{"records":[{"time":1,"measures":{"x":1e-7,"y":123456789012345678901234567890,"z":null}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var d writeDecoder
		req, err := d.decode(body)
		if err != nil {
			if _, ok := apierr.As(err); !ok {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		again := wire.AppendWriteRequest(nil, req)
		req2, err := d.decode(again)
		if err != nil {
			t.Fatalf("the encoding of an accepted body fails: %v\nbody:    %s\nencoded: %s", err, body, again)
		}
		if diff := diffRequests(req, req2); diff != "" {
			t.Fatalf("round trip: %s\nbody:    %s\nencoded: %s", diff, body, again)
		}
	})
}

// cpuWrite is a write of n cpu-like records: ten dimensions and ten measures each, as
// in the TSBS cpu-only data set.
func cpuWrite(n int) *tables.WriteRequest {
	rng := rand.New(rand.NewPCG(1, 2))
	measures := []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
		"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}
	req := &tables.WriteRequest{Common: tables.Record{MeasureName: "cpu", TimeUnit: tables.Milliseconds}}
	for i := range n {
		host := i % 100
		r := tables.Record{Time: 1764000000000 + int64(i/100)*10_000, Dimensions: dims(
			"hostname", fmt.Sprintf("host_%d", host), "region", "eu-west-1", "datacenter", fmt.Sprintf("eu-west-1%c", 'a'+host%3),
			"rack", fmt.Sprint(host%50), "os", "Ubuntu16.04LTS", "arch", "x64", "team", "SF", "service", fmt.Sprint(host%20),
			"service_version", fmt.Sprint(host%2), "service_environment", "production")}
		for _, m := range measures {
			r.Measures = append(r.Measures, tables.Measure{Name: m, Value: tables.DoubleValue(math.Round(rng.Float64()*10000) / 100)})
		}
		req.Records = append(req.Records, r)
	}
	return req
}

// BenchmarkDecodeWrite decodes a 1000-record cpu-like write body (10 dimensions and 10
// measures a record) and reports records/s, beside encoding/json decoding the same body
// into maps (less work than a full decode, which would also convert the maps): the
// baseline the hand-written decoder replaced.
func BenchmarkDecodeWrite(b *testing.B) {
	body := wire.AppendWriteRequest(nil, cpuWrite(1000))
	var handwritten float64
	b.Run("handwritten", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		var d writeDecoder
		for b.Loop() {
			if _, err := d.decode(body); err != nil {
				b.Fatal(err)
			}
		}
		handwritten = 1000 * float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(handwritten, "records/s")
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		type record struct {
			Time        json.RawMessage   `json:"time"`
			TimeUnit    string            `json:"timeUnit"`
			Dimensions  map[string]string `json:"dimensions"`
			MeasureName string            `json:"measureName"`
			Value       any               `json:"value"`
			Measures    map[string]any    `json:"measures"`
			Version     int64             `json:"version"`
		}
		for b.Loop() {
			var req struct {
				Common  *record  `json:"common"`
				Records []record `json:"records"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				b.Fatal(err)
			}
		}
		rate := 1000 * float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "records/s")
		if handwritten > 0 {
			b.ReportMetric(handwritten/rate, "handwritten/encoding_json")
		}
	})
}

// TestExactDouble checks the decoder's shortcut for short decimals against ParseFloat.
func TestExactDouble(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		digits := 1 + rng.IntN(15)
		var b []byte
		if rng.IntN(2) == 0 {
			b = append(b, '-')
		}
		point := rng.IntN(digits + 1)
		for i := range digits {
			if i == point && i > 0 {
				b = append(b, '.')
			}
			b = append(b, byte('0'+rng.IntN(10)))
		}
		f, ok := exactDouble(b)
		want, err := strconv.ParseFloat(string(b), 64)
		if !ok || err != nil || math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("%s: got %v (%v), ParseFloat says %v", b, f, ok, want)
		}
	}
	for _, s := range []string{"1234567890123456", "1e5", "1.5E-3"} {
		if _, ok := exactDouble([]byte(s)); ok {
			t.Fatalf("%s took the shortcut", s)
		}
	}
}
