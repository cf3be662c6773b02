package server_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What Telegraf does against a fresh eddy: ping, CREATE DATABASE, then write points of
// measurements no table exists for yet.
func TestInfluxClientsStartAgainstEddy(t *testing.T) {
	clock := &testClock{t: time.Now()}
	c, _ := startTablesService(t, clock)

	r := c.do("GET", "/ping", "", "Authorization", "")
	if r.status != 204 || r.header.Get("X-Influxdb-Version") == "" {
		t.Fatalf("ping: %d %v", r.status, r.header)
	}
	if r := c.do("HEAD", "/ping", "", "Authorization", ""); r.status != 204 {
		t.Fatalf("HEAD ping: %d", r.status)
	}

	q := func(stmt string) response {
		return c.do("POST", "/query", "q="+url.QueryEscape(stmt), "Content-Type", "application/x-www-form-urlencoded", "Authorization", "Token "+c.token)
	}
	if r := q(`CREATE DATABASE "telegraf"`); r.status != 200 || string(r.body) != `{"results":[{"statement_id":0}]}`+"\n" && string(r.body) != `{"results":[{"statement_id":0}]}` {
		t.Fatalf("CREATE DATABASE: %d %s", r.status, r.body)
	}
	if r := q(`CREATE DATABASE telegraf`); r.status != 200 {
		t.Fatalf("CREATE DATABASE of an existing database: %d %s", r.status, r.body)
	}
	if r := q(`SHOW DATABASES`); r.status != 200 || !strings.Contains(string(r.body), `["telegraf"]`) || !strings.Contains(string(r.body), `["fleet"]`) {
		t.Fatalf("SHOW DATABASES: %d %s", r.status, r.body)
	}
	if r := q(`SELECT * FROM cpu`); r.status != 400 || !strings.Contains(string(r.body), "/v1/query") {
		t.Fatalf("an InfluxQL SELECT: %d %s", r.status, r.body)
	}
	if r := c.do("POST", "/query?q="+url.QueryEscape("SHOW DATABASES"), "", "Authorization", ""); r.status != 401 {
		t.Fatalf("/query without a token: %d %s", r.status, r.body)
	}

	// Points of two new measurements create their tables.
	ms := clock.Now().UnixMilli()
	body := "cpu,host=a usage_idle=97.5 " + strconv.FormatInt(ms, 10) + "\nmem,host=a used=1024i " + strconv.FormatInt(ms, 10) + "\n"
	if r := c.do("POST", "/write?db=telegraf&precision=ms", body, "Authorization", "Token "+c.token); r.status != 204 {
		t.Fatalf("write to new tables: %d %s", r.status, r.body)
	}
	c.json("GET", "/v1/databases/telegraf/tables/mem", "", 200, nil)
	var res struct {
		Rows [][]any `json:"rows"`
	}
	// Queryable within a second of the acknowledgement.
	deadline := time.Now().Add(time.Second)
	for {
		r := c.do("POST", "/v1/query", `{"query": "SELECT host, used FROM telegraf.mem"}`)
		if r.status == 200 {
			if err := json.Unmarshal(r.body, &res); err != nil || len(res.Rows) > 1 {
				t.Fatalf("the point in the new table: %s", r.body)
			}
			if len(res.Rows) == 1 {
				if res.Rows[0][0] != "a" {
					t.Fatalf("the point in the new table: %s", r.body)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the point is not queryable a second after its write: %d %s", r.status, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A database is not created by a write, as in InfluxDB.
	if r := c.do("POST", "/write?db=nodb", body, "Authorization", "Token "+c.token); r.status != 404 || !strings.Contains(string(r.body), "DatabaseNotFound") {
		t.Fatalf("write to a database that does not exist: %d %s", r.status, r.body)
	}
}
