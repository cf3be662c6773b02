package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

// caller sends raw HTTP requests to a test server.
type caller struct {
	t     *testing.T
	url   string
	token string
}

func newCaller(t *testing.T, env *servertest.Env) *caller {
	return &caller{t: t, url: env.URL, token: env.Token}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the caller's token, or with the Authorization header given in
// header (an empty one sends none).
func (c *caller) do(method, path, body string, header ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// json sends a request and decodes a 2xx answer into out, failing the test otherwise.
func (c *caller) json(method, path, body string, wantStatus int, out any) {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != wantStatus {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, wantStatus, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
}

// wantError checks an error response's status, code and that its message contains each
// of parts.
func wantError(t *testing.T, r response, status int, code string, parts ...string) {
	t.Helper()
	var e wire.Error
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if r.status != status || e.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", r.status, e.Code, e.Message, status, code)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q", ct)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Fatalf("%s message %q does not mention %q", code, e.Message, p)
		}
	}
}

func TestAuthentication(t *testing.T) {
	env := servertest.Start(t)
	c := newCaller(t, env)

	r := c.do("GET", "/v1/streams", "", "Authorization", "")
	wantError(t, r, 401, "Unauthenticated", "Authorization: Bearer")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	wantError(t, c.do("GET", "/v1/streams", "", "Authorization", "Basic YWRtaW46eA=="), 401, "Unauthenticated", "Bearer <token>")
	wantError(t, c.do("GET", "/v1/streams", "", "Authorization", "Bearer eddy_not-a-token"), 401, "Unauthenticated", "not valid")
	// Unknown API paths do not tell an unauthenticated caller what exists.
	wantError(t, c.do("GET", "/v1/nothing", "", "Authorization", ""), 401, "Unauthenticated")

	fromFile, err := auth.ReadTokenFile(env.DataDir + "/" + auth.AdminTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.do("GET", "/v1/streams", "", "Authorization", "Bearer "+fromFile); r.status != 200 || string(r.body) != "{\"streams\":[]}\n" {
		t.Fatalf("valid token: %d %s", r.status, r.body)
	}

	// Health, readiness and metrics are open.
	if r := c.do("GET", "/healthz", "", "Authorization", ""); r.status != 200 || string(r.body) != "ok\n" {
		t.Fatalf("healthz: %d %q", r.status, r.body)
	}
	if r := c.do("GET", "/readyz", "", "Authorization", ""); r.status != 200 {
		t.Fatalf("readyz: %d %q", r.status, r.body)
	}
	r = c.do("GET", "/metrics", "", "Authorization", "")
	for _, want := range []string{
		`eddy_http_requests_total{code="401",route="GET /v1/streams"} 3`,
		`eddy_http_requests_total{code="200",route="GET /v1/streams"} 1`,
		`eddy_http_request_seconds_count{route="GET /v1/streams"} 4`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Fatalf("metrics lack %s:\n%s", want, r.body)
		}
	}
}

func TestReadyzReportsTheReason(t *testing.T) {
	env := servertest.Start(t)
	srv := server.New(server.Options{Streams: env.Streams, Auth: nopAuth{}, Ready: func(context.Context) error {
		return fmt.Errorf("JetStream is not connected")
	}})
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "JetStream is not connected") {
		t.Fatalf("readyz: %d %q", rec.Code, rec.Body)
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

type nopAuth struct{}

func (nopAuth) Verify(string) (auth.TokenInfo, bool) { return auth.TokenInfo{}, true }

func TestBadRequests(t *testing.T) {
	env := servertest.Start(t)
	c := newCaller(t, env)
	c.json("POST", "/v1/streams", `{"name":"s","shards":2}`, 201, nil)
	var put wire.PutRecordsResponse
	c.json("POST", "/v1/streams/s/records", `{"records":[{"partitionKey":"k","text":"x"}]}`, 200, &put)

	huge := `{"records":[{"partitionKey":"k","data":"` + strings.Repeat("A", 9<<20) + `"}]}`
	tooBigRecord := `{"records":[{"partitionKey":"k","data":"` + base64.StdEncoding.EncodeToString(make([]byte, streams.MaxRecordBytes+1)) + `"}]}`
	var sb strings.Builder
	sb.WriteString(`{"records":[`)
	for i := range 501 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"partitionKey":"k"}`)
	}
	sb.WriteString(`]}`)
	tooMany := sb.String()

	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		status       int
		code         string
		parts        []string
	}{
		{"bad stream name", "POST", "/v1/streams", `{"name":"bad.name"}`, 400, "InvalidStreamName", []string{"bad.name"}},
		{"stream exists", "POST", "/v1/streams", `{"name":"s"}`, 409, "StreamExists", nil},
		{"bad retention", "POST", "/v1/streams", `{"name":"t","retentionHours":1}`, 400, "InvalidRetention", nil},
		{"huge retention", "POST", "/v1/streams", `{"name":"t","retentionHours":9223372036854775807}`, 400, "InvalidRetention", nil},
		{"create unknown field", "POST", "/v1/streams", `{"name":"t","shard":2}`, 400, "UnknownField", []string{`"shard"`}},
		{"create malformed", "POST", "/v1/streams", `{"name":"t",}`, 400, "MalformedJSON", []string{"offset 12"}},
		{"create wrong type", "POST", "/v1/streams", `{"name":"t","shards":"2"}`, 400, "MalformedJSON", []string{"shards", "a number"}},
		{"create empty body", "POST", "/v1/streams", ``, 400, "MalformedJSON", []string{"empty"}},
		{"create trailing data", "POST", "/v1/streams", `{"name":"t"} {}`, 400, "MalformedJSON", []string{"after the JSON object"}},
		{"describe missing", "GET", "/v1/streams/nope", ``, 404, "StreamNotFound", []string{"nope"}},
		{"delete missing", "DELETE", "/v1/streams/nope", ``, 404, "StreamNotFound", nil},
		{"empty update", "PATCH", "/v1/streams/s", `{}`, 400, "EmptyUpdate", nil},
		{"put to missing stream", "POST", "/v1/streams/nope/records", `{"records":[{"partitionKey":"k","text":"x"}]}`, 404, "StreamNotFound", nil},
		{"put malformed", "POST", "/v1/streams/s/records", `{"records":[{"partitionKey":"k" "text":"x"}]}`, 400, "MalformedJSON", []string{"offset 32"}},
		{"put unknown field", "POST", "/v1/streams/s/records", `{"records":[{"partitionKey":"k"},{"key":"k"}]}`, 400, "UnknownField", []string{"record 1", `"key"`}},
		{"put unknown top field", "POST", "/v1/streams/s/records", `{"record":[]}`, 400, "UnknownField", []string{`"record"`}},
		{"put bad base64", "POST", "/v1/streams/s/records", `{"records":[{"partitionKey":"k","data":"AA=="},{"partitionKey":"k","data":"AA=="},{"partitionKey":"k","data":"AA=="},{"partitionKey":"k","data":"not base64!"}]}`, 400, "InvalidBase64", []string{"record 3: data:"}},
		{"put data and text", "POST", "/v1/streams/s/records", `{"records":[{"partitionKey":"k","data":"AA==","text":"x"}]}`, 400, "DataAndText", []string{"record 0"}},
		{"put bad event time", "POST", "/v1/streams/s/records", `{"records":[{"partitionKey":"k","eventTime":"yesterday"}]}`, 400, "InvalidEventTime", []string{"record 0", "yesterday"}},
		{"put empty key", "POST", "/v1/streams/s/records", `{"records":[{"text":"x"}]}`, 400, "InvalidPartitionKey", []string{"record 0"}},
		{"put no records", "POST", "/v1/streams/s/records", `{"records":[]}`, 400, "EmptyPut", nil},
		{"put too many records", "POST", "/v1/streams/s/records", tooMany, 413, "TooManyRecords", nil},
		{"put record too large", "POST", "/v1/streams/s/records", tooBigRecord, 413, "RecordTooLarge", []string{"record 0"}},
		{"body too large", "POST", "/v1/streams/s/records", huge, 413, "RequestTooLarge", []string{"8 MiB"}},
		{"create body too large", "POST", "/v1/streams", huge, 413, "RequestTooLarge", nil},
		{"iterator bad type", "POST", "/v1/streams/s/iterators", `{"type":"OLDEST"}`, 400, "InvalidStart", []string{"OLDEST"}},
		{"iterator missing sequence", "POST", "/v1/streams/s/iterators", `{"type":"AT_SEQUENCE"}`, 400, "MissingParameter", []string{"sequenceNumber"}},
		{"iterator bad sequence", "POST", "/v1/streams/s/iterators", `{"type":"AT_SEQUENCE","sequenceNumber":"-1"}`, 400, "InvalidSequenceNumber", nil},
		{"iterator stray timestamp", "POST", "/v1/streams/s/iterators", `{"type":"LATEST","timestamp":"2025-01-01T00:00:00Z"}`, 400, "InvalidParameter", []string{"timestamp"}},
		{"iterator missing shard", "POST", "/v1/streams/s/iterators", `{"shard":"shard-0042"}`, 404, "ShardNotFound", nil},
		{"records without iterator", "GET", "/v1/streams/s/records", ``, 400, "MissingParameter", []string{"iterator"}},
		{"records bad iterator", "GET", "/v1/streams/s/records?iterator=xyz", ``, 400, "InvalidIterator", nil},
		{"records bad limit", "GET", "/v1/streams/s/records?iterator=" + iteratorOf(t, c, "s") + "&limit=many", ``, 400, "InvalidParameter", []string{"limit"}},
		{"records bad wait", "GET", "/v1/streams/s/records?iterator=" + iteratorOf(t, c, "s") + "&wait=soon", ``, 400, "InvalidParameter", []string{"wait"}},
		{"records wait too long", "GET", "/v1/streams/s/records?iterator=" + iteratorOf(t, c, "s") + "&wait=2m", ``, 400, "InvalidWait", nil},
		{"subscribe bad format", "GET", "/v1/streams/s/subscribe?format=xml", ``, 400, "InvalidParameter", []string{"format"}},
		{"subscribe bad timestamp", "GET", "/v1/streams/s/subscribe?type=AT_TIMESTAMP&timestamp=noon", ``, 400, "InvalidParameter", []string{"timestamp"}},
		{"subscribe missing stream", "GET", "/v1/streams/nope/subscribe", ``, 404, "StreamNotFound", nil},
		{"unknown endpoint", "GET", "/v1/tables", ``, 404, "UnknownEndpoint", []string{"/v1/tables"}},
		{"wrong method", "PUT", "/v1/streams/s", `{}`, 405, "MethodNotAllowed", []string{"PUT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.body)
			wantError(t, r, tc.status, tc.code, tc.parts...)
			if tc.status == 405 && !strings.Contains(r.header.Get("Allow"), "PATCH") {
				t.Fatalf("405 Allow header %q", r.header.Get("Allow"))
			}
		})
	}

	// An iterator of one stream does not read another.
	c.json("POST", "/v1/streams", `{"name":"other"}`, 201, nil)
	wantError(t, c.do("GET", "/v1/streams/other/records?iterator="+iteratorOf(t, c, "s"), ""), 400, "InvalidIterator", `"s"`, `"other"`)

	// Nothing of the rejected puts was stored.
	var d wire.StreamDescription
	c.json("GET", "/v1/streams/s", "", 200, &d)
	if d.Records != 1 {
		t.Fatalf("stream holds %d records, want the 1 valid put", d.Records)
	}
}

func iteratorOf(t *testing.T, c *caller, stream string) string {
	t.Helper()
	var it wire.GetIteratorResponse
	c.json("POST", "/v1/streams/"+stream+"/iterators", `{"type":"TRIM_HORIZON"}`, 200, &it)
	return it.Iterator
}

func TestSequenceTrimmedIsGone(t *testing.T) {
	env := servertest.StartWith(t, servertest.Options{Streams: streams.Options{MinRetention: time.Second}})
	ctx := context.Background()
	if _, err := env.Streams.Create(ctx, "short", streams.Config{Retention: time.Second}); err != nil {
		t.Fatal(err)
	}
	c := newCaller(t, env)
	var put wire.PutRecordsResponse
	c.json("POST", "/v1/streams/short/records", `{"records":[{"partitionKey":"k","text":"x"}]}`, 200, &put)
	body := `{"shard":"shard-0000","type":"AT_SEQUENCE","sequenceNumber":"` + put.Records[0].SequenceNumber + `"}`
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.do("POST", "/v1/streams/short/iterators", body)
		if r.status != 200 {
			wantError(t, r, 410, "SequenceTrimmed")
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("record still readable 10s after its 1s retention")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStoreFullFailsRecordsNotTheRequest(t *testing.T) {
	env := servertest.StartWith(t, servertest.Options{MaxStore: 4 << 20})
	c := newCaller(t, env)
	c.json("POST", "/v1/streams", `{"name":"full"}`, 201, nil)
	body := `{"records":[{"partitionKey":"k","data":"` + base64.StdEncoding.EncodeToString(make([]byte, 512<<10)) + `"}]}`
	for i := 0; i < 16; i++ {
		var put wire.PutRecordsResponse
		c.json("POST", "/v1/streams/full/records", body, 200, &put)
		if put.FailedCount == 1 {
			if r := put.Records[0]; r.ErrorCode != "StoreFull" || r.ErrorMessage == "" || r.SequenceNumber != "" {
				t.Fatalf("failed record: %+v", r)
			}
			return
		}
	}
	t.Fatal("8 MiB of puts into a 4 MiB store all succeeded")
}

// stubStreams fails every Describe with the error registered under the stream's name.
type stubStreams struct {
	server.StreamsAPI
	errs map[string]error
}

func (s stubStreams) Describe(_ context.Context, name string) (streams.Info, error) {
	return streams.Info{}, s.errs[name]
}

func TestErrorStatusForEveryKind(t *testing.T) {
	errs := map[string]error{"internal": fmt.Errorf("disk on fire")}
	want := map[string]int{"internal": 500}
	for kind, status := range map[apierr.Kind]int{
		apierr.Invalid: 400, apierr.NotFound: 404, apierr.Conflict: 409, apierr.TooLarge: 413, apierr.Gone: 410,
		apierr.StorageFull: 507, apierr.Unavailable: 503, apierr.Unauthenticated: 401, apierr.Forbidden: 403, apierr.Timeout: 504,
	} {
		name := fmt.Sprintf("kind%d", kind)
		errs[name] = fmt.Errorf("describe: %w", apierr.New(kind, "Code"+name, "message %s", name))
		want[name] = status
	}
	var logs bytes.Buffer
	srv := server.New(server.Options{Streams: stubStreams{errs: errs}, Auth: nopAuth{}, Logger: slogTo(&logs)})
	for name, status := range want {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v1/streams/"+name, nil)
		req.Header.Set("Authorization", "Bearer any")
		srv.Handler().ServeHTTP(rec, req)
		var e wire.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		wantCode := "Code" + name
		if name == "internal" {
			wantCode = "InternalFailure"
		}
		if rec.Code != status || e.Code != wantCode {
			t.Errorf("%s: got %d %s, want %d %s", name, rec.Code, e.Code, status, wantCode)
		}
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("an internal failure was not logged: %q", logs.String())
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	env := servertest.Start(t)
	c := newCaller(t, env)
	var created wire.StreamDescription
	r := c.do("POST", "/v1/streams", `{"name":"orders","shards":3}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	if created.OpenShards != 3 || created.RetentionHours != 24 || len(created.Shards) != 3 || created.Shards[2].HashKeyEnd != "18446744073709551615" {
		t.Fatalf("created: %+v", created)
	}
	if strings.Contains(string(r.body), `"oldest"`) {
		t.Fatalf("an empty stream reports an oldest record: %s", r.body)
	}

	var list wire.ListStreamsResponse
	c.json("GET", "/v1/streams", "", 200, &list)
	if len(list.Streams) != 1 || list.Streams[0].Name != "orders" || list.Streams[0].OpenShards != 3 {
		t.Fatalf("list: %+v", list)
	}

	eventTime := time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.UTC)
	req := wire.PutRecordsRequest{Records: []wire.PutRecord{
		{PartitionKey: "card-1", Data: []byte{0, 1, 2, 255}},
		{PartitionKey: "card-2", Text: "héllo \"world\"\n", EventTime: eventTime},
		{PartitionKey: "card-1", Text: "second", ProducerID: "tx-1"},
		{PartitionKey: "card-3"},
	}}
	body, _ := json.Marshal(req)
	var put wire.PutRecordsResponse
	c.json("POST", "/v1/streams/orders/records", string(body), 200, &put)
	if put.FailedCount != 0 || len(put.Records) != 4 {
		t.Fatalf("put: %+v", put)
	}
	// A repeat of a producer id is reported as a duplicate of the first copy.
	var again wire.PutRecordsResponse
	c.json("POST", "/v1/streams/orders/records", `{"records":[{"partitionKey":"card-1","text":"second","producerId":"tx-1"}]}`, 200, &again)
	if !again.Records[0].Duplicate || again.Records[0].SequenceNumber != put.Records[2].SequenceNumber {
		t.Fatalf("repeat: %+v, first: %+v", again.Records[0], put.Records[2])
	}

	// Reading the whole stream returns every record once, as put.
	var it wire.GetIteratorResponse
	c.json("POST", "/v1/streams/orders/iterators", `{"type":"TRIM_HORIZON"}`, 200, &it)
	var got wire.GetRecordsResponse
	c.json("GET", "/v1/streams/orders/records?iterator="+it.Iterator+"&limit=10", "", 200, &got)
	if len(got.Records) != 4 {
		t.Fatalf("read %d records: %+v", len(got.Records), got)
	}
	bySeq := map[string]wire.Record{}
	for _, r := range got.Records {
		bySeq[r.SequenceNumber] = r
	}
	for i, pr := range req.Records {
		rec, ok := bySeq[put.Records[i].SequenceNumber]
		if !ok {
			t.Fatalf("record %d (%s) not read back", i, put.Records[i].SequenceNumber)
		}
		data := pr.Data
		if pr.Text != "" {
			data = []byte(pr.Text)
		}
		if rec.PartitionKey != pr.PartitionKey || !bytes.Equal(rec.Data, data) || rec.ProducerID != pr.ProducerID ||
			!rec.EventTime.Equal(pr.EventTime) || rec.Shard != put.Records[i].Shard || rec.ArrivalTime.IsZero() {
			t.Fatalf("record %d read back as %+v, put %+v", i, rec, pr)
		}
	}
	if !strings.Contains(string(c.do("GET", "/v1/streams/orders/records?iterator="+it.Iterator, "").body), `"data":""`) {
		t.Fatal("an empty record's data should read back as \"\", not null")
	}

	// A long poll from the end returns a record put while it waits.
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = env.Streams.Put(context.Background(), "orders", []streams.Record{{PartitionKey: "late", Data: []byte("late")}})
	}()
	var next wire.GetRecordsResponse
	c.json("GET", "/v1/streams/orders/records?iterator="+got.NextIterator+"&wait=10s", "", 200, &next)
	if len(next.Records) != 1 || string(next.Records[0].Data) != "late" {
		t.Fatalf("long poll: %+v", next)
	}

	// Per-shard iterators start where they are told.
	var at wire.GetIteratorResponse
	c.json("POST", "/v1/streams/orders/iterators", `{"shard":"`+put.Records[0].Shard+`","type":"AFTER_SEQUENCE","sequenceNumber":"`+put.Records[0].SequenceNumber+`"}`, 200, &at)
	var after wire.GetRecordsResponse
	c.json("GET", "/v1/streams/orders/records?iterator="+at.Iterator, "", 200, &after)
	for _, r := range after.Records {
		if r.SequenceNumber == put.Records[0].SequenceNumber || r.Shard != put.Records[0].Shard {
			t.Fatalf("AFTER_SEQUENCE returned %+v", r)
		}
	}

	var d wire.StreamDescription
	c.json("GET", "/v1/streams/orders", "", 200, &d)
	if d.Records != 5 || d.Oldest.IsZero() || d.Newest.Before(d.Oldest) {
		t.Fatalf("describe: %+v", d)
	}

	c.json("PATCH", "/v1/streams/orders", `{"retentionHours":48,"shards":4}`, 200, &d)
	if d.RetentionHours != 48 || d.OpenShards != 4 || len(d.Shards) != 7 || len(d.Shards[6].Parents) == 0 || !d.Shards[0].Closed {
		t.Fatalf("after update: %+v", d)
	}

	if r := c.do("DELETE", "/v1/streams/orders", ""); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, c.do("GET", "/v1/streams/orders", ""), 404, "StreamNotFound")
}

// subscription reads a streaming response line by line.
type subscription struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
}

func (c *caller) subscribe(path string, header ...string) *subscription {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("subscribe: %d %s", resp.StatusCode, b)
	}
	return &subscription{t: c.t, resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// line returns the next line, failing the test if none comes within 10 s.
func (s *subscription) line() string {
	s.t.Helper()
	got := make(chan bool, 1)
	go func() { got <- s.sc.Scan() }()
	select {
	case ok := <-got:
		if !ok {
			s.t.Fatalf("subscription ended: %v", s.sc.Err())
		}
		return s.sc.Text()
	case <-time.After(10 * time.Second):
		s.t.Fatal("no line from the subscription in 10s")
		return ""
	}
}

func putTexts(t *testing.T, c *caller, stream string, texts ...string) wire.PutRecordsResponse {
	t.Helper()
	var req wire.PutRecordsRequest
	for _, s := range texts {
		req.Records = append(req.Records, wire.PutRecord{PartitionKey: "k", Text: s})
	}
	body, _ := json.Marshal(req)
	var put wire.PutRecordsResponse
	c.json("POST", "/v1/streams/"+stream+"/records", string(body), 200, &put)
	return put
}

func TestSubscribeServerSentEvents(t *testing.T) {
	env := servertest.Start(t)
	c := newCaller(t, env)
	c.json("POST", "/v1/streams", `{"name":"live","shards":2}`, 201, nil)
	putTexts(t, c, "live", "before")

	sub := c.subscribe("/v1/streams/live/subscribe")
	if ct := sub.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	putTexts(t, c, "live", "a", "b")
	// Both records come from one read: the first event has data only, the last one
	// also the iterator to resume from.
	var lastID string
	var texts []string
	for len(texts) < 2 {
		line := sub.line()
		switch {
		case strings.HasPrefix(line, "id: "):
			lastID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			var r wire.Record
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r); err != nil {
				t.Fatal(err)
			}
			texts = append(texts, string(r.Data))
		case line == "":
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	if strings.Join(texts, ",") != "a,b" || lastID == "" {
		t.Fatalf("got %v, id %q; the record put before subscribing must not appear", texts, lastID)
	}

	// A reconnecting EventSource sends the last id and continues after it.
	putTexts(t, c, "live", "c")
	resumed := c.subscribe("/v1/streams/live/subscribe", "Last-Event-ID", lastID)
	for {
		line := resumed.line()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var r wire.Record
			_ = json.Unmarshal([]byte(data), &r)
			if string(r.Data) != "c" {
				t.Fatalf("resumed at %q, want c", r.Data)
			}
			break
		}
	}

	// Drain ends the subscription with an error event, so shutdown need not wait.
	env.Server.Drain()
	for {
		line := sub.line()
		if line == "event: error" {
			var end wire.SubscriptionEnd
			if err := json.Unmarshal([]byte(strings.TrimPrefix(sub.line(), "data: ")), &end); err != nil || end.Error == nil || end.Error.Code != "ShuttingDown" {
				t.Fatalf("end event: %+v %v", end, err)
			}
			break
		}
	}
}

func TestSubscribeNDJSON(t *testing.T) {
	env := servertest.Start(t)
	c := newCaller(t, env)
	c.json("POST", "/v1/streams", `{"name":"nd"}`, 201, nil)
	put := putTexts(t, c, "nd", "x", "y")

	for _, sub := range []*subscription{
		c.subscribe("/v1/streams/nd/subscribe?type=TRIM_HORIZON", "Accept", "application/x-ndjson"),
		c.subscribe("/v1/streams/nd/subscribe?shard=shard-0000&type=AT_SEQUENCE&sequenceNumber=" + put.Records[1].SequenceNumber + "&format=ndjson"),
	} {
		if ct := sub.resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Fatalf("content type %q", ct)
		}
		var r wire.Record
		if err := json.Unmarshal([]byte(sub.line()), &r); err != nil {
			t.Fatal(err)
		}
		if r.SequenceNumber != put.Records[0].SequenceNumber && r.SequenceNumber != put.Records[1].SequenceNumber {
			t.Fatalf("first record %+v", r)
		}
	}

	// A subscription to a shard closed by a reshard ends after its last record.
	c.json("PATCH", "/v1/streams/nd", `{"shards":2}`, 200, nil)
	sub := c.subscribe("/v1/streams/nd/subscribe?shard=shard-0000&type=TRIM_HORIZON&format=ndjson")
	var got []string
	for range 2 {
		var r wire.Record
		if err := json.Unmarshal([]byte(sub.line()), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, string(r.Data))
	}
	if end := sub.line(); strings.Join(got, ",") != "x,y" || end != `{"shardEnded":true}` {
		t.Fatalf("closed shard: records %v, then %q", got, end)
	}
	if sub.sc.Scan() {
		t.Fatalf("line after the end: %q", sub.sc.Text())
	}
}
