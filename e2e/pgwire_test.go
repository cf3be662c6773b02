package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// pgAddrLog finds the PostgreSQL listener's address in the server's start-up log line.
var pgAddrLog = regexp.MustCompile(`\bpg=(\S+)`)

// psqlBinary returns the path of psql. CI installs it (.ci/install), so a missing psql
// fails the test there; EDDY_SKIP_PSQL=1 skips it on a machine without one.
func psqlBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("psql")
	if err == nil {
		return path
	}
	if os.Getenv("EDDY_SKIP_PSQL") == "1" {
		t.Skip("psql is not installed and EDDY_SKIP_PSQL=1")
	}
	t.Fatalf("psql is not installed: run .ci/install (apt-get install postgresql-client), or set EDDY_SKIP_PSQL=1 to skip this test")
	return ""
}

// TestPsqlQueriesTables runs the real psql against the real eddy binary serving the
// PostgreSQL wire protocol: queries, \dt and \d on a table written over HTTP.
func TestPsqlQueriesTables(t *testing.T) {
	psql := psqlBinary(t)
	p := startEddy(t, t.TempDir(), "--pg-addr", "127.0.0.1:0")
	// The log line is written before the "serving" line startEddy waits for, but reaches
	// the log buffer through a pipe of its own.
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; time.Sleep(20 * time.Millisecond) {
		if m = pgAddrLog.FindStringSubmatch(p.logs.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no pg= address in the start-up log:\n%s", p.logs)
		}
	}
	host, port, err := net.SplitHostPort(m[1])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := p.client(t)
	if _, err := c.CreateDatabase(ctx, "fleet"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable(ctx, "fleet", wire.CreateTableRequest{Name: "cpu"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	var recs []map[string]any
	for i := range 10 {
		recs = append(recs, map[string]any{
			"time": now.Add(-time.Duration(i) * time.Minute).UnixMilli(), "dimensions": map[string]string{"host": "truck-" + fmt.Sprint(i%2)},
			"measureName": "cpu", "measures": map[string]any{"usage": float64(i) + 0.5},
		})
	}
	if _, err := writeRecords(p, "fleet", "cpu", map[string]any{"records": recs}); err != nil {
		t.Fatal(err)
	}
	token, err := auth.ReadTokenFile(filepath.Join(p.DataDir, auth.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}

	run := func(password string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(psql, append([]string{"-X", "-h", host, "-p", port, "-U", "grafana", "-d", "fleet", "-v", "ON_ERROR_STOP=1", "-A", "-t"}, args...)...)
		cmd.Env = append(cleanEnv(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=prefer")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return strings.TrimSpace(stdout.String()), stderr.String(), err
	}
	// Written rows are queryable within a second, not at once.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, stderr, err := run(token, "-c", "SELECT count(*) FROM fleet.cpu")
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, stderr)
		}
		if out == "10" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the table holds %s rows, want 10", out)
		}
	}
	for _, c := range []struct{ args []string }{
		{[]string{"-c", "SELECT count(*), round(sum(usage), 1) FROM fleet.cpu"}},
		{[]string{"-c", "SELECT host, count(*) FROM fleet.cpu GROUP BY host ORDER BY host"}},
		{[]string{"-c", "SHOW server_version", "-c", "SELECT version()", "-c", "SET application_name = 'x'", "-c", "BEGIN", "-c", "SELECT current_schema()", "-c", "COMMIT"}},
		{[]string{"-c", `\dt`}},
		{[]string{"-c", `\d fleet.cpu`}},
	} {
		out, stderr, err := run(token, c.args...)
		if err != nil {
			t.Fatalf("psql %v: %v\n%s%s", c.args, err, out, stderr)
		}
		var want []string
		switch c.args[1] {
		case "SELECT count(*), round(sum(usage), 1) FROM fleet.cpu":
			want = []string{"10|50"}
		case "SELECT host, count(*) FROM fleet.cpu GROUP BY host ORDER BY host":
			want = []string{"truck-0|5\ntruck-1|5"}
		case "SHOW server_version":
			want = []string{"15.0\nPostgreSQL 15.0 (eddy; SQL by DuckDB)\nSET\nBEGIN\nmain\nCOMMIT"}
		case `\dt`:
			want = []string{"fleet|cpu|table|eddy"}
		case `\d fleet.cpu`:
			want = []string{"time|timestamp without time zone", "host|text", "usage|double precision"}
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("psql %v: output lacks %q:\n%s", c.args, w, out)
			}
		}
	}

	out, stderr, err := run(token, "-c", "INSERT INTO fleet.cpu VALUES (1)")
	if err == nil || !strings.Contains(stderr, "read-only") {
		t.Errorf("INSERT: %v, %q%s", err, out, stderr)
	}
	_, stderr, err = run("eddy_wrong")
	if err == nil || !strings.Contains(stderr, "password authentication failed") {
		t.Errorf("a wrong token: %v, %s", err, stderr)
	}
}
