package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// runStream runs `eddy stream args...` against env with stdin, returning what it printed.
func runStream(t *testing.T, env *servertest.Env, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runStreamContext(context.Background(), env, stdin, &bytes.Buffer{}, args...)
}

func runStreamContext(ctx context.Context, env *servertest.Env, stdin string, out interface {
	Write([]byte) (int, error)
	String() string
}, args ...string) (stdout, stderr string, err error) {
	cmd := newStreamCmd()
	if env != nil {
		args = append(args, "--server", env.URL, "--token", env.Token)
	}
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	var errOut bytes.Buffer
	cmd.SetOut(out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func mustRun(t *testing.T, env *servertest.Env, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := runStream(t, env, stdin, args...)
	if err != nil {
		t.Fatalf("eddy stream %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// fields splits the table row starting with first into its columns.
func row(t *testing.T, table, first string) []string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return f
		}
	}
	t.Fatalf("no row %q in\n%s", first, table)
	return nil
}

func TestStreamCommands(t *testing.T) {
	env := servertest.Start(t)

	out := mustRun(t, env, "", "create", "orders", "--shards", "3", "--retention", "48h")
	if r := row(t, out, "stream:"); r[1] != "orders" {
		t.Fatalf("create printed\n%s", out)
	}
	if r := row(t, out, "open"); r[2] != "3" {
		t.Fatalf("create printed\n%s", out)
	}
	if r := row(t, out, "shard-0002"); r[1] != "open" || !strings.HasSuffix(r[5], "-18446744073709551615") {
		t.Fatalf("shard row %v", r)
	}

	out = mustRun(t, env, "", "ls")
	if !strings.HasPrefix(out, "NAME") || !slicesEqual(row(t, out, "orders")[1:3], []string{"3", "48h"}) {
		t.Fatalf("ls printed\n%s", out)
	}

	out = mustRun(t, env, "", "put", "orders", "--key", "card-1", "--event-time", "2025-01-02T03:04:05Z", "first", "second")
	r1, r2 := row(t, out, "1"), row(t, out, "2")
	seq1, err1 := strconv.ParseUint(r1[2], 10, 64)
	seq2, err2 := strconv.ParseUint(r2[2], 10, 64)
	if err1 != nil || err2 != nil || r1[1] != r2[1] || seq1 >= seq2 {
		t.Fatalf("one key's records should land in one shard in order:\n%s", out)
	}

	// Standard input: one record per line, blank lines skipped, over several batches.
	var in strings.Builder
	for i := range 1200 {
		fmt.Fprintf(&in, "line %d\r\n", i)
		if i%100 == 0 {
			in.WriteString("\n")
		}
	}
	out = mustRun(t, env, in.String(), "put", "orders")
	if out != "put 1200 records into stream orders\n" {
		t.Fatalf("put from stdin printed %q", out)
	}

	out = mustRun(t, env, "", "describe", "orders", "-o", "json")
	var d wire.StreamDescription
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("describe -o json: %v\n%s", err, out)
	}
	if d.Records != 1202 || d.RetentionHours != 48 || len(d.Shards) != 3 {
		t.Fatalf("describe: %+v", d)
	}

	out = mustRun(t, env, "", "update", "orders", "--shards", "4", "--retention", "72h")
	if row(t, out, "retention:")[1] != "72h" || row(t, out, "shard-0000")[1] != "closed" || row(t, out, "shard-0006")[6] == "-" {
		t.Fatalf("update printed\n%s", out)
	}
	if _, _, err := runStream(t, env, "", "update", "orders"); err == nil || !strings.Contains(err.Error(), "nothing to update") {
		t.Fatalf("update without changes: %v", err)
	}

	out = mustRun(t, env, "", "delete", "orders")
	if out != "deleted stream orders\n" {
		t.Fatalf("delete printed %q", out)
	}
	_, _, err := runStream(t, env, "", "describe", "orders")
	if err == nil || !strings.Contains(err.Error(), "StreamNotFound") {
		t.Fatalf("describe after delete: %v", err)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestStreamPutIdempotentWithID(t *testing.T) {
	env := servertest.Start(t)
	mustRun(t, env, "", "create", "pay")
	first := mustRun(t, env, "a\nb\n", "put", "pay", "--id", "batch-7", "-o", "json")
	again := mustRun(t, env, "a\nb\n", "put", "pay", "--id", "batch-7", "-o", "json")
	if !strings.Contains(first, `"stored": 2`) || !strings.Contains(again, `"duplicates": 2`) || !strings.Contains(again, `"stored": 0`) {
		t.Fatalf("first put %s, repeat %s", first, again)
	}
	first = mustRun(t, env, "", "put", "pay", "--id", "one", "x")
	again = mustRun(t, env, "", "put", "pay", "--id", "one", "x")
	if r := row(t, again, "1"); len(r) != 4 || r[3] != "(duplicate)" || r[2] != row(t, first, "1")[2] {
		t.Fatalf("a repeated id should be reported as a duplicate of the first put:\n%s\n%s", first, again)
	}
}

func TestStreamPutReportsFailedRecords(t *testing.T) {
	env := servertest.StartWith(t, servertest.Options{MaxStore: 4 << 20})
	mustRun(t, env, "", "create", "full")
	line := strings.Repeat("x", 512<<10) + "\n"
	out, errOut, err := runStream(t, env, strings.Repeat(line, 16), "put", "full")
	if err == nil || !strings.Contains(err.Error(), "of 16 records were not stored") {
		t.Fatalf("put into a full store: %v\n%s", err, out)
	}
	if !strings.Contains(errOut, "StoreFull") || !strings.Contains(errOut, "record 16:") {
		t.Fatalf("failed records should be named on stderr:\n%s", errOut)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStreamTail(t *testing.T) {
	env := servertest.Start(t)
	mustRun(t, env, "", "create", "live", "--shards", "2")
	mustRun(t, env, "", "put", "live", "--key", "k", "old")

	tail := func(args ...string) (*syncBuffer, func() error) {
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			_, _, err := runStreamContext(ctx, env, "", out, append([]string{"tail", "live"}, args...)...)
			done <- err
		}()
		return out, func() error { cancel(); return <-done }
	}
	waitFor := func(out *syncBuffer, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("tail output lacks %q:\n%s", want, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	fromStart, stopFromStart := tail("--from", "TRIM_HORIZON")
	asJSON, stopJSON := tail("-o", "json", "--from", "trim_horizon")
	waitFor(fromStart, "\tk\told\n")
	waitFor(asJSON, `"partitionKey":"k"`)
	latest, stopLatest := tail()
	// Subscribing is asynchronous: keep putting until the LATEST tail sees a record.
	for i := 0; !strings.Contains(latest.String(), "\tnew\n"); i++ {
		mustRun(t, env, "", "put", "live", "--key", "k", "new")
		if i == 100 {
			t.Fatalf("the LATEST tail printed nothing:\n%s", latest.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustRun(t, env, "", "put", "live", "--key", "k", "\x00\x01binary")
	waitFor(fromStart, "\tAAFiaW5hcnk=\n")
	for _, stop := range []func() error{stopFromStart, stopJSON, stopLatest} {
		if err := stop(); err != nil {
			t.Fatalf("an interrupted tail should exit cleanly, got %v", err)
		}
	}
	if strings.Contains(latest.String(), "old") {
		t.Fatalf("the LATEST tail printed a record put before it started:\n%s", latest.String())
	}
	fields := strings.Split(strings.SplitN(fromStart.String(), "\n", 2)[0], "\t")
	if len(fields) != 4 || !strings.HasPrefix(fields[0], "shard-") || fields[2] != "k" || fields[3] != "old" {
		t.Fatalf("tail line %q: want shard, sequence, key, data", fields)
	}
	var rec wire.Record
	if err := json.Unmarshal([]byte(strings.SplitN(asJSON.String(), "\n", 2)[0]), &rec); err != nil || string(rec.Data) != "old" {
		t.Fatalf("json tail line: %+v %v", rec, err)
	}

	if _, _, err := runStream(t, env, "", "tail", "nope"); err == nil || !strings.Contains(err.Error(), "StreamNotFound") {
		t.Fatalf("tail of a missing stream: %v", err)
	}
}

func TestClientFlags(t *testing.T) {
	env := servertest.Start(t)
	// The token is found in the data dir of a local server, without --token.
	t.Setenv("EDDY_TOKEN", "")
	t.Setenv("EDDY_SERVER", env.URL)
	t.Setenv("EDDY_DATA_DIR", env.DataDir)
	if out, errOut, err := runStreamContext(context.Background(), nil, "", &bytes.Buffer{}, "ls"); err != nil || !strings.HasPrefix(out, "NAME") {
		t.Fatalf("ls with the token from EDDY_DATA_DIR: %v %s", err, errOut)
	}
	if _, _, err := runStreamContext(context.Background(), nil, "", &bytes.Buffer{}, "ls", "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("without any token: %v", err)
	}
	// A flag wins over the environment.
	t.Setenv("EDDY_TOKEN", "eddy_wrong")
	if _, _, err := runStreamContext(context.Background(), nil, "", &bytes.Buffer{}, "ls"); err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Fatalf("with a wrong EDDY_TOKEN: %v", err)
	}
	if _, _, err := runStreamContext(context.Background(), nil, "", &bytes.Buffer{}, "ls", "--token", env.Token); err != nil {
		t.Fatalf("--token over EDDY_TOKEN: %v", err)
	}
	if _, _, err := runStreamContext(context.Background(), nil, "", &bytes.Buffer{}, "ls", "--token", env.Token, "-o", "yaml"); err == nil || !strings.Contains(err.Error(), "--output") {
		t.Fatalf("bad --output: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, _, err = runStreamContext(context.Background(), nil, "", &bytes.Buffer{}, "ls", "--server", addr, "--token", env.Token)
	if err == nil || !strings.Contains(err.Error(), "eddy serve") {
		t.Fatalf("no server running: %v", err)
	}
}
