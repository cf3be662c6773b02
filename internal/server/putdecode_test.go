package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

// decodePutReference decodes a put body with encoding/json: the straightforward
// decoder putDecoder replaced, kept as the oracle it must agree with.
func decodePutReference(body []byte) ([]streams.Record, error) {
	var req struct {
		Records []struct {
			PartitionKey string  `json:"partitionKey"`
			Data         *string `json:"data"`
			Text         *string `json:"text"`
			ProducerID   string  `json:"producerId"`
			EventTime    *string `json:"eventTime"`
		} `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	recs := make([]streams.Record, len(req.Records))
	for i, r := range req.Records {
		recs[i] = streams.Record{PartitionKey: r.PartitionKey, ProducerID: r.ProducerID, Data: []byte{}}
		switch {
		case r.Data != nil && r.Text != nil:
			return nil, fmt.Errorf("record %d: data and text", i)
		case r.Data != nil:
			b, err := base64.StdEncoding.DecodeString(*r.Data)
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			recs[i].Data = b
		case r.Text != nil:
			recs[i].Data = []byte(*r.Text)
		}
		if r.EventTime != nil {
			t, err := time.Parse(time.RFC3339Nano, *r.EventTime)
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			recs[i].EventTime = t
		}
	}
	return recs, nil
}

func TestPutDecoderAccepts(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []streams.Record
	}{
		{`{"records":[]}`, nil},
		{`{"records":null}`, nil},
		{` {} `, nil},
		{"\t{ \"records\" : [ { \"partitionKey\" : \"k\" , \"text\" : \"v\" } ] }\r\n", []streams.Record{{PartitionKey: "k", Data: []byte("v")}}},
		{`{"records":[{"partitionKey":"k","data":"AAEC/w=="}]}`, []streams.Record{{PartitionKey: "k", Data: []byte{0, 1, 2, 255}}}},
		{`{"records":[{"partitionKey":"k","data":""}]}`, []streams.Record{{PartitionKey: "k", Data: []byte{}}}},
		{`{"records":[{"partitionKey":"k","data":"AAEC\/w=="}]}`, []streams.Record{{PartitionKey: "k", Data: []byte{0, 1, 2, 255}}}},
		{`{"records":[{"partitionKey":"k","data":"AA\u003d="}]}`, []streams.Record{{PartitionKey: "k", Data: []byte{0}}}},
		{`{"records":[{"partitionKey":"k\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x","text":"é😀"}]}`,
			[]streams.Record{{PartitionKey: "k\"\\/\b\f\n\r\té😀\uFFFDx", Data: []byte("é😀")}}},
		{`{"records":[{"partitionKey":"k","data":null,"text":"t","producerId":null,"eventTime":null}]}`, []streams.Record{{PartitionKey: "k", Data: []byte("t")}}},
		{`{"records":[{"eventTime":"2025-01-02T03:04:05.123456789+02:00","producerId":"p-1","partitionKey":"a"},{"partitionKey":"b"}]}`, []streams.Record{
			{PartitionKey: "a", ProducerID: "p-1", Data: []byte{}, EventTime: time.Date(2025, 1, 2, 1, 4, 5, 123456789, time.UTC)},
			{PartitionKey: "b", Data: []byte{}},
		}},
	} {
		var d putDecoder
		got, err := d.decode([]byte(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if !sameRecords(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.body, got, tc.want)
		}
		ref, err := decodePutReference([]byte(tc.body))
		if err != nil || !sameRecords(got, ref) {
			t.Errorf("%s: encoding/json decodes %+v, %v", tc.body, ref, err)
		}
	}
}

func sameRecords(a, b []streams.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.PartitionKey != y.PartitionKey || !bytes.Equal(x.Data, y.Data) || x.ProducerID != y.ProducerID || !x.EventTime.Equal(y.EventTime) {
			return false
		}
	}
	return true
}

func TestPutDecoderRejects(t *testing.T) {
	for _, tc := range []struct {
		body, code, msg string
	}{
		{``, "MalformedJSON", "ends early (byte offset 0): the request body must be a JSON object"},
		{`[]`, "MalformedJSON", "offset 0: the request body must be a JSON object"},
		{`{"records":[]}x`, "MalformedJSON", "offset 14: unexpected data after"},
		{`{"records":[],"records":[]}`, "MalformedJSON", `field "records" appears twice`},
		{`{"Records":[]}`, "UnknownField", `unknown field "Records"`},
		{`{"records":{}}`, "MalformedJSON", "records: want an array, got an object (byte offset 11)"},
		{`{"records":[1]}`, "MalformedJSON", "record 0: want an object, got a number"},
		{`{"records":[{"partitionKey":"k"} {"partitionKey":"k"}]}`, "MalformedJSON", "offset 33: expected ',' or ']' after record 0"},
		{`{"records":[{"partitionKey":"k",}]}`, "MalformedJSON", "offset 32: expected a field name"},
		{`{"records":[{"partitionKey" "k"}]}`, "MalformedJSON", "expected ':'"},
		{`{"records":[{"partitionKey":"k","partitionKey":"j"}]}`, "MalformedJSON", `record 0: field "partitionKey" appears twice`},
		{`{"records":[{"partitionKey":5}]}`, "MalformedJSON", "record 0: partitionKey: want a string, got a number"},
		{`{"records":[{"partitionKey":"k","data":true}]}`, "MalformedJSON", "record 0: data: want a string, got a boolean"},
		{`{"records":[{"partitionKey":"k","key":"v"}]}`, "UnknownField", `record 0: unknown field "key"`},
		{`{"records":[{"partitionKey":"k","data":"AA==","text":"x"}]}`, "DataAndText", "record 0: give data or text"},
		{`{"records":[{"partitionKey":"k","text":"x","data":"AA=="}]}`, "DataAndText", "record 0"},
		{`{"records":[{"partitionKey":"k"},{"partitionKey":"k","data":"AA="}]}`, "InvalidBase64", "record 1: data: illegal base64 at byte"},
		{"{\"records\":[{\"partitionKey\":\"k\",\"data\":\"AA\nAA==\"}]}", "MalformedJSON", "control character 0x0a"},
		{"{\"records\":[{\"partitionKey\":\"k\",\"text\":\"a\x01\"}]}", "MalformedJSON", "control character 0x01"},
		{"{\"records\":[{\"partitionKey\":\"\xff\"}]}", "MalformedJSON", "record 0: partitionKey is not valid UTF-8"},
		{`{"records":[{"partitionKey":"k\x"}]}`, "MalformedJSON", `invalid escape \x`},
		{`{"records":[{"partitionKey":"k\u12"}]}`, "MalformedJSON", `invalid \u escape`},
		{`{"records":[{"partitionKey":"k`, "MalformedJSON", "ends early"},
		{`{"records":[{"partitionKey":"k","eventTime":"2025-01-02"}]}`, "InvalidEventTime", `record 0: eventTime "2025-01-02"`},
	} {
		var d putDecoder
		_, err := d.decode([]byte(tc.body))
		e, ok := apierr.As(err)
		if !ok || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) || e.Kind != apierr.Invalid {
			t.Errorf("%s: got %v, want %s containing %q", tc.body, err, tc.code, tc.msg)
		}
	}
	var body strings.Builder
	body.WriteString(`{"records":[`)
	for i := range streams.MaxRecordsPerPut + 1 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{}`)
	}
	body.WriteString(`]}`)
	var d putDecoder
	if _, err := d.decode([]byte(body.String())); apierr.CodeOf(err) != "TooManyRecords" {
		t.Errorf("501 records: %v", err)
	}
}

func TestPutDecoderReuseKeepsRecordsApart(t *testing.T) {
	var d putDecoder
	first, err := d.decode([]byte(`{"records":[{"partitionKey":"a","text":"one"},{"partitionKey":"b","data":"dHdv"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	key := first[0].PartitionKey
	second, err := d.decode([]byte(`{"records":[{"partitionKey":"zz","text":"three"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if key != "a" || second[0].PartitionKey != "zz" || string(second[0].Data) != "three" || len(second) != 1 {
		t.Fatalf("after reuse: key %q, second %+v", key, second)
	}
}

// FuzzPutDecoder checks that the put decoder accepts nothing encoding/json rejects and,
// when both accept, decodes the same records. (It is stricter, so it may reject what
// encoding/json accepts.)
func FuzzPutDecoder(f *testing.F) {
	for _, s := range []string{
		`{"records":[{"partitionKey":"k","data":"AAEC/w=="}]}`,
		`{"records":[{"partitionKey":"k\u00e9","text":"a\"b","producerId":"p","eventTime":"2025-01-02T03:04:05Z"}]}`,
		`{"records":[{"partitionKey":"k","data":"AA\/A"},{"partitionKey":"j","text":"\ud83d\ude00"}]}`,
		`{"records":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d putDecoder
		got, err := d.decode(body)
		if err != nil {
			if _, ok := apierr.As(err); !ok {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		want, err := decodePutReference(body)
		if err != nil {
			t.Fatalf("accepted what encoding/json rejects (%v): %q", err, body)
		}
		if !sameRecords(got, want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", body, got, want)
		}
	})
}

func TestAppendPutResponseMatchesEncodingJSON(t *testing.T) {
	results := []streams.PutResult{
		{Shard: "shard-0000", Sequence: 1 << 60},
		{Shard: "shard-0001", Sequence: 7, Duplicate: true},
		{Shard: "shard-0002", Err: &apierr.Error{Code: "StoreFull", Message: "full \"disk\" \\ <&> \n\t\x01 é \xff"}},
		{Err: &apierr.Error{Code: "Throttled", Message: ""}},
	}
	got := appendPutResponse(nil, results)
	want := wire.PutRecordsResponse{FailedCount: 2}
	for _, r := range results {
		if r.Err != nil {
			want.Records = append(want.Records, wire.PutRecordResult{Shard: r.Shard, ErrorCode: r.Err.Code, ErrorMessage: r.Err.Message})
		} else {
			want.Records = append(want.Records, wire.PutRecordResult{Shard: r.Shard, SequenceNumber: r.Sequence.String(), Duplicate: r.Duplicate})
		}
	}
	var decoded wire.PutRecordsResponse
	if err := json.Unmarshal(got, &decoded); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	want.Records[2].ErrorMessage = strings.ToValidUTF8(want.Records[2].ErrorMessage, "\uFFFD")
	if !reflect.DeepEqual(decoded, want) {
		t.Fatalf("got  %+v\nwant %+v", decoded, want)
	}
	if !bytes.HasSuffix(got, []byte("}\n")) || !json.Valid(got) {
		t.Fatalf("not one JSON value and a newline: %q", got)
	}
}

// BenchmarkDecodePut decodes a 500-record put of 100-byte records with the put decoder
// and, as the baseline, with encoding/json.
func BenchmarkDecodePut(b *testing.B) {
	var req wire.PutRecordsRequest
	for i := range streams.MaxRecordsPerPut {
		req.Records = append(req.Records, wire.PutRecord{PartitionKey: fmt.Sprintf("device-%08x", i*7919), Data: bytes.Repeat([]byte{byte(i)}, 100)})
	}
	body, _ := json.Marshal(req)
	b.Run("putDecoder", func(b *testing.B) {
		var d putDecoder
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.decode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePutReference(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
