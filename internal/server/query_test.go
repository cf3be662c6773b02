package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/sql"
)

// startQuery starts a server whose query endpoints run on a real engine holding an eddy
// database "fleet" with a table "readings".
func startQuery(t *testing.T) *caller {
	t.Helper()
	e, err := sql.Open(sql.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, s := range []string{
		`CREATE SCHEMA _eddy_mem`,
		`CREATE SCHEMA fleet`,
		`CREATE VIEW fleet.readings AS SELECT * FROM (VALUES
			(TIMESTAMP '2026-01-02 03:04:05.5', 'h1', 'cpu', 0.5),
			(TIMESTAMP '2026-01-02 03:04:06', 'h2', 'cpu', 'nan'::DOUBLE)) t(time, host, measure_name, usage)`,
	} {
		if _, err := e.DB().Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	env := servertest.StartWith(t, servertest.Options{Query: e})
	return newCaller(t, env)
}

func TestQueryEndpoint(t *testing.T) {
	c := startQuery(t)

	r := c.do("POST", "/v1/query", `{"query": "SHOW DATABASES"}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"columns":[{"name":"database","type":"VARCHAR"}],"rows":[["fleet"]],"nextToken":""`) {
		t.Fatalf("SHOW DATABASES: %d %s", r.status, r.body)
	}
	r = c.do("POST", "/v1/query", `{"query": "SELECT time, host, usage, 2::DECIMAL(4,1) AS d, 18446744073709551615::UBIGINT AS u FROM fleet.readings ORDER BY time"}`)
	if want := `"rows":[["2026-01-02T03:04:05.5Z","h1",0.5,2,"18446744073709551615"],["2026-01-02T03:04:06Z","h2","NaN",2,"18446744073709551615"]]`; r.status != 200 || !strings.Contains(string(r.body), want) {
		t.Fatalf("SELECT: %d %s\nwant %s", r.status, r.body, want)
	}

	// Paging: a token reads the next page until the last, which has none.
	var page wire.QueryResponse
	c.json("POST", "/v1/query", `{"query": "SELECT * FROM range(25) t(i)", "pageSize": 10}`, 200, &page)
	sizes := []int{len(page.Rows)}
	for page.NextToken != "" {
		token := page.NextToken
		page = wire.QueryResponse{}
		c.json("POST", "/v1/query", `{"nextToken": "`+token+`"}`, 200, &page)
		sizes = append(sizes, len(page.Rows))
	}
	if len(sizes) != 3 || sizes[0] != 10 || sizes[2] != 5 || page.Stats.Rows != 25 || page.Columns[0] != (wire.QueryColumn{Name: "i", Type: "BIGINT"}) {
		t.Fatalf("pages of %v rows; last %+v", sizes, page)
	}

	wantError(t, c.do("POST", "/v1/query", `{"query": "SELEC 1"}`), 400, "InvalidQuery", "syntax error")
	wantError(t, c.do("POST", "/v1/query", `{"query": "SELECT * FROM fleet.nope"}`), 400, "InvalidQuery", "nope")
	wantError(t, c.do("POST", "/v1/query", `{"query": "DROP VIEW fleet.readings"}`), 400, "InvalidQuery", "read-only")
	wantError(t, c.do("POST", "/v1/query", `{"query": "SELECT 1; SELECT 2"}`), 400, "InvalidQuery", "one statement")
	wantError(t, c.do("POST", "/v1/query", `{}`), 400, "MissingParameter", "query")
	wantError(t, c.do("POST", "/v1/query", `{"query": "SELECT 1", "nextToken": "abc"}`), 400, "InvalidParameter", "nextToken")
	wantError(t, c.do("POST", "/v1/query", `{"query": "SELECT 1", "timeoutMs": -1}`), 400, "InvalidParameter", "timeoutMs")
	wantError(t, c.do("POST", "/v1/query", `{"query": "SELECT 1", "limit": 3}`), 400, "UnknownField", "limit")
	wantError(t, c.do("POST", "/v1/query", `{"nextToken": "bm9wZS4x"}`), 410, "NextTokenExpired")
	wantError(t, c.do("POST", "/v1/query", `{"nextToken": "???"}`), 400, "InvalidNextToken")
	wantError(t, c.do("DELETE", "/v1/queries/nope", ""), 404, "QueryNotFound")
	wantError(t, c.do("POST", "/v1/query", `{"query": "SELECT 1"}`, "Authorization", ""), 401, "Unauthenticated")
}

const heavyQuery = `{"query": "SELECT count(*) FROM (SELECT i, count(*) FROM range(50000000) t(i) GROUP BY i)", "timeoutMs": %d, "queryId": "heavy"}`

func TestQueryTimeoutAndCancel(t *testing.T) {
	c := startQuery(t)
	wantError(t, c.do("POST", "/v1/query", strings.Replace(heavyQuery, "%d", "300", 1)), 504, "QueryTimeout", "ran longer than 300ms, its timeout")

	done := make(chan response, 1)
	go func() { done <- c.do("POST", "/v1/query", strings.Replace(heavyQuery, "%d", "60000", 1)) }()
	// Cancel as soon as the query runs: until then the ID is unknown.
	for {
		r := c.do("DELETE", "/v1/queries/heavy", "")
		if r.status == 204 {
			break
		}
		wantError(t, r, 404, "QueryNotFound")
		time.Sleep(5 * time.Millisecond)
	}
	wantError(t, <-done, 409, "QueryCancelled", "heavy")

	// An open result is dropped by the same call.
	var page wire.QueryResponse
	c.json("POST", "/v1/query", `{"query": "SELECT * FROM range(25)", "pageSize": 10}`, 200, &page)
	if r := c.do("DELETE", "/v1/queries/"+page.QueryID, ""); r.status != 204 {
		t.Fatalf("drop an open result: %d %s", r.status, r.body)
	}
	wantError(t, c.do("POST", "/v1/query", `{"nextToken": "`+page.NextToken+`"}`), 410, "NextTokenExpired")
}
