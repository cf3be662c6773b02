package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/bench/nexmarkbench"
)

func runBenchNexmark(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	cmd := newBenchCmd()
	cmd.SetArgs(append([]string{"nexmark"}, args...))
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.Execute()
	return out.String(), err
}

func TestBenchNexmarkPrintsEachQueryAndSource(t *testing.T) {
	out, err := runBenchNexmark(t, "--query", "q0,q7", "--events", "5000", "--rate", "1000", "--parallelism", "2", "--dir", t.TempDir(), "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep nexmarkbench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, out)
	}
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Query+" "+r.Source)
		if r.Events != 5000 || r.Results == 0 {
			t.Errorf("%s from %s: %d events, %d rows", r.Query, r.Source, r.Events, r.Results)
		}
	}
	if strings.Join(got, ", ") != "q0 memory, q0 stream, q7 memory, q7 stream" || rep.Preload == nil || rep.Parallelism != 2 {
		t.Fatalf("ran %v, preload %+v, parallelism %d", got, rep.Preload, rep.Parallelism)
	}

	table, err := runBenchNexmark(t, "--query", "q5", "--events", "2000", "--source", "memory")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table, "q5  memory") || strings.Contains(table, "stream  ") || strings.Contains(table, "Preload") {
		t.Fatalf("a memory-only run printed:\n%s", table)
	}
}

func TestBenchNexmarkRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--source", "kafka"},
		{"--output", "yaml"},
		{"--query", "q6"},
		{"--events", "0"},
	} {
		if _, err := runBenchNexmark(t, args...); err == nil {
			t.Errorf("eddy bench nexmark %s succeeded", strings.Join(args, " "))
		}
	}
}
