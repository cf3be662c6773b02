package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/sql"
)

// startSQL starts a server with a query engine holding the eddy database fleet.
func startSQL(t *testing.T) *servertest.Env {
	t.Helper()
	e, err := sql.Open(sql.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, s := range []string{
		`CREATE SCHEMA fleet`,
		`CREATE VIEW fleet.readings AS SELECT * FROM (VALUES
			(TIMESTAMP '2026-01-02 03:04:05', 'h1', 'cpu', 0.5),
			(TIMESTAMP '2026-01-02 03:04:06', 'h2', 'cpu', 12.25)) t(time, host, measure_name, usage)`,
	} {
		if _, err := e.DB().Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return servertest.StartWith(t, servertest.Options{Query: e})
}

// runSQL runs `eddy sql args...` against env with stdin.
func runSQL(env *servertest.Env, stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := newSQLCmd()
	cmd.SetArgs(append(args, "--server", env.URL, "--token", env.Token))
	cmd.SetIn(strings.NewReader(stdin))
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestSQLCommand(t *testing.T) {
	env := startSQL(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", "SHOW DATABASES"}, " database\n----------\n fleet\n(1 row)\n"},
		{[]string{"-c", "SELECT host, usage FROM fleet.readings ORDER BY host;"}, "" +
			" host | usage\n" +
			"------+-------\n" +
			" h1   |   0.5\n" +
			" h2   | 12.25\n" +
			"(2 rows)\n"},
		{[]string{"-c", "SELECT time, host FROM fleet.readings ORDER BY host", "--output", "csv"},
			"time,host\n2026-01-02T03:04:05Z,h1\n2026-01-02T03:04:06Z,h2\n"},
		{[]string{"-c", "SELECT host, usage, NULL AS n FROM fleet.readings ORDER BY host", "-o", "json"},
			`{"host":"h1","usage":0.5,"n":null}` + "\n" + `{"host":"h2","usage":12.25,"n":null}` + "\n"},
		// Every page is printed.
		{[]string{"-c", "SELECT * FROM range(5) t(i)", "--page-size", "2", "-o", "csv"}, "i\n0\n1\n2\n3\n4\n"},
	} {
		out, errOut, err := runSQL(env, "", tc.args...)
		if err != nil || out != tc.want {
			t.Errorf("eddy sql %q: %v %s\n got:\n%s\nwant:\n%s", tc.args, err, errOut, out, tc.want)
		}
	}
	_, _, err := runSQL(env, "", "-c", "DROP VIEW fleet.readings")
	if err == nil || !strings.Contains(err.Error(), "InvalidQuery") || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a DROP: %v", err)
	}
	if _, _, err := runSQL(env, "", "-c", "SELECT 1", "-o", "yaml"); err == nil || !strings.Contains(err.Error(), "table or csv or json") {
		t.Errorf("--output yaml: %v", err)
	}
}

func TestSQLReadsStatementsFromStdin(t *testing.T) {
	env := startSQL(t)
	stdin := `SHOW TABLES;
-- a comment; with a semicolon
SELECT 'a;b' AS "x;y",
       2 AS two;
SELEC 3;
\dt fleet
\timing
SELECT 4 AS four`
	out, errOut, err := runSQL(env, stdin, "-o", "csv")
	if err == nil || err.Error() != "1 of 6 statements failed" {
		t.Errorf("err %v", err)
	}
	for _, want := range []string{"database,table\nfleet,readings\n", "x;y,two\na;b,2\n", "table\nreadings\n", "Timing is on.\n", "four\n4\nTime: "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(errOut, "ERROR InvalidQuery: syntax error") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestTablePrinter(t *testing.T) {
	var b bytes.Buffer
	p := newResultPrinter("table", &b, []wire.QueryColumn{{Name: "name", Type: "VARCHAR"}, {Name: "n", Type: "DECIMAL(10,2)"}, {Name: "tags", Type: "VARCHAR[]"}})
	p.rows([][]any{{"plan\nline two", json.Number("1.5"), []any{"a", "b"}}, {"é", nil, nil}})
	p.end()
	want := "" +
		"   name   |  n   |   tags\n" +
		"----------+------+-----------\n" +
		" plan     |  1.5 | [\"a\",\"b\"]\n" +
		" line two |      |\n" +
		" é        | NULL | NULL\n" +
		"(2 rows)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	p = newResultPrinter("table", &b, []wire.QueryColumn{{Name: "a", Type: "INTEGER"}})
	p.end()
	if b.String() != " a\n---\n(0 rows)\n" {
		t.Errorf("an empty result:\n%s", b.String())
	}
}

func TestCSVPrinter(t *testing.T) {
	var b bytes.Buffer
	p := newResultPrinter("csv", &b, []wire.QueryColumn{{Name: "s", Type: "VARCHAR"}, {Name: "m", Type: "MAP(VARCHAR, INTEGER)"}})
	p.rows([][]any{{`say "hi", then`, map[string]any{"k": json.Number("1")}}, {nil, nil}})
	p.end()
	if want := "s,m\n\"say \"\"hi\"\", then\",\"{\"\"k\"\":1}\"\n,\n"; b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		in    string
		stmts []string
		rest  string
	}{
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}, ""},
		{"SELECT 1;\nSELECT", []string{"SELECT 1"}, "\nSELECT"},
		{"SELECT ';' AS \"a;\"; -- x;\n", []string{`SELECT ';' AS "a;"`}, " -- x;\n"},
		{"SELECT 'it''s;'; /* ; */ SELECT 2;", []string{`SELECT 'it''s;'`, "/* ; */ SELECT 2"}, ""},
		{"SELECT 'open;", nil, "SELECT 'open;"},
		{";;  ;", nil, ""},
	} {
		stmts, rest := splitStatements(tc.in)
		if strings.Join(stmts, "|") != strings.Join(tc.stmts, "|") || rest != tc.rest {
			t.Errorf("%q: %q, rest %q; want %q, rest %q", tc.in, stmts, rest, tc.stmts, tc.rest)
		}
	}
}
